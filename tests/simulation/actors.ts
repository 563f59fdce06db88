/**
 * The actors: producers, consumers (with heartbeats; they crash and restart), admins and
 * dashboard-style readers. Each step of an actor is one public `Queue` operation, chosen from the
 * run's PRNG when the scheduler lets the actor go on; the operation's DynamoDB calls then
 * interleave with everyone else's at the gate.
 *
 * After each operation the actor checks what it was told against what happened:
 * `unexpected-error` (an error the operation's inputs cannot explain), `stranded-claim` (a
 * receive dropped a message whose claim succeeded), `outcome` (an ack or send reported failure
 * although its write applied), and through the model `two-live-holders` and `group-exclusive`.
 */
import * as Cause from "effect/Cause";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Option from "effect/Option";
import type * as Queue from "../../src/services/Queue.ts";
import type { ReceivedMessage } from "../../src/schema/Message.ts";
import type { SimConfig } from "./config.ts";
import type { CallLog } from "./faults.ts";
import type { InvariantName } from "./invariants.ts";
import type { Holding, Model } from "./model.ts";
import { bodyKey, type Observer } from "./observer.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

/** The body of every simulated message: a key unique per send. */
export interface Body {
  readonly k: string;
}

/** One step of an actor: a name (for fault attribution), a description and the operation. */
export interface Step {
  readonly name: string;
  readonly run: (op: number) => Effect.Effect<void>;
}

/** An actor: picks its next step, or ends. */
export interface Actor {
  readonly name: string;
  readonly kind: "producer" | "consumer" | "admin" | "reader";
  /** The current incarnation's thread name. */
  thread: string;
  next(): Step | undefined;
  /** Forgets what the crashed incarnation held (the runner then gives it a new thread name). */
  crashed(): void;
}

/** What every actor shares. */
export interface Ctx {
  readonly rng: () => number;
  readonly config: SimConfig;
  readonly sched: Scheduler;
  readonly model: Model;
  readonly observer: Observer;
  readonly calls: CallLog;
  readonly trace: Trace;
  readonly report: (invariant: InvariantName, detail: string, defect?: string) => void;
}

const pick = <A>(rng: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(rng() * xs.length)]!;

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e
    ? String((e as { _tag: unknown })._tag)
    : "Error";

const describeError = (e: unknown): string => {
  const tag = tagOf(e);
  if (tag === "DynamoDBError") return `DynamoDBError(${(e as { reason: string }).reason})`;
  return tag;
};

/**
 * Runs an operation, tracing its outcome: a typed failure whose tag is not in `allowed` and any
 * defect are `unexpected-error`. Interruption (a crash) passes through.
 */
const attempt = <A, E>(
  ctx: Ctx,
  thread: string,
  what: string,
  effect: Effect.Effect<A, E>,
  allowed: ReadonlyArray<string>,
  show: (a: A) => string = () => "ok",
): Effect.Effect<Either.Either<A, E> | undefined> =>
  Effect.flatMap(Effect.exit(effect), (exit): Effect.Effect<Either.Either<A, E> | undefined> => {
    if (Exit.isSuccess(exit)) {
      ctx.trace.line(`${thread} ${what} → ${show(exit.value)}`);
      return Effect.succeed(Either.right(exit.value));
    }
    if (Cause.isInterruptedOnly(exit.cause)) return Effect.interrupt;
    const failure = Cause.failureOption(exit.cause);
    if (Option.isSome(failure)) {
      const e = failure.value;
      ctx.trace.line(`${thread} ${what} → ${describeError(e)}`);
      if (!allowed.includes(tagOf(e)) && tagOf(e) !== "DynamoDBError") {
        ctx.report("unexpected-error", `${thread} ${what} failed with ${describeError(e)}`);
      }
      return Effect.succeed(Either.left(e));
    }
    ctx.trace.line(`${thread} ${what} → defect`);
    ctx.report(
      "unexpected-error",
      `${thread} ${what} died: ${Cause.pretty(exit.cause).split("\n")[0]}`,
    );
    return Effect.succeed(undefined);
  });

// ---------------------------------------------------------------------------------------------
// Producer
// ---------------------------------------------------------------------------------------------

/** Sends plain, delayed, prioritized, deduplicated, grouped and batched messages. */
export const producer = (ctx: Ctx, name: string, q: Queue.Queue<Body>, budget: number): Actor => {
  const { rng, config, model } = ctx;
  let left = budget;
  let explicit = 0;
  const options = (k: string): Queue.SendOptions => {
    const r = rng();
    const c = config;
    if (c.groups > 0 && r < c.groupShare) return { group: `G${Math.floor(rng() * c.groups)}` };
    const o: { -readonly [K in keyof Queue.SendOptions]: Queue.SendOptions[K] } = {};
    const r2 = rng();
    if (r2 < c.dedupShare) {
      const resend = model.dedupKeys.length > 0 && rng() < 0.4;
      o.deduplicationId = resend ? pick(rng, model.dedupKeys) : `d${k}`;
      if (!resend) model.dedupKeys.push(o.deduplicationId);
      model.dedupOf.set(k, o.deduplicationId);
    } else if (r2 < c.dedupShare + 0.15) {
      o.id = `${name}-x${explicit++}`;
    }
    if (rng() < c.delayShare) o.delay = Math.floor(rng() * c.visibilityMillis * 2);
    if (c.priorities > 1 && rng() < 0.5) o.priority = Math.floor(rng() * c.priorities);
    return o;
  };
  const actor: Actor = {
    name,
    kind: "producer",
    thread: `${name}.0`,
    crashed: () => {},
    next: () => {
      if (left <= 0) return undefined;
      const thread = actor.thread;
      if (rng() < config.batchShare && left >= 2) {
        const n = Math.min(left, 2 + Math.floor(rng() * 3));
        left -= n;
        const entries = Array.from({ length: n }, () => {
          const k = model.newKey();
          const grouped = config.groups > 0 && rng() < config.groupShare / 2;
          return {
            body: { k },
            options: grouped ? { group: `G${Math.floor(rng() * config.groups)}` } : undefined,
          };
        });
        const what = `sendBatch [${entries.map((e) => e.body.k).join(" ")}]`;
        return {
          name: "sendBatch",
          run: () =>
            Effect.flatMap(
              attempt(ctx, thread, what, q.sendBatch(entries), [], (rs) =>
                rs.map((r, i) =>
                  Either.isRight(r)
                    ? (model.learn(r.right.id, entries[i]!.body.k), "ok")
                    : describeError(r.left)
                ).join(" ")),
              () =>
                Effect.void,
            ),
        };
      }
      left -= 1;
      const k = model.newKey();
      const o = options(k);
      const what = `send ${k} ${JSON.stringify(o)}`;
      return {
        name: "send",
        run: (op) =>
          Effect.map(
            attempt(ctx, thread, what, q.send({ k }, o), ["DuplicateMessage"], (r) => {
              if (!r.duplicate) model.learn(r.id, k);
              return r.duplicate ? "duplicate" : "sent";
            }),
            (result) => {
              if (result === undefined || Either.isRight(result)) return;
              if (tagOf(result.left) !== "DuplicateMessage") return;
              // Reported a duplicate: did this very send write the message (response lost)?
              const wrote = (ctx.observer.changesByOp.get(op) ?? []).some((c) =>
                bodyKey(c.after) === k && bodyKey(c.before) !== k
              );
              if (wrote) {
                ctx.report(
                  "outcome",
                  `${thread} send ${k}: the put applied, but the send reported DuplicateMessage`,
                  "outcome",
                );
              } else if (o.id !== undefined) {
                ctx.report(
                  "unexpected-error",
                  `${thread} send ${k} with a fresh id: DuplicateMessage`,
                );
              }
            },
          ),
      };
    },
  };
  return actor;
};

// ---------------------------------------------------------------------------------------------
// Consumer
// ---------------------------------------------------------------------------------------------

type Plan = "ack" | "nack" | "deadLetter" | "release" | "abandon";

interface Held {
  readonly m: ReceivedMessage<Body>;
  readonly holding: Holding;
  readonly plan: Plan;
  work: number;
}

/** Receives, works (heartbeating), and acks, nacks, dead-letters, releases or abandons. */
export const consumer = (ctx: Ctx, name: string, q: Queue.Queue<Body>): Actor => {
  const { rng, config, model, trace } = ctx;
  let held: Array<Held> = [];
  const planOf = (): Plan => {
    const r = rng();
    return r < 0.62
      ? "ack"
      : r < 0.77
      ? "nack"
      : r < 0.81
      ? "deadLetter"
      : r < 0.88
      ? "release"
      : "abandon";
  };

  const receive = (thread: string, max: number): Step => ({
    name: "receive",
    run: (op) =>
      Effect.gen(function* () {
        const started = ctx.sched.now;
        const result = yield* attempt(
          ctx,
          thread,
          `receive max=${max}`,
          q.receive({ max }),
          [],
          (r) =>
            `[${r.messages.map((m) => `${m.body.k} r${m.receives}`).join(" ")}] dead=[${
              r.deadLettered.map((d) => ctx.model.kById.get(d.messageId) ?? "?").join(" ")
            }]`,
        );
        const messages = result !== undefined && Either.isRight(result)
          ? result.right.messages
          : [];
        const deadIds = new Set(
          result !== undefined && Either.isRight(result)
            ? result.right.deadLettered.map((d) => d.messageId)
            : [],
        );
        // stranded-claim: every claim whose response reached the queue is handed out.
        const leases = new Set(messages.map((m) => m.lease));
        for (const call of ctx.calls.byOp.get(op) ?? []) {
          const claim = ctx.observer.claims.get(call);
          if (claim === undefined || claim.op !== op || !ctx.calls.ok.has(call)) continue;
          if (!leases.has(claim.lease) && !deadIds.has(claim.id)) {
            ctx.report(
              "stranded-claim",
              `${thread} receive claimed ${claim.k} (call ${call} succeeded) but did not hand it out` +
                (result !== undefined && Either.isLeft(result) ? " (the receive failed)" : ""),
            );
          }
        }
        const now: Array<Held> = messages.map((m) => {
          model.learn(m.id, m.body.k);
          return {
            m,
            holding: {
              thread,
              k: m.body.k,
              lease: m.lease,
              group: m.group,
              expiry: m.visibleAt,
            },
            plan: planOf(),
            work: Math.floor(rng() * 4),
          };
        });
        model.handedOut(thread, started, now.map((h) => h.holding));
        held.push(...now);
      }),
  });

  const settle = (thread: string, h: Held): Step => {
    held = held.filter((x) => x !== h);
    const k = h.m.body.k;
    if (h.plan === "abandon") {
      // A hung handler: the lease is held until it expires, nobody settles it.
      return {
        name: "abandon",
        run: () => Effect.sync(() => trace.line(`${thread} abandons ${k}`)),
      };
    }
    model.drop(h.holding);
    const run = (op: number): Effect.Effect<void> => {
      switch (h.plan) {
        case "ack":
          return Effect.map(attempt(ctx, thread, `ack ${k}`, q.ack(h.m), ["LeaseLost"]), (r) => {
            if (r === undefined || Either.isRight(r) || tagOf(r.left) !== "LeaseLost") return;
            const applied = (ctx.observer.changesByOp.get(op) ?? []).some((c) =>
              c.before?.lease === h.m.lease && bodyKey(c.before) === k && bodyKey(c.after) !== k
            );
            if (applied) {
              ctx.report(
                "outcome",
                `${thread} ack ${k}: the delete applied (response lost, retried) but ack reported LeaseLost`,
                "outcome",
              );
            }
          });
        case "nack": {
          const delay = rng() < 0.5 ? 0 : Math.floor(rng() * config.visibilityMillis);
          return Effect.asVoid(attempt(
            ctx,
            thread,
            `nack ${k} delay=${delay}`,
            q.nack(h.m, { delay, error: { tag: "SimFailure", message: "simulated" } }),
            ["LeaseLost"],
          ));
        }
        case "deadLetter":
          return Effect.asVoid(attempt(
            ctx,
            thread,
            `deadLetter ${k}`,
            q.deadLetter(h.m, { tag: "SimDeadLetter", message: "by request" }),
            ["LeaseLost"],
          ));
        default:
          return Effect.asVoid(attempt(ctx, thread, `release ${k}`, q.release(h.m), ["LeaseLost"]));
      }
    };
    return { name: h.plan, run };
  };

  const heartbeat = (thread: string, h: Held): Step => ({
    name: "changeVisibility",
    run: () =>
      Effect.map(
        attempt(
          ctx,
          thread,
          `heartbeat ${h.m.body.k}`,
          q.changeVisibility(h.m, config.visibilityMillis),
          ["LeaseLost"],
        ),
        (r) => {
          if (r === undefined) return;
          if (Either.isRight(r)) h.holding.expiry = Math.max(h.holding.expiry, r.right);
          else if (tagOf(r.left) === "LeaseLost") {
            held = held.filter((x) => x !== h);
            model.drop(h.holding);
          }
        },
      ),
  });

  const actor: Actor = {
    name,
    kind: "consumer",
    thread: `${name}.0`,
    crashed: () => {
      model.crashed(actor.thread);
      held = [];
    },
    next: () => {
      const thread = actor.thread;
      if (held.length === 0 || (held.length < 3 && rng() < 0.4)) {
        return receive(thread, 1 + Math.floor(rng() * 3));
      }
      const h = pick(rng, held);
      if (h.work > 0) {
        h.work -= 1;
        if (rng() < 0.6) return heartbeat(thread, h);
        return {
          name: "work",
          run: () => Effect.sync(() => trace.line(`${thread} works on ${h.m.body.k}`)),
        };
      }
      return settle(thread, h);
    },
  };
  return actor;
};

// ---------------------------------------------------------------------------------------------
// Admin
// ---------------------------------------------------------------------------------------------

const ADMIN_ALLOWED = ["MessageNotFound", "InvalidState"];

/** Redrives, moves to the DLQ, purges, reschedules, cancels and deletes. */
export const admin = (ctx: Ctx, name: string, q: Queue.Queue<Body>): Actor => {
  const { rng, config, model } = ctx;
  const actor: Actor = {
    name,
    kind: "admin",
    thread: `${name}.0`,
    crashed: () => {},
    next: () => {
      const thread = actor.thread;
      if (model.ids.length === 0) {
        return { name: "idle", run: () => Effect.void };
      }
      const id = pick(rng, model.ids);
      const k = model.kById.get(id) ?? "?";
      const r = rng();
      const step = (
        stepName: string,
        what: string,
        eff: Effect.Effect<unknown, unknown>,
      ): Step => ({
        name: stepName,
        run: () =>
          Effect.asVoid(attempt(ctx, thread, what, eff, ADMIN_ALLOWED, (x) => String(x ?? "ok"))),
      });
      if (r < 0.25) return step("redrive", `redrive ${k}`, q.redrive(id));
      if (r < 0.45) {
        return step("moveToDeadLetter", `moveToDeadLetter ${k}`, q.moveToDeadLetter(id));
      }
      if (r < 0.65) {
        const delay = Math.floor(rng() * config.visibilityMillis * 2);
        return step("reschedule", `reschedule ${k} delay=${delay}`, q.reschedule(id, { delay }));
      }
      if (r < 0.77) return step("cancel", `cancel ${k}`, q.cancel(id));
      if (r < 0.82) return step("delete", `delete ${k}`, q.delete(id));
      if (r < 0.9) return step("redriveAll", `redriveAll`, q.redriveAll());
      if (r < 0.97 || !config.purgeAll) {
        return step("purgeDead", `purge dead`, q.purge({ state: "dead" }));
      }
      return step("purge", `purge all`, q.purge());
    },
  };
  return actor;
};

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

const STATES = ["ready", "delayed", "inflight", "dead"] as const;

/** Dashboard-style reads: stats, get, and list pages with cursors. */
export const reader = (ctx: Ctx, name: string, q: Queue.Queue<Body>): Actor => {
  const { rng, model } = ctx;
  let paging: { state: (typeof STATES)[number]; cursor: string } | undefined = undefined;
  const actor: Actor = {
    name,
    kind: "reader",
    thread: `${name}.0`,
    crashed: () => {
      paging = undefined;
    },
    next: () => {
      const thread = actor.thread;
      const r = rng();
      if (r < 0.3) {
        return {
          name: "stats",
          run: () =>
            Effect.asVoid(
              attempt(ctx, thread, "stats", q.stats, [], (s) =>
                `ready=${s.ready} delayed=${s.delayed} inflight=${s.inflight} dead=${s.dead}`),
            ),
        };
      }
      if (r < 0.55 && model.ids.length > 0) {
        const id = pick(rng, model.ids);
        const k = model.kById.get(id) ?? "?";
        return {
          name: "get",
          run: () =>
            Effect.map(
              attempt(ctx, thread, `get ${k}`, q.get(id), [], (o) =>
                Option.isSome(o) ? o.value.state : "none"),
              (res) => {
                if (res === undefined || Either.isLeft(res) || Option.isNone(res.right)) {
                  return;
                }
                const info = res.right.value;
                const body = Either.isRight(info.body) ? info.body.right.k : undefined;
                // Bodies sent with the same deduplication key share an id: once the window has
                // passed, a later one (its send perhaps still under way) replaces the first.
                const dedup = model.dedupOf.get(k);
                const sameId = body !== undefined && dedup !== undefined &&
                  model.dedupOf.get(body) === dedup;
                if (info.id !== id || (body !== undefined && body !== k && !sameId)) {
                  ctx.report(
                    "unexpected-error",
                    `${thread} get ${k} returned ${info.id} / ${body}`,
                  );
                }
              },
            ),
        };
      }
      const state = paging?.state ?? pick(rng, STATES);
      const cursor = paging?.cursor;
      const limit = 1 + Math.floor(rng() * 4);
      return {
        name: "list",
        run: () =>
          Effect.map(
            attempt(
              ctx,
              thread,
              `list ${state} limit=${limit}${cursor === undefined ? "" : " (next page)"}`,
              q.list({ state, limit, cursor }),
              [],
              (p) =>
                `[${p.messages.map((m) => model.kById.get(m.id) ?? "?").join(" ")}]${
                  p.cursor === undefined ? "" : " +"
                }`,
            ),
            (res) => {
              if (res === undefined || Either.isLeft(res)) {
                // A refused cursor shows as InvalidOptions (reported as unexpected by attempt).
                paging = undefined;
                return;
              }
              paging = res.right.cursor === undefined
                ? undefined
                : { state, cursor: res.right.cursor };
            },
          ),
      };
    },
  };
  return actor;
};

/**
 * Runs one seed: builds the stack (memory table → observer → `DynamoDBFaults` with the seeded
 * schedule → gate → public `Queue` handles), lets the scheduler drive the actors for the seed's
 * number of steps (moving the clock, crashing threads mid-operation and restarting them), then
 * stops everyone and checks the end state: `stats` against `list` (paged with its own cursors)
 * and the table, and — after a fault-free drain that receives and acks whatever is left —
 * `message-lost`, `stuck` and `live-and-dead`. Also runs many seeds and shrinks a failing one.
 *
 * Everything random comes from the seed: the scheduler's and actors' choices, the fault schedule,
 * Effect's `Random` (backoff jitter, priority bands) and, for the run, `crypto.getRandomValues`
 * (generated ids, lease tokens, shards), so a seed replays exactly.
 */
import { createHash } from "node:crypto";
import * as Context from "effect/Context";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Fiber from "effect/Fiber";
import * as Layer from "effect/Layer";
import * as Logger from "effect/Logger";
import * as LogLevel from "effect/LogLevel";
import * as Random from "effect/Random";
import * as Schema from "effect/Schema";
import * as Scheduler from "effect/Scheduler";
import type * as Scope from "effect/Scope";
import * as DynamoDBFaults from "../../src/layers/DynamoDBFaults.ts";
import * as DynamoDBMemory from "../../src/layers/DynamoDBMemory.ts";
import { DynamoDB, type Item } from "../../src/services/DynamoDB.ts";
import * as Queue from "../../src/services/Queue.ts";
import * as Table from "../../src/services/Table.ts";
import { seededRandom } from "../../src/internal/seededRandom.ts";
import { type Actor, admin, type Body, consumer, type Ctx, producer, reader } from "./actors.ts";
import { configFor, type SimConfig } from "./config.ts";
import { CallLog, gate, makeSchedule } from "./faults.ts";
import { type InvariantName, isFailure, type Violation } from "./invariants.ts";
import { Model } from "./model.ts";
import { currentOp, Observer } from "./observer.ts";
import { currentThread, Deadlock, Exhausted, Scheduler as SimScheduler } from "./scheduler.ts";
import { Trace } from "./trace.ts";

const TABLE = "simulation";
const QUEUE = "sim";
const START = 1_700_000_000_000;
/**
 * The scheduling points (DynamoDB calls, sleeps, step starts) a run may pass before it is taken
 * for hung. The busiest seeds of the default mix pass about a thousand.
 */
export const DEFAULT_BUDGET = 200_000;
const BodySchema: Schema.Schema<Body> = Schema.Struct({ k: Schema.String });

/** How to run a seed. */
export interface RunOptions {
  /** Known defects fail the run too. */
  readonly strict?: boolean | undefined;
  /** Pinned config fields. */
  readonly overrides?: Partial<Record<keyof SimConfig, number | boolean>> | undefined;
  /** Injected faults (by number) to let through: for shrinking. */
  readonly suppressFaults?: ReadonlySet<number> | undefined;
  /** Crashes (by number) not to do: for shrinking. */
  readonly suppressCrashes?: ReadonlySet<number> | undefined;
  /** Scheduling points before the run is taken for hung (default {@linkcode DEFAULT_BUDGET}). */
  readonly budget?: number | undefined;
}

/** What a seed did. */
export interface RunResult {
  readonly seed: number;
  readonly config: SimConfig;
  readonly violations: ReadonlyArray<Violation>;
  /** Whether a violation fails the run (see `isFailure`). */
  readonly failed: boolean;
  readonly trace: Trace;
  /** Faults drawn (injected or suppressed), numbered from 0. */
  readonly faults: number;
  /** Crashes drawn (done or suppressed), numbered from 0. */
  readonly crashes: number;
  readonly operations: number;
  /** Scheduling points passed (see `Scheduler.work`). */
  readonly work: number;
}

/** Runs one seed. */
export const runSeed = async (seed: number, options: RunOptions = {}): Promise<RunResult> => {
  const bytes = seededRandom(seed ^ 0xb17e5);
  Object.defineProperty(crypto, "getRandomValues", {
    configurable: true,
    writable: true,
    value: <T extends ArrayBufferView | null>(array: T): T => {
      const view = new Uint8Array(array!.buffer, array!.byteOffset, array!.byteLength);
      for (let i = 0; i < view.length; i++) view[i] = Math.floor(bytes() * 256);
      return array;
    },
  });
  // A deduplicated send hashes its key with `crypto.subtle.digest`, which Deno answers from a
  // thread pool: the hash would arrive after a real-time wait, and the scheduler, which settles
  // on microtasks only, would sometimes go on without that thread. Answered here at once.
  const digest = Object.getOwnPropertyDescriptor(crypto.subtle, "digest");
  Object.defineProperty(crypto.subtle, "digest", {
    configurable: true,
    writable: true,
    value: (algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer> => {
      const name = typeof algorithm === "string" ? algorithm : algorithm.name;
      if (name.toUpperCase() !== "SHA-256") {
        return Promise.reject(new Error(`simulation: no synchronous digest for ${name}`));
      }
      const bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);
      const hash = createHash("sha256").update(bytes).digest();
      return Promise.resolve(
        hash.buffer.slice(hash.byteOffset, hash.byteOffset + hash.byteLength) as ArrayBuffer,
      );
    },
  });
  // No stack traces: nothing reads them, and capturing one per span and error is a tenth of
  // the run's time.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  // A run is all microtasks (no I/O, no real timers), so this timer fires only once the run can
  // make no progress at all: a released thread waits for something outside the scheduler
  // (it then dies with `Deadlock` and the run ends with its trace), or the run itself does
  // (it is then reported as hung, as it stands).
  const hooks: Hooks = {};
  let timer: ReturnType<typeof setInterval> | undefined;
  const idle = new Promise<RunResult>((resolve) => {
    timer = setInterval(() => {
      if (hooks.sched?.checkDeadlock() === true) return;
      if (hooks.hung !== undefined) resolve(hooks.hung());
    }, 1_000);
  });
  try {
    return await Promise.race([
      Effect.runPromise(
        Effect.scoped(simulate(seed, options, hooks)).pipe(
          Effect.withTracerEnabled(false),
          // Fibers hand over in microtasks only: Effect's default scheduler falls back to a
          // (clamped, 4 ms) setTimeout every 2,048 rounds, which is most of a short run's time.
          Effect.withScheduler(new Scheduler.MixedScheduler(Number.MAX_SAFE_INTEGER)),
          Logger.withMinimumLogLevel(LogLevel.None),
        ),
      ),
      idle,
    ]);
  } finally {
    clearInterval(timer);
    Error.stackTraceLimit = limit;
    delete (crypto as { getRandomValues?: unknown }).getRandomValues;
    if (digest === undefined) delete (crypto.subtle as { digest?: unknown }).digest;
    else Object.defineProperty(crypto.subtle, "digest", digest);
  }
};

/** What `runSeed`'s idle timer reaches into a run for. */
interface Hooks {
  sched?: SimScheduler;
  /** The run as it stands, reported as hung. */
  hung?: () => RunResult;
}

const simulate = (
  seed: number,
  options: RunOptions,
  hooks: Hooks,
): Effect.Effect<RunResult, never, Scope.Scope> => {
  const config = configFor(seed, options.overrides);
  const sched = new SimScheduler(START, options.budget ?? DEFAULT_BUDGET);
  const strict = options.strict ?? false;
  const trace = new Trace();
  const violations: Array<Violation> = [];
  const seen = new Set<string>();
  const report = (invariant: InvariantName, detail: string, defect?: string) => {
    trace.line(
      `!! ${invariant}${defect === undefined ? "" : ` [known defect ${defect}]`}: ${detail}`,
    );
    // One report per invariant and detail: the same fault can trip a check many times.
    const key = `${invariant}|${detail}`;
    if (seen.has(key)) return;
    seen.add(key);
    violations.push({ invariant, step: trace.step, detail, defect });
  };
  // What the run counted so far, also for a run cut short as hung.
  const counts = { operations: 0, crashes: 0, faults: () => 0 };
  const phase = { now: "setup" };
  const result = (): RunResult => ({
    seed,
    config,
    violations,
    failed: violations.some((v) => isFailure(v, strict)),
    trace,
    faults: counts.faults(),
    crashes: counts.crashes,
    operations: counts.operations,
    work: sched.work,
  });
  hooks.sched = sched;
  hooks.hung = () => {
    const parked = [...sched.waiters.values()].map((w) => `${w.thread} at ${w.label}`);
    report(
      "hang",
      `the run stopped making progress (phase: ${phase.now}; parked: ${
        parked.join(", ") || "none"
      })`,
    );
    return result();
  };
  return Effect.gen(function* () {
    const rng = seededRandom(seed);
    const observer: Observer = new Observer(
      sched,
      config.maxReceives,
      report,
      (k) => model.removed(k),
    );
    const model: Model = new Model(report, (k, lease) => observer.claimedAt.get(`${k}|${lease}`));
    const memory = yield* Layer.build(
      DynamoDBMemory.layerMemoryWith(
        config.indexLagMillis > 0 ? { indexLag: config.indexLagMillis, indexLagSeed: seed } : {},
      ),
    );
    const observed = observer.wrap(Context.get(memory, DynamoDB));
    const calls = new CallLog();
    const schedule = makeSchedule(
      seededRandom(seed ^ 0xfa17),
      { rate: config.faultRate, stallMaxMillis: config.stallMaxMillis },
      trace,
      calls,
      options.suppressFaults ?? new Set(),
    );
    counts.faults = schedule.drawn;
    const { faults, service: faulty } = yield* DynamoDBFaults.make(observed, {
      seed,
      schedule: schedule.decide,
      timeoutDelay: config.visibilityMillis / 2,
    });
    const gated = gate(sched, faulty, calls);
    yield* Effect.orDie(Table.create(TABLE).pipe(Effect.provideService(DynamoDB, observed)));

    const handle = Effect.orDie(
      Queue.make({
        table: TABLE,
        name: QUEUE,
        schema: BodySchema,
        visibilityTimeout: config.visibilityMillis,
        maxReceives: config.maxReceives,
        priorities: config.priorities,
        shards: config.shards,
        deduplicationWindow: config.visibilityMillis * 4,
      }).pipe(Effect.provideService(DynamoDB, gated)),
    );

    const ctx: Ctx = { rng, config, sched, model, observer, calls, trace, report };
    const actors: Array<Actor> = [];
    const handles = new Map<Actor, Queue.Queue<Body>>();
    const add = (a: Actor, q: Queue.Queue<Body>) => {
      actors.push(a);
      handles.set(a, q);
    };
    // Queue.make reads (and the first one writes) the queue's stored definition, and each handle
    // registers in the catalog beside its first request: do both now, without faults, so no
    // setup request waits for the scheduler and no background catalog write runs beside a
    // send's own work.
    sched.free = true;
    yield* faults.setEnabled(false);
    const perProducer = Math.ceil(config.messages / config.producers);
    for (let i = 0; i < config.producers; i++) {
      const q = yield* handle;
      add(producer(ctx, `p${i}`, q, perProducer), q);
    }
    for (let i = 0; i < config.consumers; i++) {
      const q = yield* handle;
      add(consumer(ctx, `c${i}`, q), q);
    }
    for (let i = 0; i < config.admins; i++) {
      const q = yield* handle;
      add(admin(ctx, `a${i}`, q), q);
    }
    for (let i = 0; i < config.readers; i++) {
      const q = yield* handle;
      add(reader(ctx, `r${i}`, q), q);
    }
    for (const q of handles.values()) yield* Effect.orDie(q.receive());
    sched.free = false;
    yield* faults.setEnabled(true);

    const runActor = (a: Actor): Effect.Effect<void> =>
      Effect.gen(function* () {
        while (true) {
          yield* sched.park("idle", "next");
          const step = a.next();
          if (step === undefined) {
            trace.line(`${a.thread} done`);
            return;
          }
          const n = counts.operations++;
          yield* Effect.locally(step.run(n), currentOp, { n, actor: a.thread, name: step.name });
        }
      }).pipe(
        Effect.locally(currentThread, a.thread),
        Effect.ensuring(Effect.sync(() => sched.bump())),
      );
    const fibers = new Map<Actor, Fiber.RuntimeFiber<void>>();
    for (const a of actors) fibers.set(a, yield* Effect.fork(runActor(a)));
    yield* sched.settle;

    // --- the busy phase ---------------------------------------------------------------------
    phase.now = "busy";
    const incarnations = new Map<Actor, number>();
    for (let step = 1; step <= config.steps; step++) {
      trace.step = step;
      if (sched.exhausted) return yield* Effect.die(new Exhausted(sched.budget));
      const runnable = sched.runnable();
      const u = rng();
      const choice = rng();
      if (runnable.length === 0 || u < config.timeRate) {
        const wake = sched.nextWake();
        if (runnable.length === 0 && wake === undefined) break; // everyone is done
        const vis = config.visibilityMillis;
        const delta = runnable.length === 0 && wake !== undefined && choice < 0.7
          ? wake - sched.now
          : rng() < 0.75
          ? 1 + Math.floor(rng() * vis / 4)
          : Math.floor(vis / 2 + rng() * vis * 1.5);
        sched.now += Math.max(1, delta);
        trace.elapsed = sched.now - START;
        trace.line(`time +${Math.max(1, delta)}ms`);
        continue;
      }
      if (u < config.timeRate + config.crashRate) {
        const busy = actors.filter((a) =>
          [...sched.waiters.values()].some((w) => w.thread === a.thread && w.kind !== "idle")
        );
        if (busy.length > 0) {
          const a = busy[Math.floor(choice * busy.length)]!;
          const n = counts.crashes++;
          if (!(options.suppressCrashes?.has(n) ?? false)) {
            trace.line(`${a.thread} CRASHES (crash #${n}) and restarts`);
            sched.kill(a.thread);
            yield* Fiber.interruptFork(fibers.get(a)!);
            a.crashed();
            const inc = (incarnations.get(a) ?? 0) + 1;
            incarnations.set(a, inc);
            a.thread = `${a.name}.${inc}`;
            fibers.set(a, yield* Effect.fork(runActor(a)));
            yield* sched.settle;
            continue;
          }
          trace.line(`  crash #${n} suppressed`);
        }
      }
      const w = runnable[Math.floor(choice * runnable.length)]!;
      trace.line(`${w.thread} ${w.kind === "idle" ? "next" : w.label}`);
      yield* sched.release(w);
    }

    // --- stop everyone, then check the state without faults --------------------------------
    phase.now = "stop and stats";
    trace.step = config.steps + 1;
    trace.line("stop: all actors stop, faults off");
    for (const a of actors) {
      sched.kill(a.thread);
      yield* Fiber.interruptFork(fibers.get(a)!);
    }
    yield* sched.settle;
    sched.free = true;
    yield* faults.setEnabled(false);
    sched.now += config.indexLagMillis + 1;
    const final = yield* handle;
    yield* checkStats(final, observer, report).pipe(Effect.locally(currentThread, "final"));

    // --- drain: receive and ack whatever is left, moving the clock far ---------------------
    phase.now = "drain";
    trace.line("drain");
    let empty = 0;
    for (let round = 0; round < 80 && empty < 3; round++) {
      sched.now += 6 * 60_000;
      const n = counts.operations++;
      const got = yield* Effect.either(final.receive({ max: 25 })).pipe(
        Effect.locally(currentOp, { n, actor: "drain", name: "drain-receive" }),
      );
      if (Either.isLeft(got)) {
        report("unexpected-error", `drain receive failed: ${got.left._tag}`);
        break;
      }
      const { deadLettered, messages } = got.right;
      empty = messages.length === 0 && deadLettered.length === 0 ? empty + 1 : 0;
      for (const m of messages) {
        const a = counts.operations++;
        const acked = yield* Effect.either(final.ack(m)).pipe(
          Effect.locally(currentOp, { n: a, actor: "drain", name: "drain" }),
        );
        if (Either.isLeft(acked)) {
          report("unexpected-error", `drain ack of ${m.body.k}: ${acked.left._tag}`);
        }
      }
    }
    trace.elapsed = sched.now - START;
    trace.line("end checks");
    endChecks(observer, report);

    return result();
  }).pipe(
    // A run that passed its budget of scheduling points, or whose released thread waits for
    // something the scheduler cannot give, ends here with its trace so far.
    Effect.catchAllDefect((defect) =>
      defect instanceof Exhausted || defect instanceof Deadlock
        ? Effect.sync(() => {
          report(
            "hang",
            defect instanceof Exhausted
              ? `the run passed ${defect.budget} scheduling points (a livelock or an endless loop; phase: ${phase.now})`
              : `${defect.message} (phase: ${phase.now})`,
          );
          return result();
        })
        : Effect.die(defect)
    ),
    Effect.withClock(sched.clock),
    Effect.withRandom(Random.make(seed)),
  );
};

/** `stats` against `list` (every page, with its cursors) and against the table. */
const checkStats = (
  q: Queue.Queue<Body>,
  observer: Observer,
  report: (invariant: InvariantName, detail: string) => void,
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const stats = yield* q.stats;
    const listed: Record<string, number> = {};
    for (const state of ["ready", "delayed", "inflight", "dead"] as const) {
      const ids = new Set<string>();
      let cursor: string | undefined = undefined;
      for (let page = 0; page < 1000; page++) {
        const p: Queue.ListPage<Body> = yield* q.list({ state, limit: 7, cursor });
        for (const m of p.messages) {
          if (ids.has(m.id)) report("stats", `list ${state} returned ${m.id} twice`);
          ids.add(m.id);
        }
        cursor = p.cursor;
        if (cursor === undefined) break;
      }
      listed[state] = ids.size;
      if (stats[state] !== ids.size) {
        report("stats", `stats.${state} = ${stats[state]} but list ${state} has ${ids.size}`);
      }
    }
    let items = 0;
    for (const list of observer.messages().values()) items += list.length;
    const total = stats.ready + stats.delayed + stats.inflight + stats.dead;
    if (total !== items) report("stats", `stats count ${total} messages, the table holds ${items}`);
  }).pipe(
    Effect.catchAll((e) => Effect.sync(() => report("stats", `stats/list failed: ${e._tag}`))),
  );

/** The end state after the drain. */
const endChecks = (
  observer: Observer,
  report: (invariant: InvariantName, detail: string, defect?: string) => void,
): void => {
  const now = observer.messages();
  for (const k of observer.created) {
    const items = now.get(k) ?? [];
    const ends = observer.ends.get(k) ?? [];
    const notes = observer.notes.get(k) ?? new Set<string>();
    const liveAndDeadCause = notes.has("resurrected")
      ? "4"
      : notes.has("dead-copy") || notes.has("put-back")
      ? "6"
      : undefined;
    const dead = items.filter((i) => i.state === "dead");
    const live = items.filter((i) => i.state !== "dead");
    if (live.length > 0) {
      const describe = (i: Item) => {
        const group = [...observer.shadow.values()].find((g) => g.pk === i.pk && g.sk === "group");
        const g = group === undefined
          ? ""
          : `; its group item: gpk ${
            group.gpk ?? "none"
          }, next ${group.next}, written ${group.written}`;
        return `${i.state} (sk ${i.sk}, gpk ${i.gpk}, receives ${i.receives}${g})`;
      };
      // A put-back (redrive) grouped message whose group left the ready index: a lost wake-up.
      const lostWakeUp = notes.has("put-back") && live.some((i) =>
        String(i.sk).startsWith("m#") &&
        [...observer.shadow.values()].some((g) =>
          g.pk === i.pk && g.sk === "group" && g.gpk === undefined
        )
      );
      report(
        "stuck",
        `${k} is still ${live.map(describe).join(" + ")} after the drain`,
        lostWakeUp ? "S2" : undefined,
      );
    }
    if (dead.length > 0 && ends.includes("ack")) {
      report(
        "live-and-dead",
        `${k} was acked and is also in the dead-letter queue`,
        liveAndDeadCause,
      );
    }
    if (items.length === 0 && !ends.includes("ack") && !ends.includes("removed")) {
      report(
        "message-lost",
        `${k} is gone, never acked, dead-lettered or removed (its history: ${
          ends.join(",") || "none"
        }; ${[...notes].join(",")})`,
        notes.has("dead-copy") ? "1" : undefined,
      );
    }
  }
};

/** Replays a failing seed with single faults and crashes left out, keeping what still fails. */
export const shrink = async (
  result: RunResult,
  options: RunOptions,
  budget = 60,
  focus?: InvariantName,
): Promise<RunResult> => {
  const failing = (r: RunResult) =>
    r.violations.find((v) =>
      focus === undefined ? isFailure(v, options.strict ?? false) : v.invariant === focus
    );
  const target = failing(result)?.invariant;
  if (target === undefined) return result;
  let best = result;
  const faults = new Set<number>(options.suppressFaults ?? []);
  const crashes = new Set<number>(options.suppressCrashes ?? []);
  let tries = 0;
  const attemptWith = async (f: Set<number>, c: Set<number>) => {
    tries++;
    const r = await runSeed(result.seed, { ...options, suppressFaults: f, suppressCrashes: c });
    return failing(r)?.invariant === target ? r : undefined;
  };
  for (let i = best.faults - 1; i >= 0 && tries < budget; i--) {
    if (faults.has(i)) continue;
    const f = new Set([...faults, i]);
    const r = await attemptWith(f, crashes);
    if (r !== undefined) {
      faults.add(i);
      best = r;
    }
  }
  for (let i = best.crashes - 1; i >= 0 && tries < budget; i--) {
    const c = new Set([...crashes, i]);
    const r = await attemptWith(faults, c);
    if (r !== undefined) {
      crashes.add(i);
      best = r;
    }
  }
  return best;
};

/**
 * The observer: a `DynamoDB` wrapper right above the in-memory table (below the fault layer), so
 * it sees every write exactly when and how it was applied — also those whose response the fault
 * layer then loses. It keeps a shadow copy of the table and checks, after every applied write,
 * the invariants that are properties of single writes:
 * `two-live-holders` (a claim overwrites a lease that has not expired), `group-exclusive`,
 * `group-order`, `dead-letter-reason`, `redrive-reset`, `resurrected` and `acked-twice`; it also
 * records each message's life (created, acked, removed by an admin, moved) for the end-of-run
 * `message-lost` / `live-and-dead` checks, and each claim per call for `stranded-claim`.
 *
 * It reads the documented item attributes (docs/design.md: `id`, `state`, `lease`, `visibleAt`,
 * `receives`, `deadReason`, `group`, `payload`), never the queue's code. A message is told apart
 * by its body `{ k }`, unique per sent message, so ids the queue generates need not be known.
 */
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as FiberRef from "effect/FiberRef";
import type { DynamoDB, Item, Key } from "../../src/services/DynamoDB.ts";
import type { InvariantName } from "./invariants.ts";
import type { Scheduler } from "./scheduler.ts";

/** The actor operation a fiber runs (set by the actors, inherited by forks). */
export interface OpTag {
  readonly n: number;
  readonly actor: string;
  readonly name: string;
}

/** The operation of the current fiber. */
export const currentOp: FiberRef.FiberRef<OpTag | undefined> = FiberRef.unsafeMake<
  OpTag | undefined
>(undefined);

/** The gate's number of the DynamoDB call the current fiber makes. */
export const currentCall: FiberRef.FiberRef<number> = FiberRef.unsafeMake(-1);

/** A claim of a message as applied: which call, which operation, what lease. */
export interface Claim {
  readonly call: number;
  readonly op: number;
  readonly k: string;
  readonly id: string;
  readonly lease: string;
}

/** A claim that counted toward a message's receives. */
export interface CountedClaim {
  readonly lease: string;
  /** Who claimed: the operation and its actor, for the report. */
  readonly by: string;
  /** When its lease ends, as claimed. */
  readonly expiry: number;
  /** Whether the claiming receive handed it out; `undefined` until that receive completes. */
  delivered: boolean | undefined;
  /**
   * Not handed out, but the lease had run out before the receive completed: the receive could
   * not learn the claim's outcome in time (its requests failed or stalled, or it was not
   * scheduled), like a receiver that crashed. Not counted as wasted.
   */
  late: boolean;
  /** Released uncounted since (its receive taken back). */
  released: boolean;
}

/** One applied change of one item. */
export interface Change {
  readonly call: number;
  readonly op: OpTag | undefined;
  readonly before: Item | undefined;
  readonly after: Item | undefined;
}

/** How a message's body left an item. */
export type End = "ack" | "removed" | "moved";

const ACK_OPS = new Set(["ack", "drain"]);
const REMOVE_OPS = new Set(["purge", "purgeDead", "cancel", "delete"]);
const DEAD_ON_REQUEST = new Set(["deadLetter", "moveToDeadLetter"]);
const REDRIVE_OPS = new Set(["redrive", "redriveAll"]);

const keyString = (k: Key): string => `${String(k.pk)}\u0000${String(k.sk)}`;

/** The body key `k` of a message item, when it carries a JSON payload. */
export const bodyKey = (item: Item | undefined): string | undefined => {
  if (item === undefined || typeof item.payload !== "string" || item.enc !== "json") {
    return undefined;
  }
  try {
    const body = JSON.parse(item.payload);
    return typeof body?.k === "string" ? body.k : undefined;
  } catch {
    return undefined;
  }
};

const isMessage = (item: Item | undefined): boolean =>
  item !== undefined && typeof item.id === "string" && typeof item.queue === "string";

const num = (v: unknown): number => (typeof v === "number" ? v : 0);

/** The observer of one run. */
export class Observer {
  readonly shadow: Map<string, Item> = new Map();
  private readonly byPk: Map<string, Set<string>> = new Map();
  /** Messages (body keys) ever written, and how each left its items. */
  readonly created: Set<string> = new Set();
  readonly ends: Map<string, Array<End>> = new Map();
  /** Notes per message for attributing violations to known defects. */
  readonly notes: Map<string, Set<string>> = new Map();
  /** The message claimed by each call (its last application). */
  readonly claims: Map<number, Claim> = new Map();
  /** The changes each operation applied, for checking what it reported. */
  readonly changesByOp: Map<number, Array<Change>> = new Map();
  readonly idToK: Map<string, string> = new Map();
  /** When each lease on each message was claimed (`<k>|<lease>`). */
  readonly claimedAt: Map<string, number> = new Map();
  /**
   * Each message's counted claims since its receive count was last reset: whether the claim
   * reached a receiver (set when the claiming receive completes; a receive cut short by a crash
   * leaves it unknown) and whether it was released uncounted since.
   */
  readonly counted: Map<string, Array<CountedClaim>> = new Map();

  constructor(
    private readonly sched: Scheduler,
    private readonly maxReceives: number,
    private readonly report: (
      invariant: InvariantName,
      detail: string,
      defect?: string | undefined,
    ) => void,
    /** Told when an admin removed a message, so holders of it no longer count. */
    private readonly onRemoved: (k: string) => void,
  ) {}

  note(k: string, what: string): void {
    let s = this.notes.get(k);
    if (s === undefined) this.notes.set(k, s = new Set());
    s.add(what);
  }

  private endsOf(k: string): Array<End> {
    let e = this.ends.get(k);
    if (e === undefined) this.ends.set(k, e = []);
    return e;
  }

  /** Wraps the table: every write is observed with the items before and after it. */
  wrap(inner: DynamoDB): DynamoDB {
    const observe = <A, E>(
      keys: ReadonlyArray<Key>,
      request: Effect.Effect<A, E>,
      table: string,
    ): Effect.Effect<A, E> =>
      Effect.gen(this, function* () {
        const op = yield* FiberRef.get(currentOp);
        const call = yield* FiberRef.get(currentCall);
        const before: Array<Item | undefined> = [];
        for (const k of keys) before.push(yield* Effect.orDie(inner.get(table, k)));
        const exit = yield* Effect.exit(request);
        for (let i = 0; i < keys.length; i++) {
          const after = yield* Effect.orDie(inner.get(table, keys[i]!));
          this.change(keyString(keys[i]!), { call, op, before: before[i], after });
        }
        return yield* exit;
      });
    return {
      ...inner,
      put: (table, item, options) =>
        observe(
          [{ pk: item.pk as string, sk: item.sk as string }],
          inner.put(table, item, options),
          table,
        ),
      update: (table, key, update, options) =>
        observe([key], inner.update(table, key, update, options), table),
      delete: (table, key, options) => observe([key], inner.delete(table, key, options), table),
      batchWrite: (table, requests) =>
        observe(
          requests.map((r) =>
            r._tag === "Put" ? { pk: r.item.pk as string, sk: r.item.sk as string } : r.key
          ),
          inner.batchWrite(table, requests),
          table,
        ),
      transactWrite: (items) =>
        items.length === 0 ? inner.transactWrite(items) : observe(
          items.filter((t) => t._tag !== "ConditionCheck").map((t) =>
            t._tag === "Put" ? { pk: t.item.pk as string, sk: t.item.sk as string } : t.key
          ),
          inner.transactWrite(items),
          items[0]!.table,
        ),
    };
  }

  private change(ks: string, c: Change): void {
    const { before, after, op } = c;
    if (before === undefined && after === undefined) return;
    if (
      before !== undefined && after !== undefined &&
      JSON.stringify(before) === JSON.stringify(after)
    ) {
      return;
    }
    const pk = String((after ?? before)!.pk);
    if (after === undefined) {
      this.shadow.delete(ks);
      this.byPk.get(pk)?.delete(ks);
    } else {
      this.shadow.set(ks, after);
      let s = this.byPk.get(pk);
      if (s === undefined) this.byPk.set(pk, s = new Set());
      s.add(ks);
    }
    if (!isMessage(before) && !isMessage(after)) return;
    if (op !== undefined) {
      let list = this.changesByOp.get(op.n);
      if (list === undefined) this.changesByOp.set(op.n, list = []);
      list.push(c);
    }
    const name = op?.name ?? "?";
    const kb = bodyKey(before) ??
      (before === undefined ? undefined : this.idToK.get(String(before.id)));
    const ka = bodyKey(after);
    if (ka !== undefined) this.idToK.set(String(after!.id), ka);
    const now = this.sched.now;
    const where = `${name} by ${op?.actor ?? "?"}`;

    if (ka !== undefined && ka !== kb) {
      // A new carrier of message ka: its first write, a dead copy, or a copy put back.
      if (after!.state !== "dead") {
        const twin = (this.messagesOf(ka)).find((i) => i !== after && i.state !== "dead");
        if (twin !== undefined) {
          // Once written twice, every later copy (a redrive of one of them) follows from that.
          const again = this.notes.get(ka)?.has("duplicated") ?? false;
          this.note(ka, "duplicated");
          this.report(
            "duplicated",
            `${ka} written a second time (${after!.id}) while ${twin.id} still holds it (${where})`,
            again || (name === "send" || name === "sendBatch") && typeof after!.group === "string"
              ? "S1"
              : undefined,
          );
        }
      }
      if (after!.state !== "dead" && this.endsOf(ka).includes("ack")) {
        this.note(ka, "resurrected");
        this.report(
          "resurrected",
          `${ka} was acked and is written again (${where}, state ${after!.state}, receives ${
            after!.receives
          })`,
          name === "sendBatch" ? "4" : undefined,
        );
      }
      if (after!.state === "dead") {
        this.note(ka, "dead-copy");
        this.checkDeadReason(ka, after!, name, where);
      } else if (this.created.has(ka)) {
        this.note(ka, "put-back");
        this.counted.delete(ka);
        if (REDRIVE_OPS.has(name) && num(after!.receives) !== 0) {
          this.report(
            "redrive-reset",
            `${ka} redriven with receives ${after!.receives} (${where})`,
          );
        }
      }
      this.created.add(ka);
    }
    if (kb !== undefined && ka !== kb) {
      // Message kb left this item.
      const tombstone = after !== undefined && after.state === "done";
      const how: End = ACK_OPS.has(name) || tombstone
        ? "ack"
        : REMOVE_OPS.has(name)
        ? "removed"
        : "moved";
      const ends = this.endsOf(kb);
      if (how === "ack" && ends.includes("ack")) {
        const notes = this.notes.get(kb);
        const cause = notes?.has("resurrected") ? "4" : notes?.has("duplicated") ? "S1" : undefined;
        this.report(
          "acked-twice",
          `${kb} acked a second time (${where})${
            cause === undefined
              ? ""
              : `, it had been ${cause === "4" ? "resurrected" : "written twice"}`
          }`,
          cause,
        );
      }
      ends.push(how);
      if (how === "removed") this.onRemoved(kb);
      if (how === "moved") this.note(kb, `moved-by-${name}`);
    }
    if (ka !== undefined && ka === kb) {
      const b = before!;
      const a = after!;
      if (num(a.receives) < num(b.receives)) {
        const uncounted = typeof b.lease === "string" && a.lease === undefined &&
          num(a.receives) === num(b.receives) - 1;
        if (uncounted) {
          for (const c of this.counted.get(ka) ?? []) if (c.lease === b.lease) c.released = true;
        } else this.counted.delete(ka); // reset (a redrive)
      }
      if (a.state === "dead" && b.state !== "dead") this.checkDeadReason(ka, a, name, where);
      if (b.state === "dead" && a.state !== "dead" && num(a.receives) !== 0) {
        this.report("redrive-reset", `${ka} left the DLQ with receives ${a.receives} (${where})`);
      }
      if (a.state === "inflight" && typeof a.lease === "string" && a.lease !== b.lease) {
        this.claimed(ka, b, a, c, where, now);
      }
    }
  }

  private checkDeadReason(k: string, a: Item, name: string, where: string): void {
    if (DEAD_ON_REQUEST.has(name)) return;
    const reason = a.deadReason as { tag?: string } | undefined;
    if (reason?.tag === "MaxReceivesExceeded" && num(a.receives) >= this.maxReceives) {
      // Claims that never reached a receiver (their response was lost and the receive neither
      // recognised nor released them) must not count toward dead-lettering.
      const wasted = (this.counted.get(k) ?? []).filter((c) =>
        c.delivered === false && !c.late && !c.released
      );
      if (num(a.receives) - wasted.length < this.maxReceives) {
        this.report(
          "wasted-receives",
          `${k} dead-lettered with MaxReceivesExceeded at receives ${a.receives} (${where}), but ${wasted.length} of those claims never reached a receiver: ${
            wasted.map((c) => c.by).join(", ")
          }`,
        );
      }
      return;
    }
    this.report(
      "dead-letter-reason",
      `${k} dead-lettered with ${
        reason?.tag ?? "no reason"
      } at receives ${a.receives} < ${this.maxReceives} (${where})`,
    );
  }

  private claimed(k: string, b: Item, a: Item, c: Change, where: string, now: number): void {
    const grouped = typeof a.group === "string";
    if (b.state === "inflight" && typeof b.lease === "string" && num(b.visibleAt) > now) {
      this.report(
        "two-live-holders",
        `${k} claimed while its lease ran until ${num(b.visibleAt)} > now ${now} (${where})`,
        grouped ? "2" : undefined,
      );
    }
    this.claimedAt.set(`${k}|${String(a.lease)}`, now);
    if (num(a.receives) > num(b.receives)) {
      let list = this.counted.get(k);
      if (list === undefined) this.counted.set(k, list = []);
      list.push({
        lease: String(a.lease),
        by: `${c.op?.name ?? "?"} by ${c.op?.actor ?? "?"} (call ${c.call})`,
        expiry: num(a.visibleAt),
        delivered: undefined,
        late: false,
        released: false,
      });
    }
    if (c.op !== undefined) {
      this.claims.set(c.call, {
        call: c.call,
        op: c.op.n,
        k,
        id: String(a.id),
        lease: String(a.lease),
      });
    }
    if (!grouped) return;
    const pk = String(a.pk);
    for (const other of this.byPk.get(pk) ?? []) {
      const item = this.shadow.get(other)!;
      if (!isMessage(item) || item.id === a.id || item.state === "done") continue;
      const ko = bodyKey(item) ?? String(item.id);
      if (String(item.sk) < String(a.sk)) {
        this.report(
          "group-order",
          `${k} (${a.sk}) claimed while earlier ${ko} (${item.sk}, ${item.state}) is in its group (${where})`,
          "2",
        );
      } else if (item.state === "inflight" && num(item.visibleAt) > now) {
        this.report(
          "group-exclusive",
          `${k} claimed while ${ko} of its group is in flight until ${item.visibleAt} (${where})`,
          "2",
        );
      }
    }
  }

  /** A receive completed: whether it handed out its claim of message k under `lease`. */
  delivered(k: string, lease: string, handedOut: boolean): void {
    for (const c of this.counted.get(k) ?? []) {
      if (c.lease !== lease) continue;
      c.delivered = handedOut;
      c.late = !handedOut && this.sched.now >= c.expiry;
    }
  }

  /** The live and dead items that carry message k now. */
  messagesOf(k: string): Array<Item> {
    const out: Array<Item> = [];
    for (const item of this.shadow.values()) {
      if (isMessage(item) && item.state !== "done" && bodyKey(item) === k) out.push(item);
    }
    return out;
  }

  /** Message items now in the table, by body key (tombstones and group items left out). */
  messages(): Map<string, Array<Item>> {
    const out = new Map<string, Array<Item>>();
    for (const item of this.shadow.values()) {
      if (!isMessage(item) || item.state === "done") continue;
      const k = bodyKey(item) ?? `?${String(item.id)}`;
      let list = out.get(k);
      if (list === undefined) out.set(k, list = []);
      list.push(item);
    }
    return out;
  }

  /** Whether an exit of a request succeeded: for the gate's bookkeeping. */
  static ok(exit: Exit.Exit<unknown, unknown>): boolean {
    return Exit.isSuccess(exit);
  }
}

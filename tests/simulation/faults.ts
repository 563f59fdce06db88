/**
 * The fault schedule and the gate.
 *
 * The schedule decides, from the run's seeded PRNG, the fate of each DynamoDB call that reaches
 * `DynamoDBFaults` (through its `schedule` option): through; failed before it applies
 * (throttled, server error, timed out, dropped); applied with its response lost; applied, lost
 * and retried at once as the SDK does; or stalled (applied only after a wait on the clock). Every
 * injected fault is numbered and written to the trace; shrinking replays a seed with some of them
 * suppressed (the draws are made all the same, so the rest of the run keeps its choices).
 *
 * The gate sits above the fault layer: every call parks at it until the scheduler lets it go, so
 * any call of any thread can interleave with any other. It numbers the calls and records which
 * returned success to the queue, which the `stranded-claim` check needs.
 */
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as FiberRef from "effect/FiberRef";
import type { FaultDecision, FaultRequest } from "../../src/layers/DynamoDBFaults.ts";
import type { DynamoDB } from "../../src/services/DynamoDB.ts";
import { currentCall, currentOp } from "./observer.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

/** How often and how faults happen in one run. */
export interface FaultPlan {
  /** Share of calls that get a fault (0–1). */
  readonly rate: number;
  /** The longest stall, ms. */
  readonly stallMaxMillis: number;
}

/** The calls the gate let through: per operation, and which returned success. */
export class CallLog {
  next = 0;
  /** The call whose request the fault layer is deciding now (one thread runs at a time). */
  current = -1;
  readonly byOp: Map<number, Array<number>> = new Map();
  readonly ok: Set<number> = new Set();
}

/** Makes the `schedule` of `DynamoDBFaults`. */
export const makeSchedule = (
  random: () => number,
  plan: FaultPlan,
  trace: Trace,
  calls: CallLog,
  suppress: ReadonlySet<number>,
): {
  readonly decide: (request: FaultRequest) => FaultDecision | undefined;
  readonly drawn: () => number;
} => {
  let injected = 0;
  const decide = (request: FaultRequest): FaultDecision | undefined => {
    // Always three draws, so one call's fate never shifts the next one's.
    const r = random();
    const kind = random();
    const third = random();
    if (r >= plan.rate) return undefined;
    const n = injected++;
    let decision: FaultDecision;
    if (kind < 0.3) {
      const k = third < 0.25
        ? "throttle"
        : third < 0.5
        ? "serverError"
        : third < 0.75
        ? "timeout"
        : "dropped";
      decision = { _tag: "Fail", kind: k, after: false };
    } else if (kind < 0.55) {
      decision = { _tag: "Fail", kind: third < 0.5 ? "timeout" : "dropped", after: true };
    } else if (kind < 0.75) {
      decision = { _tag: "Retried", kind: third < 0.5 ? "timeout" : "dropped" };
    } else {
      decision = { _tag: "Stall", delay: Math.floor(third * plan.stallMaxMillis) + 1 };
    }
    const what = decision._tag === "Fail"
      ? `${decision.kind}${decision.after ? " after apply" : ""}`
      : decision._tag === "Retried"
      ? `applied, response lost, retried`
      : `stall ${String(decision.delay)}ms`;
    if (suppress.has(n)) {
      trace.line(
        `  fault #${n} suppressed (${what}) on call ${calls.current} ${request.operation}`,
      );
      return undefined;
    }
    trace.line(`  fault #${n}: ${what} on call ${calls.current} ${request.operation}`);
    return decision;
  };
  return { decide, drawn: () => injected };
};

/** Wraps the (faulty) table so that every call waits for the scheduler. */
export const gate = (sched: Scheduler, inner: DynamoDB, calls: CallLog): DynamoDB => {
  const call = <A, E>(label: string, request: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.gen(function* () {
      const op = yield* FiberRef.get(currentOp);
      const id = calls.next++;
      if (op !== undefined) {
        let list = calls.byOp.get(op.n);
        if (list === undefined) calls.byOp.set(op.n, list = []);
        list.push(id);
      }
      yield* sched.park("call", `${label} (call ${id})`);
      calls.current = id;
      const exit = yield* Effect.exit(Effect.locally(request, currentCall, id));
      if (Exit.isSuccess(exit)) calls.ok.add(id);
      sched.bump();
      return yield* exit;
    });
  return {
    get: (table, key) => call("get", inner.get(table, key)),
    put: (table, item, options) => call("put", inner.put(table, item, options)),
    update: (table, key, update, options) =>
      call("update", inner.update(table, key, update, options)),
    delete: (table, key, options) => call("delete", inner.delete(table, key, options)),
    query: (table, query) => call("query", inner.query(table, query)),
    batchGet: (table, keys) => call("batchGet", inner.batchGet(table, keys)),
    batchWrite: (table, requests) => call("batchWrite", inner.batchWrite(table, requests)),
    transactWrite: (items) => call("transactWrite", inner.transactWrite(items)),
    createTable: (definition) => inner.createTable(definition),
    describeTable: (table) => inner.describeTable(table),
    enableTimeToLive: (table, attribute) => inner.enableTimeToLive(table, attribute),
    deleteTable: (table) => inner.deleteTable(table),
  };
};

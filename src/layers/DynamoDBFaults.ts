/**
 * A fault-injecting wrapper for any `DynamoDB` layer: it makes a seeded share of the requests
 * fail as DynamoDB and the network do — throttling, internal server errors, timeouts and dropped
 * connections — so that tests can check what the queue and its consumers do about them. Timeouts
 * and dropped connections happen either before the request reaches the table (nothing written)
 * or after it was applied (written, but the response is lost): the caller cannot tell which.
 * The same seed and the same sequence of requests inject the same faults. The counts of what was
 * injected are read through the `DynamoDBFaults` service.
 *
 * @example
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { DynamoDBFaults, DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect, Layer } from "effect";
 *
 * const faulty = DynamoDBFaults.layer({ seed: 42, throttle: 0.05, timeout: 0.05 }).pipe(
 *   Layer.provide(DynamoDBMemory.layerMemory),
 * );
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   yield* Effect.either(db.get("my-table", { pk: "a", sk: "b" }));
 *   const faults = yield* DynamoDBFaults.DynamoDBFaults;
 *   return yield* faults.counts; // { calls: 1, injected: 0 or 1, … }
 * });
 *
 * Effect.runPromise(program.pipe(Effect.provide(faulty)));
 * ```
 *
 * @module
 */
import * as Context from "effect/Context";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Layer from "effect/Layer";
import { type ConditionFailed, DynamoDBError } from "../Errors.ts";
import { dataOperations, DynamoDB, type Operation } from "../services/DynamoDB.ts";
import { seededRandom } from "../internal/seededRandom.ts";

/**
 * The kinds of fault: `throttle` (reason `Throttled`), `serverError` (an internal error, reason
 * `ServerError`), `timeout` and `dropped` (a connection reset; both reason `Transport`). All are
 * retryable.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultKind = "throttle" | "serverError" | "timeout" | "dropped";

/**
 * The fault kinds in a fixed order.
 *
 * @since 0.1.0
 * @category constants
 */
export const faultKinds: ReadonlyArray<FaultKind> = [
  "throttle",
  "serverError",
  "timeout",
  "dropped",
];

/**
 * One request, as the `schedule` option of {@linkcode FaultOptions} sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultRequest {
  /** The operation. */
  readonly operation: Operation;
  /** How many requests of the selected operations came before this one (0-based). */
  readonly call: number;
}

/**
 * The fate of one request chosen by a `schedule`:
 * - `Fail`: fails with `kind`, before the request reaches the table or (`after`, for `timeout`
 *   and `dropped`) after it was applied, as the rate options do;
 * - `Retried`: the request is applied, its response is lost, and the same request is sent again
 *   at once, as the AWS SDK's retry does: the caller gets the retry's outcome (a conditional write
 *   then typically fails its condition, on its own first write);
 * - `Stall`: the request waits `delay` (through `Clock`) and is then applied normally.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultDecision =
  | { readonly _tag: "Fail"; readonly kind: FaultKind; readonly after: boolean }
  | { readonly _tag: "Retried"; readonly kind: "timeout" | "dropped" }
  | { readonly _tag: "Stall"; readonly delay: Duration.DurationInput };

/**
 * Options of {@linkcode layer} and {@linkcode make}. Rates are probabilities per request (0–1);
 * their sum is the share of requests that fail and must not exceed 1.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultOptions {
  /** The seed of the PRNG that decides which requests fail. */
  readonly seed: number;
  /**
   * Share of requests throttled before they reach the table.
   * @default 0
   */
  readonly throttle?: number | undefined;
  /**
   * Share of requests failing with an internal server error before they reach the table.
   * @default 0
   */
  readonly serverError?: number | undefined;
  /**
   * Share of requests that time out, before or after they were applied.
   * @default 0
   */
  readonly timeout?: number | undefined;
  /**
   * Share of requests whose connection drops, before or after they were applied.
   * @default 0
   */
  readonly dropped?: number | undefined;
  /**
   * Of the timeouts and dropped connections, the share that happens after the request was
   * applied (written, response lost) rather than before it reached the table.
   * @default 0.5
   */
  readonly afterApplied?: number | undefined;
  /**
   * The operations that may fail.
   * @default the data operations (`DynamoDB.dataOperations`): none of the table administration
   */
  readonly operations?: ReadonlyArray<Operation> | undefined;
  /**
   * How long a timeout waits (through `Clock`) before it fails, as a client's request timeout
   * does. Dropped connections and the other faults fail at once.
   * @default 0
   */
  readonly timeoutDelay?: Duration.DurationInput | undefined;
  /**
   * Decides each request's fate instead of the rates and the PRNG (which are then unused):
   * `undefined` lets the request through. For fault schedules that a simulation chooses and
   * records itself; also the only way to get `Retried` and `Stall`.
   */
  readonly schedule?: ((request: FaultRequest) => FaultDecision | undefined) | undefined;
}

/**
 * What has been injected since the service was made or last reset.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultCounts {
  /** Requests of the selected operations sent while injection was enabled. */
  readonly calls: number;
  /** Faults injected, in all. */
  readonly injected: number;
  /** Faults injected, per kind. */
  readonly byKind: { readonly [K in FaultKind]: number };
  /** Faults injected, per operation (operations without faults left out). */
  readonly byOperation: { readonly [K in Operation]?: number };
  /** Timeouts and dropped connections that happened after the request was applied. */
  readonly afterApplied: number;
}

/**
 * Reads the counts of a fault-injecting `DynamoDB`, and turns injection off and on (to check the
 * final state of a test without faults, say).
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBFaults {
  /** The counts so far. */
  readonly counts: Effect.Effect<FaultCounts>;
  /** Sets every count back to zero (the PRNG goes on where it was). */
  readonly reset: Effect.Effect<void>;
  /** Turns injection on or off; requests sent while it is off are not counted. */
  readonly setEnabled: (enabled: boolean) => Effect.Effect<void>;
}

/**
 * The `DynamoDBFaults` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const DynamoDBFaults: Context.Tag<DynamoDBFaults, DynamoDBFaults> = Context.GenericTag<
  DynamoDBFaults
>("@dynamomq/dynamomq/DynamoDBFaults");

/**
 * A fault-injecting `DynamoDB` and the service that reads its counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Faulty {
  /** Forwards every call to the wrapped service, failing some as configured. */
  readonly service: DynamoDB;
  /** Reads and resets what was injected, and turns injection on and off. */
  readonly faults: DynamoDBFaults;
}

const rate = (name: string, value: number | undefined, fallback = 0): number => {
  const r = value ?? fallback;
  if (typeof r !== "number" || !Number.isFinite(r) || r < 0 || r > 1) {
    throw new RangeError(`DynamoDBFaults: ${name} must be a number from 0 to 1, got ${r}`);
  }
  return r;
};

const DETAIL: { readonly [K in FaultKind]: string } = {
  throttle: "injected fault: Rate of requests exceeds the allowed throughput",
  serverError: "injected fault: Internal server error",
  timeout: "injected fault: the request timed out",
  dropped: "injected fault: socket hang up (connection reset)",
};

const REASON: { readonly [K in FaultKind]: "Throttled" | "ServerError" | "Transport" } = {
  throttle: "Throttled",
  serverError: "ServerError",
  timeout: "Transport",
  dropped: "Transport",
};

const zeroKinds = (): Record<FaultKind, number> => ({
  throttle: 0,
  serverError: 0,
  timeout: 0,
  dropped: 0,
});

/**
 * Wraps a `DynamoDB` service so that a seeded share of its requests fail. Throws a `RangeError`
 * (a defect) for rates outside 0–1 or summing past 1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (inner: DynamoDB, options: FaultOptions): Effect.Effect<Faulty> =>
  Effect.sync(() => {
    const rates: ReadonlyArray<readonly [FaultKind, number]> = faultKinds.map((
      kind,
    ) => [kind, rate(kind, options[kind])] as const);
    const total = rates.reduce((sum, [, r]) => sum + r, 0);
    if (total > 1 + 1e-9) {
      throw new RangeError(`DynamoDBFaults: the rates sum to ${total}, more than 1`);
    }
    const afterShare = rate("afterApplied", options.afterApplied, 0.5);
    const selected = new Set<Operation>(options.operations ?? dataOperations);
    const delay = options.timeoutDelay === undefined
      ? Duration.zero
      : Duration.decode(options.timeoutDelay);
    const random = seededRandom(options.seed);

    let enabled = true;
    let calls = 0;
    let injected = 0;
    let afterApplied = 0;
    let byKind = zeroKinds();
    let byOperation: Partial<Record<Operation, number>> = {};

    const count = (op: Operation, kind: FaultKind, after: boolean): void => {
      injected += 1;
      byKind[kind] += 1;
      byOperation[op] = (byOperation[op] ?? 0) + 1;
      if (after) afterApplied += 1;
    };

    /** Draws the fate of one request: no fault, or a kind and whether it comes after applying. */
    const draw = (op: Operation): FaultDecision | undefined => {
      if (!enabled || !selected.has(op)) return undefined;
      calls += 1;
      if (options.schedule !== undefined) {
        const decision = options.schedule({ operation: op, call: calls - 1 });
        if (decision?._tag === "Fail") count(op, decision.kind, decision.after);
        if (decision?._tag === "Retried") count(op, decision.kind, true);
        return decision;
      }
      // Always two draws per request, so one request's fate never shifts the next one's.
      const r = random();
      const second = random();
      let acc = 0;
      for (const [kind, p] of rates) {
        acc += p;
        if (r < acc) {
          const after = (kind === "timeout" || kind === "dropped") && second < afterShare;
          count(op, kind, after);
          return { _tag: "Fail", kind, after };
        }
      }
      return undefined;
    };

    const fail = (
      op: Operation,
      kind: FaultKind,
      after: boolean,
    ): Effect.Effect<never, DynamoDBError> => {
      const error = new DynamoDBError({
        operation: op,
        reason: REASON[kind],
        retryable: true,
        detail: after ? `${DETAIL[kind]} (after the request was applied)` : DETAIL[kind],
      });
      return kind === "timeout" && Duration.toMillis(delay) > 0
        ? Effect.zipRight(Effect.sleep(delay), Effect.fail(error))
        : Effect.fail(error);
    };

    const faulty = <A, E extends ConditionFailed | DynamoDBError>(
      op: Operation,
      request: Effect.Effect<A, E>,
    ): Effect.Effect<A, E | DynamoDBError> =>
      Effect.suspend((): Effect.Effect<A, E | DynamoDBError> => {
        const fate = draw(op);
        if (fate === undefined) return request;
        if (fate._tag === "Stall") return Effect.zipRight(Effect.sleep(fate.delay), request);
        // Applied, response lost, and the same request sent again: its outcome is the caller's.
        if (fate._tag === "Retried") return Effect.zipRight(Effect.exit(request), request);
        if (!fate.after) return fail(op, fate.kind, false);
        // Applied, whatever its outcome, and then the response is lost.
        return Effect.flatMap(
          Effect.exit(request),
          (exit): Effect.Effect<A, E | DynamoDBError> =>
            Exit.isInterrupted(exit) ? exit : fail(op, fate.kind, true),
        );
      });

    const service: DynamoDB = {
      get: (table, key) => faulty("get", inner.get(table, key)),
      put: (table, item, options) => faulty("put", inner.put(table, item, options)),
      update: (table, key, update, options) =>
        faulty("update", inner.update(table, key, update, options)),
      delete: (table, key, options) => faulty("delete", inner.delete(table, key, options)),
      query: (table, query) => faulty("query", inner.query(table, query)),
      batchGet: (table, keys) => faulty("batchGet", inner.batchGet(table, keys)),
      batchWrite: (table, requests) => faulty("batchWrite", inner.batchWrite(table, requests)),
      transactWrite: (items) => faulty("transactWrite", inner.transactWrite(items)),
      createTable: (definition) => faulty("createTable", inner.createTable(definition)),
      describeTable: (table) => faulty("describeTable", inner.describeTable(table)),
      enableTimeToLive: (table, attribute) =>
        faulty("enableTimeToLive", inner.enableTimeToLive(table, attribute)),
      deleteTable: (table) => faulty("deleteTable", inner.deleteTable(table)),
    };

    const faults: DynamoDBFaults = {
      counts: Effect.sync((): FaultCounts => ({
        calls,
        injected,
        byKind: { ...byKind },
        byOperation: { ...byOperation },
        afterApplied,
      })),
      reset: Effect.sync(() => {
        calls = 0;
        injected = 0;
        afterApplied = 0;
        byKind = zeroKinds();
        byOperation = {};
      }),
      setEnabled: (on) =>
        Effect.sync(() => {
          enabled = on;
        }),
    };
    return { service, faults };
  });

/**
 * Replaces the `DynamoDB` service below it with one that injects faults, and adds the
 * `DynamoDBFaults` service that counts them. Provide it with any `DynamoDB` layer.
 *
 * @example Ten percent faults over the in-memory layer
 * ```ts
 * import { DynamoDBFaults, DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Layer } from "effect";
 *
 * const faulty = DynamoDBFaults.layer({
 *   seed: 7,
 *   throttle: 0.025,
 *   serverError: 0.025,
 *   timeout: 0.025,
 *   dropped: 0.025,
 * }).pipe(Layer.provide(DynamoDBMemory.layerMemory));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: FaultOptions,
): Layer.Layer<DynamoDB | DynamoDBFaults, never, DynamoDB> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const { faults, service } = yield* make(yield* DynamoDB, options);
      return Context.make(DynamoDB, service).pipe(Context.add(DynamoDBFaults, faults));
    }),
  );

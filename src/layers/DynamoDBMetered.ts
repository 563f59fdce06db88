/**
 * A metering wrapper for any `DynamoDB` layer: it counts the requests sent per port operation,
 * the items read and written, and the failed conditions and errors, and exposes the counts as the
 * `DynamoDBMeter` service. Put it in front of the live or memory layer to see what a workload
 * costs in requests (the demo prints "DynamoDB requests per message"; the benchmarks use it).
 *
 * @example
 * ```ts
 * import { DynamoDBLive, DynamoDBMetered, Queue, Table } from "@dynamomq/dynamomq";
 * import { Effect, Layer, Schema } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const q = yield* Queue.make({ table: "dynamomq", name: "jobs", schema: Schema.String });
 *   yield* q.send("hello");
 *   const meter = yield* DynamoDBMetered.DynamoDBMeter;
 *   const counts = yield* meter.snapshot;
 *   yield* Effect.log(`${counts.total} requests, ${counts.requests.put} puts`);
 * });
 *
 * program.pipe(
 *   Effect.provide(DynamoDBMetered.layer.pipe(Layer.provide(DynamoDBLive.layerConfig()))),
 *   Effect.runPromise,
 * );
 * ```
 *
 * @module
 */
import * as Cause from "effect/Cause";
import * as Context from "effect/Context";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Layer from "effect/Layer";
import type { ConditionFailed, DynamoDBError } from "../Errors.ts";
import { DynamoDB, type Operation, operations } from "../services/DynamoDB.ts";

/**
 * What the meter has counted since it was made or last reset.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  /** Requests sent, per operation (successful or not). */
  readonly requests: { readonly [K in Operation]: number };
  /** All requests sent. */
  readonly total: number;
  /** Items returned by `get`, `query` and `batchGet`. */
  readonly itemsRead: number;
  /**
   * Items written by successful `put`, `update`, `delete`, `batchWrite` (processed requests only)
   * and `transactWrite` (its puts, updates and deletes).
   */
  readonly itemsWritten: number;
  /** Conditional writes refused with `ConditionFailed` (lost races, stale leases, duplicates). */
  readonly conditionFailed: number;
  /** Requests that failed with `DynamoDBError`. */
  readonly errors: number;
}

/**
 * Reads and resets the counts of a metered `DynamoDB`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBMeter {
  /** The counts so far. */
  readonly snapshot: Effect.Effect<Counts>;
  /** Sets every count back to zero. */
  readonly reset: Effect.Effect<void>;
}

/**
 * The `DynamoDBMeter` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const DynamoDBMeter: Context.Tag<DynamoDBMeter, DynamoDBMeter> = Context.GenericTag<
  DynamoDBMeter
>("@dynamomq/dynamomq/DynamoDBMeter");

/**
 * A metered `DynamoDB` and the meter that reads its counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metered {
  /** Forwards every call to the wrapped service, counting it. */
  readonly service: DynamoDB;
  /** Reads and resets what was counted. */
  readonly meter: DynamoDBMeter;
}

/**
 * Per-operation counts as `"op=n"` pairs, operations never called left out: `"put=3 query=1"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatRequests = (counts: Counts): string =>
  operations.filter((op) => counts.requests[op] > 0).map((op) => `${op}=${counts.requests[op]}`)
    .join(" ");

const zeroRequests = (): Record<Operation, number> => {
  const requests = {} as Record<Operation, number>;
  for (const op of operations) requests[op] = 0;
  return requests;
};

/**
 * Wraps a `DynamoDB` service so that every request through it is counted. The counters are
 * plain numbers updated synchronously: a request is counted when it is sent, its items and
 * outcome when it completes (an interrupted request counts as sent, with no outcome).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (inner: DynamoDB): Effect.Effect<Metered> =>
  Effect.sync(() => {
    let requests = zeroRequests();
    let itemsRead = 0;
    let itemsWritten = 0;
    let conditionFailed = 0;
    let errors = 0;

    /** Counts one request of `op`; `onSuccess` returns how many items it read and wrote. */
    const metered = <A, E extends ConditionFailed | DynamoDBError>(
      op: Operation,
      request: Effect.Effect<A, E>,
      onSuccess: (a: A) => { readonly read?: number; readonly written?: number },
    ): Effect.Effect<A, E> =>
      Effect.suspend(() => {
        requests[op] += 1;
        return Effect.onExit(request, (exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) {
              const n = onSuccess(exit.value);
              itemsRead += n.read ?? 0;
              itemsWritten += n.written ?? 0;
              return;
            }
            for (const e of Cause.failures(exit.cause)) {
              if (e._tag === "ConditionFailed") conditionFailed += 1;
              else errors += 1;
            }
          }));
      });

    const none = () => ({});
    const service: DynamoDB = {
      get: (table, key) =>
        metered("get", inner.get(table, key), (item) => ({ read: item === undefined ? 0 : 1 })),
      put: (table, item, options) =>
        metered("put", inner.put(table, item, options), () => ({ written: 1 })),
      update: (table, key, update, options) =>
        metered("update", inner.update(table, key, update, options), () => ({ written: 1 })),
      delete: (table, key, options) =>
        metered("delete", inner.delete(table, key, options), () => ({ written: 1 })),
      query: (table, query) =>
        metered("query", inner.query(table, query), (page) => ({ read: page.items.length })),
      batchGet: (table, keys) =>
        metered("batchGet", inner.batchGet(table, keys), (r) => ({ read: r.items.length })),
      batchWrite: (table, batch) =>
        metered(
          "batchWrite",
          inner.batchWrite(table, batch),
          (r) => ({ written: batch.length - r.unprocessed.length }),
        ),
      transactWrite: (items) =>
        metered("transactWrite", inner.transactWrite(items), () => ({
          written: items.filter((i) => i._tag !== "ConditionCheck").length,
        })),
      createTable: (definition) => metered("createTable", inner.createTable(definition), none),
      describeTable: (table) => metered("describeTable", inner.describeTable(table), none),
      enableTimeToLive: (table, attribute) =>
        metered("enableTimeToLive", inner.enableTimeToLive(table, attribute), none),
      deleteTable: (table) => metered("deleteTable", inner.deleteTable(table), none),
    };

    const meter: DynamoDBMeter = {
      snapshot: Effect.sync((): Counts => {
        let total = 0;
        for (const op of operations) total += requests[op];
        return {
          requests: { ...requests },
          total,
          itemsRead,
          itemsWritten,
          conditionFailed,
          errors,
        };
      }),
      reset: Effect.sync(() => {
        requests = zeroRequests();
        itemsRead = 0;
        itemsWritten = 0;
        conditionFailed = 0;
        errors = 0;
      }),
    };
    return { service, meter };
  });

/**
 * Replaces the `DynamoDB` service below it with a metered one and adds the `DynamoDBMeter`.
 * Provide it with any `DynamoDB` layer.
 *
 * @example Meter the live layer
 * ```ts
 * import { DynamoDBLive, DynamoDBMetered } from "@dynamomq/dynamomq";
 * import { Layer } from "effect";
 *
 * const live = DynamoDBMetered.layer.pipe(Layer.provide(DynamoDBLive.layerConfig()));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<DynamoDB | DynamoDBMeter, never, DynamoDB> = Layer.effectContext(
  Effect.gen(function* () {
    const { meter, service } = yield* make(yield* DynamoDB);
    return Context.make(DynamoDB, service).pipe(Context.add(DynamoDBMeter, meter));
  }),
);

/**
 * An in-memory `DynamoDB`: the port implemented over plain maps, with DynamoDB's semantics for
 * everything the port offers — conditions, upserts, sparse indexes with their projections, UTF-8
 * sort order, query paging (limit before filter, the 1 MB page), batch and transaction limits,
 * the 400 KB item size and DynamoDB's validation errors. Use it for offline tests of code that
 * needs the `DynamoDB` service; every build of the layer starts with an empty store.
 *
 * Its rules were checked against DynamoDB Local. Where DynamoDB Local departs from AWS's
 * documented behaviour it follows AWS: a query page counts the items read before the filter
 * toward 1 MB, sized as the index stores them. Items with equal index sort keys come back in
 * table key order (DynamoDB's own order for them is unspecified), and TTL never deletes items.
 *
 * @example
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   yield* db.createTable({ name: "my-table", partitionKey: "pk", sortKey: "sk", indexes: [] });
 *   yield* db.put("my-table", { pk: "a", sk: "b", n: 1 }, {
 *     condition: DynamoDB.notExists("pk"),
 *   });
 *   return yield* db.get("my-table", { pk: "a", sk: "b" });
 * });
 *
 * Effect.runPromise(program.pipe(Effect.provide(DynamoDBMemory.layerMemory))); // { pk: "a", sk: "b", n: 1 }
 * ```
 *
 * @module
 */
// The parts live in src/internal/memory/: values, conditions, updates, tables, secondary indexes,
// queries, batches and transactions. This module wires them into one operation each.
import * as Clock from "effect/Clock";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import { DynamoDB } from "../services/DynamoDB.ts";
import { batchGet, batchWrite } from "../internal/memory/batches.ts";
import { holds, prepareCondition } from "../internal/memory/conditions.ts";
import {
  attempt,
  attemptWrite,
  ConditionFalse,
  invalid,
  Rejection,
} from "../internal/memory/failures.ts";
import { checkDefinitionName } from "../internal/memory/limits.ts";
import { query } from "../internal/memory/query.ts";
import { makeIndexLag, timed } from "../internal/memory/secondaryIndex.ts";
import {
  checkKey,
  describe,
  expire,
  findTable,
  hasExpiring,
  makeTable,
  preparePut,
  read,
  remove,
  type TableState,
  write,
} from "../internal/memory/tables.ts";
import { transactWrite } from "../internal/memory/transactions.ts";
import { checkUpdate, checkUpdateAgainst, updated } from "../internal/memory/updates.ts";
import { copyItemOut } from "../internal/memory/values.ts";

/**
 * Which optional DynamoDB features the in-memory backend offers. Turning one off makes it
 * behave like a backend without it (dynalite): the operation fails with a `DynamoDBError` of
 * reason `Unsupported`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /**
   * Whether `transactWrite` works.
   * @default true
   */
  readonly transactions?: boolean | undefined;
  /**
   * Whether `enableTimeToLive` works.
   * @default true
   */
  readonly ttl?: boolean | undefined;
  /**
   * How long after its TTL has passed an item is deleted (at the next write or query after that,
   * read from `Clock`). DynamoDB deletes expired items within days and the emulators never do,
   * so code must not count on it; the default keeps expired items around for an hour, as a
   * late deletion would, while a long-running process stays bounded.
   * @default "1 hour"
   */
  readonly ttlDeletionDelay?: Duration.DurationInput | undefined;
  /**
   * Eventual consistency of the global secondary indexes, as DynamoDB's own: each change of an
   * item's index entry (added, moved, removed) becomes visible to index queries only this long
   * after the write, read from `Clock` (so `TestClock` drives it). Until then a query sees the
   * entry as it was: missing, stale (old sort key and projected attributes) or still there after
   * the item was deleted. The changes of one item become visible in the order they were made.
   * Base-table reads and queries stay strongly consistent.
   * @default 0 (indexes are updated with the write)
   */
  readonly indexLag?: Duration.DurationInput | undefined;
  /**
   * With `indexLag`: when given, each change's delay is drawn uniformly from 0 to `indexLag` by
   * a PRNG seeded with this number (so a run repeats), instead of every change waiting exactly
   * `indexLag`; items then also become visible out of their write order.
   */
  readonly indexLagSeed?: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

const makeService = (options: MemoryOptions): DynamoDB => {
  const transactions = options.transactions ?? true;
  const ttl = options.ttl ?? true;
  // Infinite: never deleted.
  const ttlDeletionDelay = Math.max(
    0,
    Duration.toMillis(Duration.decode(options.ttlDeletionDelay ?? Duration.hours(1))),
  );
  const tables = new Map<string, TableState>();
  const indexLag = makeIndexLag(options.indexLag, options.indexLagSeed);
  // Writes and queries read the clock only with index lag (that is when visibility depends on
  // it) or while an item written with a TTL waits to expire: they first delete expired items.
  const lagged = <A, E>(f: (tick: () => void) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.suspend(() => {
      for (const table of tables.values()) {
        if (hasExpiring(table)) {
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            for (const t of tables.values()) expire(t, now - ttlDeletionDelay);
            return timed(indexLag, f);
          });
        }
      }
      return timed(indexLag, f);
    });
  const tableOf = (name: string): TableState => findTable(tables, name);

  const service: DynamoDB = {
    get: (table, key) =>
      attempt("get", () => {
        const state = tableOf(table);
        const item = read(state, checkKey(state, key));
        return item === undefined ? undefined : copyItemOut(item);
      }),

    put: (table, item, options) =>
      lagged((tick) =>
        attemptWrite("put", () => {
          tick();
          const condition = prepareCondition(options?.condition);
          const state = tableOf(table);
          const { target, item: stored } = preparePut(state, item);
          if (!holds(condition, read(state, target))) throw new ConditionFalse(table, target.key);
          write(state, target, stored);
        })
      ),

    update: (table, key, update, options) =>
      lagged((tick) =>
        attemptWrite("update", () => {
          tick();
          const checked = checkUpdate(update);
          const condition = prepareCondition(options?.condition);
          const state = tableOf(table);
          const target = checkKey(state, key);
          checkUpdateAgainst(state, target, checked);
          const current = read(state, target);
          if (!holds(condition, current)) {
            // ReturnValuesOnConditionCheckFailure: ALL_OLD, when asked for.
            throw new ConditionFalse(
              table,
              target.key,
              options?.itemOnConditionFailure === true && current !== undefined
                ? copyItemOut(current)
                : undefined,
            );
          }
          const next = updated(state, target, current, checked);
          write(state, target, next);
          return copyItemOut(next);
        })
      ),

    delete: (table, key, options) =>
      lagged((tick) =>
        attemptWrite("delete", () => {
          tick();
          const condition = prepareCondition(options?.condition);
          const state = tableOf(table);
          const target = checkKey(state, key);
          const current = read(state, target);
          if (!holds(condition, current)) throw new ConditionFalse(table, target.key);
          remove(state, target);
          return current === undefined || options?.returnOld === false
            ? undefined
            : copyItemOut(current);
        })
      ),

    query: (table, q) =>
      lagged((tick) =>
        attempt("query", () => {
          tick();
          return query(tables, table, q);
        })
      ),

    batchGet: (table, keys) => attempt("batchGet", () => batchGet(tables, table, keys)),

    batchWrite: (table, requests) =>
      lagged((tick) =>
        attempt("batchWrite", () => {
          tick();
          return batchWrite(tables, table, requests);
        })
      ),

    transactWrite: (items) =>
      lagged((tick) =>
        attemptWrite("transactWrite", () => {
          tick();
          if (!transactions) {
            throw new Rejection(
              "Unsupported",
              "TransactWriteItems is not supported by this backend",
            );
          }
          transactWrite(tables, items);
        })
      ),

    createTable: (definition) =>
      attempt("createTable", () => {
        const table = makeTable(definition, indexLag);
        if (tables.has(table.name)) {
          throw new Rejection("TableExists", `Table already exists: ${table.name}`);
        }
        tables.set(table.name, table);
      }),

    describeTable: (table) => attempt("describeTable", () => describe(tableOf(table))),

    enableTimeToLive: (table, attribute) =>
      attempt("enableTimeToLive", () => {
        if (!ttl) {
          throw new Rejection("Unsupported", "UpdateTimeToLive is not supported by this backend");
        }
        const state = tableOf(table);
        checkDefinitionName(attribute);
        if (state.ttlAttribute === attribute) invalid("TimeToLive is already enabled");
        if (state.ttlAttribute !== undefined) {
          invalid("TimeToLive is active on a different AttributeName");
        }
        state.ttlAttribute = attribute;
      }),

    deleteTable: (table) =>
      attempt("deleteTable", () => {
        tableOf(table);
        tables.delete(table);
      }),
  };
  return service;
};

/**
 * A fresh, empty in-memory `DynamoDB` service with transactions and TTL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<DynamoDB> = Effect.sync(() => makeService({}));

/**
 * An in-memory `DynamoDB` layer with only the features given, e.g. `{ transactions: false }` to
 * test code paths for backends without transactions (dynalite), or `{ indexLag: "100 millis" }`
 * for eventually consistent indexes, as DynamoDB's global secondary indexes are. Each build
 * starts empty.
 *
 * @example Simulate a backend without transactions
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect } from "effect";
 *
 * const program = Effect.flatMap(DynamoDB.DynamoDB, (db) => db.transactWrite([]));
 * // fails with DynamoDBError, reason "Unsupported"
 * Effect.runPromiseExit(program.pipe(Effect.provide(DynamoDBMemory.layerMemoryWith({ transactions: false }))));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryWith = (options: MemoryOptions): Layer.Layer<DynamoDB> =>
  Layer.sync(DynamoDB, () => makeService(options));

/**
 * An in-memory `DynamoDB` layer. Every build of the layer (every `Effect.provide` of it) starts
 * with an empty store, so tests never share data.
 *
 * @example Provide the in-memory layer in a test
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect } from "effect";
 *
 * const test = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   yield* db.createTable({ name: "test-table", partitionKey: "pk", sortKey: "sk", indexes: [] });
 *   yield* db.put("test-table", { pk: "a", sk: "1" });
 *   const page = yield* db.query("test-table", { partition: { attribute: "pk", value: "a" } });
 *   console.assert(page.items.length === 1);
 * });
 *
 * await Effect.runPromise(test.pipe(Effect.provide(DynamoDBMemory.layerMemory)));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<DynamoDB> = layerMemoryWith({});

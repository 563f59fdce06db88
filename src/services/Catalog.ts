/**
 * The table's catalog of queues: one small item per queue (partition `#queues`, sort key = the
 * queue name) with the shape its producers and consumers use. A queue handle writes it on its
 * first send or receive, so tools that did not make the queue (the dashboard) can list every
 * queue in a table and read each over the right index partitions, without a `Scan`.
 *
 * @example
 * ```ts
 * import { Catalog, DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const names = Catalog.list("dynamomq").pipe(Effect.map((queues) => queues.map((q) => q.name)));
 * Effect.runPromise(names.pipe(Effect.provide(DynamoDBLive.layerConfig())));
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect";
import type { ConditionFailed, DynamoDBError } from "../Errors.ts";
import { CATALOG_PK, QUEUE_NAME } from "../internal/keys.ts";
import { DynamoDB, type Item, type Key, type QueryPage } from "./DynamoDB.ts";

/**
 * One queue as the catalog knows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueDescriptor {
  /** The queue's name. */
  readonly name: string;
  /** Its index shards. */
  readonly shards: number;
  /** Its priority bands. */
  readonly priorities: number;
  /** The receive count at which it dead-letters a message. */
  readonly maxReceives: number;
  /** Its default visibility timeout in milliseconds. */
  readonly visibilityTimeoutMillis: number;
  /** When a handle last registered it (epoch ms). */
  readonly registeredAt: number;
  /**
   * How many messages its handles have acked, all time, as they reported it: each handle adds
   * its acks at most every 10 seconds, beside a later request of its own, so the figure trails
   * by that much (and a process that exits drops its last unreported seconds).
   */
  readonly completed: number;
}

const isCount = (v: unknown, max: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= max;

/** Reads a catalog item; `undefined` for one that is not a valid descriptor (left alone). */
const descriptorOf = (item: Item): QueueDescriptor | undefined => {
  const { sk, shards, priorities, maxReceives, visibilityTimeoutMillis, registeredAt } = item;
  if (typeof sk !== "string" || !QUEUE_NAME.test(sk)) return undefined;
  if (!isCount(shards, 64) || !isCount(priorities, 10) || !isCount(maxReceives, 10_000)) {
    return undefined;
  }
  if (typeof visibilityTimeoutMillis !== "number" || typeof registeredAt !== "number") {
    return undefined;
  }
  const completed = typeof item.completed === "number" ? item.completed : 0;
  return {
    name: sk,
    shards,
    priorities,
    maxReceives,
    visibilityTimeoutMillis,
    registeredAt,
    completed,
  };
};

/** An unconditional update cannot fail its condition. */
const unconditional = <A>(
  effect: Effect.Effect<A, ConditionFailed | DynamoDBError>,
): Effect.Effect<void, DynamoDBError> =>
  Effect.asVoid(Effect.catchTag(effect, "ConditionFailed", () => Effect.void));

/**
 * Writes a queue's shape into its catalog item (creating it), keeping its `completed` count. The
 * last handle to register wins, so the catalog follows a queue whose shape changes.
 *
 * @since 0.1.0
 * @category writes
 */
export const register = (
  table: string,
  queue: Omit<QueueDescriptor, "completed">,
): Effect.Effect<void, DynamoDBError, DynamoDB> =>
  Effect.flatMap(
    DynamoDB,
    (db) =>
      unconditional(db.update(table, { pk: CATALOG_PK, sk: queue.name }, {
        set: {
          shards: queue.shards,
          priorities: queue.priorities,
          maxReceives: queue.maxReceives,
          visibilityTimeoutMillis: queue.visibilityTimeoutMillis,
          registeredAt: queue.registeredAt,
        },
      })),
  );

/**
 * Adds `count` acked messages to a queue's `completed` count (one `UpdateItem` with `ADD`, so
 * every handle of the queue can report at once without losing any).
 *
 * @since 0.1.0
 * @category writes
 */
export const addCompleted = (
  table: string,
  queue: string,
  count: number,
): Effect.Effect<void, DynamoDBError, DynamoDB> =>
  Effect.flatMap(DynamoDB, (db) =>
    unconditional(
      db.update(table, { pk: CATALOG_PK, sk: queue }, { add: { completed: count } }),
    ));

/**
 * Every queue in the table's catalog, sorted by name (one `Query`, paged).
 *
 * @since 0.1.0
 * @category reads
 */
export const list = (
  table: string,
): Effect.Effect<ReadonlyArray<QueueDescriptor>, DynamoDBError, DynamoDB> =>
  Effect.flatMap(DynamoDB, (db) =>
    Effect.gen(function* () {
      const queues: Array<QueueDescriptor> = [];
      let startKey: Key | undefined = undefined;
      do {
        const page: QueryPage = yield* db.query(table, {
          partition: { attribute: "pk", value: CATALOG_PK },
          startKey,
          consistent: true,
        });
        for (const item of page.items) {
          const d = descriptorOf(item);
          if (d !== undefined) queues.push(d);
        }
        startKey = page.lastKey;
      } while (startKey !== undefined);
      // The sort key is the name, so the query's order is already by name.
      return queues;
    }));

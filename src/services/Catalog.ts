/**
 * The table's catalog of queues: one small item per queue (partition `#queues`, sort key = the
 * queue name) holding the queue's **definition** — its shape and settings, with a version —
 * written once when the queue is defined (`Queue.define`, or the first `Queue.make`) and changed
 * only by `Queue.update`. Every handle, tool and reader runs with it, so tools that did not make
 * the queue (the CLI, the dashboard) read it over the right index partitions, without a `Scan`.
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
import type { DynamoDBError } from "../Errors.ts";
import { CATALOG_PK } from "../internal/keys.ts";
import {
  catalogKey,
  LEGACY_DEFAULTS,
  parseDefinition,
  toDescriptor,
} from "../internal/queue/definition.ts";
import { DynamoDB, type Key, type QueryPage } from "./DynamoDB.ts";

/**
 * A queue's stored definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueDefinition {
  /** The queue's name. */
  readonly name: string;
  /**
   * The definition's version: 1 when defined, one more at each `Queue.update`. 0 for a catalog
   * item written by an earlier release (no definition yet: the next `Queue.make` writes one).
   */
  readonly version: number;
  /** Its index shards (fixed). */
  readonly shards: number;
  /** Its priority bands (fixed). */
  readonly priorities: number;
  /** The receive count at which it dead-letters a message. */
  readonly maxReceives: number;
  /** Its default visibility timeout in milliseconds. */
  readonly visibilityTimeoutMillis: number;
  /** Its deduplication window in milliseconds. */
  readonly deduplicationWindowMillis: number;
  /** Payloads larger than this many bytes are stored compressed; `false`: never. */
  readonly compressAbove: number | false;
  /** Whether sends without a deduplication id are deduplicated by content. */
  readonly contentBasedDeduplication: boolean;
  /** When it was defined (epoch ms). */
  readonly definedAt: number;
  /** When it last changed (epoch ms). */
  readonly updatedAt: number;
}

/**
 * One queue as the catalog knows it: its definition and its throughput.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueDescriptor extends QueueDefinition {
  /** When it was defined (epoch ms); the same as `definedAt`. */
  readonly registeredAt: number;
  /**
   * How many messages its handles have acked, all time, as they reported it: each handle adds
   * its acks at most every 10 seconds, beside a later request of its own, so the figure trails
   * by that much (and a process that exits drops its last unreported seconds).
   */
  readonly completed: number;
}

/**
 * One queue's catalog entry (one strongly consistent `GetItem`), `undefined` when the table has
 * none.
 *
 * @since 0.1.0
 * @category reads
 */
export const get = (
  table: string,
  queue: string,
): Effect.Effect<QueueDescriptor | undefined, DynamoDBError, DynamoDB> =>
  Effect.flatMap(DynamoDB, (db) =>
    Effect.map(db.get(table, catalogKey(queue)), (item) => {
      const d = item === undefined ? undefined : parseDefinition(item, LEGACY_DEFAULTS);
      return d === undefined ? undefined : toDescriptor(d);
    }));

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
          const d = parseDefinition(item, LEGACY_DEFAULTS);
          if (d !== undefined) queues.push(toDescriptor(d));
        }
        startKey = page.lastKey;
      } while (startKey !== undefined);
      // The sort key is the name, so the query's order is already by name.
      return queues;
    }));

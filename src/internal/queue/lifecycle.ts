/**
 * The lifecycle of a queue's definition: define, describe, update and delete (`Queue.define`,
 * `Queue.describe`, `Queue.update`, `Queue.delete`; `dynamomq queue …`).
 *
 * Requests: define = GetItem (+ one conditional UpdateItem when the queue is new); describe =
 * GetItem; update = GetItem + UpdateItem conditional on the version read; delete = GetItem, the
 * stats queries, and with `force` the purge's queries and deletes, the index queries that find
 * its FIFO groups, a Query and a DeleteItem per group item, then a DeleteItem of the definition conditional on its version.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Option from "effect/Option";
import * as Schema from "effect/Schema";
import {
  type DynamoDBError,
  type InvalidOptions,
  QueueDefinitionConflict,
  QueueNotEmpty,
  QueueNotFound,
} from "../../Errors.ts";
import type { QueueDefinition, QueueDescriptor } from "../../services/Catalog.ts";
import { DynamoDB, type Key, type QueryPage } from "../../services/DynamoDB.ts";
import type { QueueOptions, QueueUpdate } from "../../services/Queue.ts";
import { makeContext } from "./context.ts";
import { forEachEntryPage } from "./inspect.ts";
import {
  type DefinitionChanges,
  definitionOf,
  readDefinition,
  removeDefinition,
  toDescriptor,
  updateDefinition,
  withDefined,
} from "./definition.ts";
import { makeQueue, resolveSettings } from "./make.ts";
import { durationMillis, integerIn, invalid, settingsOf } from "./options.ts";

/** The queue's catalog entry, if any. */
export const describeQueue = (
  table: string,
  name: string,
): Effect.Effect<Option.Option<QueueDescriptor>, DynamoDBError, DynamoDB> =>
  Effect.flatMap(DynamoDB, (db) =>
    Effect.map(
      readDefinition(db, table, name),
      (d) => d === undefined ? Option.none() : Option.some(toDescriptor(d)),
    ));

/** Defines the queue from the options, or checks that its definition agrees with them. */
export const defineQueue = (
  options: Omit<QueueOptions<unknown, unknown>, "schema">,
): Effect.Effect<
  QueueDefinition,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> =>
  Effect.gen(function* () {
    yield* resolveSettings(options, { absent: "create" });
    const found = yield* describeQueue(options.table, options.name);
    // Just written or read; a delete in between is reported as a conflict on the version.
    if (Option.isNone(found)) {
      return yield* new QueueDefinitionConflict({
        queue: options.name,
        conflicts: [{ setting: "version", stored: "deleted meanwhile", requested: 1 }],
      });
    }
    return definitionOf(found.value);
  });

/** Validates an update's changes. */
const changesOf = (u: QueueUpdate): Effect.Effect<DefinitionChanges, InvalidOptions> =>
  Effect.gen(function* () {
    const op = "Queue.update";
    const changes: { -readonly [K in keyof DefinitionChanges]: DefinitionChanges[K] } = {};
    if (u.visibilityTimeout !== undefined) {
      const v = yield* durationMillis(op, "visibilityTimeout", u.visibilityTimeout, Duration.zero);
      if (v < 1) return yield* invalid(op, "visibilityTimeout", "must be positive");
      changes.visibilityTimeoutMillis = v;
    }
    if (u.maxReceives !== undefined) {
      changes.maxReceives = yield* integerIn(op, "maxReceives", u.maxReceives, 0, 1, 10_000);
    }
    if (u.deduplicationWindow !== undefined) {
      changes.deduplicationWindowMillis = yield* durationMillis(
        op,
        "deduplicationWindow",
        u.deduplicationWindow,
        Duration.zero,
      );
    }
    if (u.compressAbove !== undefined) {
      changes.compressAbove = u.compressAbove === false
        ? Infinity
        : yield* integerIn(op, "compressAbove", u.compressAbove, 0, 0, 400 * 1024);
    }
    if (u.contentBasedDeduplication !== undefined) {
      changes.contentBasedDeduplication = u.contentBasedDeduplication;
    }
    if (u.shards !== undefined) changes.shards = yield* integerIn(op, "shards", u.shards, 1, 1, 64);
    if (u.priorities !== undefined) {
      changes.priorities = yield* integerIn(op, "priorities", u.priorities, 1, 1, 10);
    }
    return changes;
  });

/** Applies an update to the queue's definition as its next version. */
export const updateQueue = (
  table: string,
  name: string,
  update: QueueUpdate,
): Effect.Effect<
  QueueDefinition,
  InvalidOptions | QueueNotFound | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> =>
  Effect.gen(function* () {
    yield* settingsOf({ table, name, schema: Schema.Unknown });
    const changes = yield* changesOf(update);
    const db = yield* DynamoDB;
    const next = yield* updateDefinition(
      db,
      table,
      name,
      changes,
      update.expectedVersion,
      Effect.clockWith((c) => c.currentTimeMillis),
    );
    return definitionOf(toDescriptor(next));
  });

/** Deletes every item of one FIFO group partition key. */
const deletePartition = (
  db: DynamoDB,
  table: string,
  pk: string,
): Effect.Effect<void, DynamoDBError> =>
  Effect.gen(function* () {
    let startKey: Key | undefined = undefined;
    do {
      const page: QueryPage = yield* db.query(table, {
        partition: { attribute: "pk", value: pk },
        startKey,
        consistent: true,
      });
      yield* Effect.forEach(
        page.items,
        (item) =>
          Effect.catchTag(
            db.delete(table, { pk: item.pk as string, sk: item.sk as string }),
            "ConditionFailed",
            () => Effect.void,
          ),
        { concurrency: 8, discard: true },
      );
      startKey = page.lastKey;
    } while (startKey !== undefined);
  });

/**
 * Deletes a queue: refused while it holds messages unless `force`, which deletes them (and its
 * FIFO groups) first; then its definition. Returns how many messages were deleted.
 */
export const deleteQueue = (
  table: string,
  name: string,
  options: { readonly force?: boolean | undefined } | undefined,
): Effect.Effect<
  { readonly messages: number },
  InvalidOptions | QueueNotFound | QueueNotEmpty | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> =>
  Effect.gen(function* () {
    const base = yield* settingsOf({ table, name, schema: Schema.Unknown });
    const db = yield* DynamoDB;
    const stored = yield* readDefinition(db, table, name);
    if (stored === undefined) return yield* new QueueNotFound({ table, queue: name });
    const live = { current: withDefined(base, stored), version: stored.version, readAt: 0 };
    const queue = makeQueue(db, live, Schema.Unknown);
    const stats = yield* queue.stats;
    const held = stats.ready + stats.delayed + stats.inflight + stats.dead;
    if (held > 0 && options?.force !== true) {
      return yield* new QueueNotEmpty({ queue: name, messages: held });
    }
    const messages = held > 0 ? yield* queue.purge() : 0;
    // FIFO groups: each group's items live under its own partition key, found by the group's
    // index entry (which purge keeps, made receivable).
    const groups = new Set<string>();
    yield* forEachEntryPage(
      makeContext(db, live, Schema.Unknown),
      undefined,
      yield* Clock.currentTimeMillis,
      (entries) =>
        Effect.sync(() => {
          for (const e of entries) {
            if (e.state === "group" && typeof e.pk === "string") groups.add(e.pk);
          }
        }),
    );
    yield* Effect.forEach(groups, (pk) => deletePartition(db, table, pk), {
      concurrency: 4,
      discard: true,
    });
    yield* removeDefinition(db, table, stored).pipe(
      Effect.catchTag("ConditionFailed", () =>
        new QueueDefinitionConflict({
          queue: name,
          conflicts: [{
            setting: "version",
            stored: "changed meanwhile",
            requested: stored.version,
          }],
        })),
    );
    return { messages };
  });

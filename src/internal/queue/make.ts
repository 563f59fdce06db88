/**
 * Assembles a `Queue<A>` from its protocols. Each part receives the same `QueueContext`; the
 * parts that ride catalog requests on theirs (send, receive, settle) share the handle's one
 * `CatalogReport`, which also keeps the context's live settings current.
 *
 * `openQueue` first settles the settings with the queue's stored definition (one GetItem, and one
 * conditional UpdateItem when it writes the definition): see `definition.ts`.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Schema from "effect/Schema";
import type { DynamoDBError, InvalidOptions, QueueDefinitionConflict } from "../../Errors.ts";
import { DynamoDB } from "../../services/DynamoDB.ts";
import type { Queue, QueueOptions } from "../../services/Queue.ts";
import { makeAdmin } from "./admin.ts";
import { makeCatalogReport } from "./catalogReport.ts";
import { type LiveSettings, makeContext } from "./context.ts";
import { type Absent, DEFINED, type DefinedSetting, resolveDefinition } from "./definition.ts";
import { makeInspect } from "./inspect.ts";
import { type Settings, settingsOf } from "./options.ts";
import { makeReceive } from "./receive.ts";
import { makeSend } from "./send.ts";
import { makeSettle } from "./settle.ts";

/** The stored settings that `options` sets (rather than leaving to the definition). */
export const givenOf = (
  options: Omit<QueueOptions<unknown, unknown>, "schema">,
): ReadonlySet<DefinedSetting> =>
  new Set(
    DEFINED.filter((k) => {
      switch (k) {
        case "visibilityTimeoutMillis":
          return options.visibilityTimeout !== undefined;
        case "deduplicationWindowMillis":
          return options.deduplicationWindow !== undefined;
        default:
          return options[k] !== undefined;
      }
    }),
  );

/** How `openQueue` treats the options: as the queue's settings, or as defaults only. */
export interface OpenMode {
  /** What to do when the queue has no definition. */
  readonly absent: Absent;
  /**
   * The settings the options set that must agree with the definition; by default, every one
   * they set. A tool passes none to adopt the definition, its options serving only to create one.
   */
  readonly given?: ReadonlySet<DefinedSetting> | undefined;
}

/** Validates the options and settles them with the stored definition: the settings to run with. */
export const resolveSettings = (
  options: Omit<QueueOptions<unknown, unknown>, "schema">,
  mode: OpenMode,
): Effect.Effect<
  LiveSettings,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> =>
  Effect.gen(function* () {
    const settings = yield* settingsOf({ ...options, schema: Schema.Unknown });
    const db = yield* DynamoDB;
    const resolved = yield* resolveDefinition(
      db,
      settings,
      mode.given ?? givenOf(options),
      mode.absent,
      Clock.currentTimeMillis,
    );
    return { current: resolved.settings, version: resolved.version, readAt: resolved.readAt };
  });

/** A typed handle for one queue, with the stored definition's settings. */
export const openQueue = <A, I>(
  options: QueueOptions<A, I>,
  mode: OpenMode,
): Effect.Effect<
  Queue<A>,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> =>
  Effect.gen(function* () {
    const live = yield* resolveSettings(options, mode);
    return makeQueue(yield* DynamoDB, live, options.schema);
  });

/** A typed handle for one queue, over settings already settled with its definition. */
export const makeQueue = <A, I>(
  db: DynamoDB,
  live: LiveSettings,
  schema: Schema.Schema<A, I>,
): Queue<A> => {
  const settings: Settings = live.current;
  const ctx = makeContext(db, live, schema);
  const catalog = makeCatalogReport(ctx);
  const send = makeSend(ctx, catalog);
  const receive = makeReceive(ctx, catalog);
  const settle = makeSettle(ctx, catalog);
  const admin = makeAdmin(ctx);
  const inspect = makeInspect(ctx);
  // Listed one by one, in the order of the `Queue` interface.
  return {
    name: settings.name,
    table: settings.table,
    get visibilityTimeoutMillis() {
      return live.current.visibilityTimeoutMillis;
    },
    get maxReceives() {
      return live.current.maxReceives;
    },
    shards: settings.shards,
    priorities: settings.priorities,
    send: send.send,
    sendBatch: send.sendBatch,
    transactItem: send.transactItem,
    receive: receive.receive,
    ack: settle.ack,
    ackBatch: settle.ackBatch,
    nack: settle.nack,
    nackBatch: settle.nackBatch,
    changeVisibility: settle.changeVisibility,
    changeVisibilityBatch: settle.changeVisibilityBatch,
    release: settle.release,
    deadLetter: settle.deadLetter,
    reschedule: admin.reschedule,
    cancel: admin.cancel,
    delete: admin.delete,
    moveToDeadLetter: admin.moveToDeadLetter,
    redrive: admin.redrive,
    redriveAll: admin.redriveAll,
    get: inspect.get,
    resume: inspect.resume,
    list: inspect.list,
    stats: inspect.stats,
    purge: admin.purge,
  };
};

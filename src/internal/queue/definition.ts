/**
 * A queue's stored definition: its shape and settings, kept in its catalog item
 * (`pk = #queues`, `sk = <queue>`) with a `version`. Every handle, tool and reader runs with the
 * stored settings, never with its own guess.
 *
 * Requests:
 * - read: one strongly consistent GetItem of the catalog item.
 * - create: one UpdateItem, conditional on `attribute_not_exists(version)`, so two first handles
 *   agree on one definition (the loser re-reads and adopts or conflicts). An UpdateItem keeps
 *   what a pre-definition catalog item already holds (its `completed` count).
 * - update: one UpdateItem conditional on `version = <the version read>`, setting `version + 1`.
 * - remove: one DeleteItem conditional on the version read.
 *
 * A catalog item without `version` was registered by a handle of an earlier release: it is not
 * a definition. A handle that meets one writes the definition, taking the settings its options
 * leave unspecified from that item (its last registrant's shape) rather than from the defaults.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import {
  type ConditionFailed,
  type DynamoDBError,
  InvalidOptions,
  QueueDefinitionConflict,
  QueueNotFound,
  type SettingConflict,
} from "../../Errors.ts";
import { CATALOG_PK, QUEUE_NAME } from "../keys.ts";
import { compare, type DynamoDB, type Item, notExists } from "../../services/DynamoDB.ts";
import type { QueueDefinition, QueueDescriptor } from "../../services/Catalog.ts";
import type { Settings } from "./options.ts";

/** The settings a definition stores, in the order of `QueueOptions`. */
export const DEFINED: ReadonlyArray<DefinedSetting> = [
  "visibilityTimeoutMillis",
  "maxReceives",
  "shards",
  "priorities",
  "compressAbove",
  "deduplicationWindowMillis",
  "contentBasedDeduplication",
];

/** The name of a stored setting. */
export type DefinedSetting =
  | "visibilityTimeoutMillis"
  | "maxReceives"
  | "shards"
  | "priorities"
  | "compressAbove"
  | "deduplicationWindowMillis"
  | "contentBasedDeduplication";

/** Settings that an update may change while handles run (read again by every handle). */
export const LIVE: ReadonlyArray<DefinedSetting> = [
  "visibilityTimeoutMillis",
  "maxReceives",
  "compressAbove",
  "deduplicationWindowMillis",
  "contentBasedDeduplication",
];

/** The option each setting comes from (for error messages). */
export const optionOf: Readonly<Record<DefinedSetting, string>> = {
  visibilityTimeoutMillis: "visibilityTimeout",
  maxReceives: "maxReceives",
  shards: "shards",
  priorities: "priorities",
  compressAbove: "compressAbove",
  deduplicationWindowMillis: "deduplicationWindow",
  contentBasedDeduplication: "contentBasedDeduplication",
};

/** The stored settings of a queue. `compressAbove` is `Infinity` for "never". */
export type DefinedSettings = Pick<Settings, DefinedSetting>;

/** A queue's catalog item, read. */
export interface StoredDefinition extends DefinedSettings {
  readonly name: string;
  /** 1 and up for a definition; 0 for a catalog item of an earlier release (not a definition). */
  readonly version: number;
  readonly definedAt: number;
  readonly updatedAt: number;
  readonly completed: number;
}

const isCount = (v: unknown, max: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= max;

const isMillis = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** The catalog key of a queue. */
export const catalogKey = (name: string): { pk: string; sk: string } => ({
  pk: CATALOG_PK,
  sk: name,
});

/**
 * Reads a catalog item; `undefined` for one that is neither a definition nor a valid catalog
 * item of an earlier release (left alone). Missing settings of an earlier release's item take
 * the defaults in `defaults`.
 */
export const parseDefinition = (
  item: Item,
  defaults: Pick<
    DefinedSettings,
    "compressAbove" | "deduplicationWindowMillis" | "contentBasedDeduplication"
  >,
): StoredDefinition | undefined => {
  const { sk, shards, priorities, maxReceives, visibilityTimeoutMillis } = item;
  if (typeof sk !== "string" || !QUEUE_NAME.test(sk)) return undefined;
  if (!isCount(shards, 64) || !isCount(priorities, 10) || !isCount(maxReceives, 10_000)) {
    return undefined;
  }
  if (!isMillis(visibilityTimeoutMillis) || visibilityTimeoutMillis < 1) return undefined;
  const version = typeof item.version === "number" && Number.isInteger(item.version)
    ? Math.max(0, item.version)
    : 0;
  const registeredAt = typeof item.registeredAt === "number" ? item.registeredAt : 0;
  const definedAt = typeof item.definedAt === "number" ? item.definedAt : registeredAt;
  return {
    name: sk,
    version,
    shards,
    priorities,
    maxReceives,
    visibilityTimeoutMillis,
    compressAbove: item.compressAbove === false
      ? Infinity
      : isMillis(item.compressAbove)
      ? item.compressAbove
      : defaults.compressAbove,
    deduplicationWindowMillis: isMillis(item.deduplicationWindowMillis)
      ? item.deduplicationWindowMillis
      : defaults.deduplicationWindowMillis,
    contentBasedDeduplication: typeof item.contentBasedDeduplication === "boolean"
      ? item.contentBasedDeduplication
      : defaults.contentBasedDeduplication,
    definedAt,
    updatedAt: typeof item.updatedAt === "number" ? item.updatedAt : definedAt,
    completed: typeof item.completed === "number" ? item.completed : 0,
  };
};

/** The defaults of the settings an earlier release did not register. */
export const LEGACY_DEFAULTS: Pick<
  DefinedSettings,
  "compressAbove" | "deduplicationWindowMillis" | "contentBasedDeduplication"
> = { compressAbove: 4096, deduplicationWindowMillis: 300_000, contentBasedDeduplication: false };

/** Reads a queue's catalog item (one strongly consistent GetItem). */
export const readDefinition = (
  db: DynamoDB,
  table: string,
  name: string,
): Effect.Effect<StoredDefinition | undefined, DynamoDBError> =>
  Effect.map(
    db.get(table, catalogKey(name)),
    (item) => item === undefined ? undefined : parseDefinition(item, LEGACY_DEFAULTS),
  );

/** The stored form of the settings. */
const storedSettings = (s: DefinedSettings): Item => ({
  shards: s.shards,
  priorities: s.priorities,
  maxReceives: s.maxReceives,
  visibilityTimeoutMillis: s.visibilityTimeoutMillis,
  compressAbove: s.compressAbove === Infinity ? false : s.compressAbove,
  deduplicationWindowMillis: s.deduplicationWindowMillis,
  contentBasedDeduplication: s.contentBasedDeduplication,
});

const same = (a: unknown, b: unknown): boolean => a === b;

/** Where `requested` contradicts `stored`, setting by setting. */
export const conflictsOf = (
  stored: DefinedSettings,
  requested: Partial<DefinedSettings>,
): ReadonlyArray<SettingConflict> =>
  DEFINED.flatMap((k) => {
    const want = requested[k];
    if (want === undefined || same(want, stored[k])) return [];
    const show = (v: number | boolean) => v === Infinity ? false : v;
    return [{ setting: k, stored: show(stored[k]), requested: show(want) }];
  });

/** How a handle or tool meets a queue that has no definition yet. */
export type Absent = "create" | "assume";

/** What `resolveDefinition` settled on. */
export interface Resolved {
  readonly settings: Settings;
  /** The definition's version; 0 when the queue has none (`absent: "assume"`). */
  readonly version: number;
  /** When it was read (epoch ms). */
  readonly readAt: number;
}

/**
 * The settings a handle runs with: the stored definition's, where the requested settings agree
 * with it (a typed conflict naming each setting where they do not). A queue without one gets
 * one written from `settings` (`absent: "create"`), the settings `given` leaves out taken from
 * an earlier release's catalog item when there is one; or runs with them unwritten
 * (`absent: "assume"`, for read-only tools: a queue nobody defined has nothing to disagree with).
 */
export const resolveDefinition = (
  db: DynamoDB,
  settings: Settings,
  given: ReadonlySet<DefinedSetting>,
  absent: Absent,
  now: Effect.Effect<number>,
): Effect.Effect<Resolved, QueueDefinitionConflict | DynamoDBError> =>
  Effect.gen(function* () {
    const { table, name } = settings;
    const requested: Partial<DefinedSettings> = Object.fromEntries(
      DEFINED.filter((k) => given.has(k)).map((k) => [k, settings[k]]),
    );
    // Two rounds: a lost create race is followed by reading the winner's definition.
    for (let round = 0;; round++) {
      const stored = yield* readDefinition(db, table, name);
      const readAt = yield* now;
      if (stored !== undefined && stored.version > 0) {
        const conflicts = conflictsOf(stored, requested);
        if (conflicts.length > 0) {
          return yield* new QueueDefinitionConflict({ queue: name, conflicts });
        }
        return { settings: withDefined(settings, stored), version: stored.version, readAt };
      }
      // An earlier release's catalog item: its shape fills what the options leave out.
      const base = stored === undefined
        ? settings
        : withDefined(settings, { ...pickDefined(stored), ...requested });
      if (absent === "assume") return { settings: base, version: 0, readAt };
      const created = yield* db.update(table, catalogKey(name), {
        set: { ...storedSettings(base), version: 1, definedAt: readAt, updatedAt: readAt },
      }, { condition: notExists("version") }).pipe(
        Effect.as(true),
        Effect.catchTag(
          "ConditionFailed",
          (e) => round >= 2 ? Effect.die(e) : Effect.succeed(false),
        ),
      );
      if (created) return { settings: base, version: 1, readAt };
    }
  });

const pickDefined = (s: DefinedSettings): DefinedSettings =>
  Object.fromEntries(DEFINED.map((k) => [k, s[k]])) as unknown as DefinedSettings;

/** `settings` with the stored settings of `defined`. */
export const withDefined = (settings: Settings, defined: DefinedSettings): Settings => ({
  ...settings,
  ...pickDefined(defined),
});

/** Changes asked of `updateDefinition`, validated. */
export type DefinitionChanges = Partial<DefinedSettings>;

/**
 * Applies `changes` to a queue's definition as version `n + 1` (conditional on version `n`, read
 * first; a concurrent update makes it read again, or, with `expectedVersion`, fail with a
 * conflict on `version`). `shards` and `priorities` cannot change: messages already indexed under
 * the old partitions would be missed by every reader.
 */
export const updateDefinition = (
  db: DynamoDB,
  table: string,
  name: string,
  changes: DefinitionChanges,
  expectedVersion: number | undefined,
  now: Effect.Effect<number>,
): Effect.Effect<
  StoredDefinition,
  InvalidOptions | QueueNotFound | QueueDefinitionConflict | DynamoDBError
> =>
  Effect.gen(function* () {
    for (let round = 0;; round++) {
      const stored = yield* readDefinition(db, table, name);
      if (stored === undefined || stored.version === 0) {
        return yield* new QueueNotFound({ table, queue: name });
      }
      for (const k of ["shards", "priorities"] as const) {
        const want = changes[k];
        if (want !== undefined && want !== stored[k]) {
          return yield* new InvalidOptions({
            operation: "Queue.update",
            option: k,
            detail:
              `a queue's ${k} cannot change in place (${
                stored[k]
              } stored, ${want} asked): messages already in its index partitions would be missed. ` +
              `Define a new queue with ${k}: ${want} and move the messages to it`,
          });
        }
      }
      if (expectedVersion !== undefined && expectedVersion !== stored.version) {
        return yield* new QueueDefinitionConflict({
          queue: name,
          conflicts: [{ setting: "version", stored: stored.version, requested: expectedVersion }],
        });
      }
      const t = yield* now;
      const next: StoredDefinition = {
        ...stored,
        ...changes,
        version: stored.version + 1,
        updatedAt: t,
      };
      const written = yield* db.update(table, catalogKey(name), {
        set: { ...storedSettings(next), version: next.version, updatedAt: t },
      }, { condition: compare("version", "=", stored.version) }).pipe(
        Effect.as(true),
        Effect.catchTag("ConditionFailed", (e: ConditionFailed) =>
          expectedVersion === undefined && round < 5 ? Effect.succeed(false) : Effect.fail(
            new QueueDefinitionConflict({
              queue: name,
              conflicts: [{
                setting: "version",
                stored: "changed meanwhile",
                requested: expectedVersion ?? stored.version,
              }],
            }),
          ).pipe(Effect.tap(() =>
            Effect.logDebug(e.message)
          ))),
      );
      if (written) return next;
    }
  });

/** Deletes a queue's catalog item, conditional on the version read (no-op when absent). */
export const removeDefinition = (
  db: DynamoDB,
  table: string,
  stored: StoredDefinition,
): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
  Effect.asVoid(
    db.delete(table, catalogKey(stored.name), {
      condition: stored.version > 0 ? compare("version", "=", stored.version) : undefined,
    }),
  );

/**
 * Only a definition's own fields (of a descriptor, say, without its bookkeeping): what
 * `Queue.define`/`update` return and what the CLI prints.
 */
export const definitionOf = (d: QueueDefinition): QueueDefinition => ({
  name: d.name,
  version: d.version,
  shards: d.shards,
  priorities: d.priorities,
  maxReceives: d.maxReceives,
  visibilityTimeoutMillis: d.visibilityTimeoutMillis,
  deduplicationWindowMillis: d.deduplicationWindowMillis,
  compressAbove: d.compressAbove,
  contentBasedDeduplication: d.contentBasedDeduplication,
  definedAt: d.definedAt,
  updatedAt: d.updatedAt,
});

/** The public form of a stored definition. */
export const toDescriptor = (d: StoredDefinition): QueueDescriptor => ({
  ...definitionOf({ ...d, compressAbove: d.compressAbove === Infinity ? false : d.compressAbove }),
  registeredAt: d.definedAt,
  completed: d.completed,
});

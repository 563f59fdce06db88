/**
 * Inspection: get, list and stats, and the reads the admin operations share (locate,
 * fetchItems, forEachEntryPage) — docs/design.md "Operations and their cost".
 *
 * Requests (all reads; nothing here writes):
 * - locate / get: GetItem by the id's key; a grouped id is looked for in its group's partition,
 *   then under its own key (where a dead grouped message lives).
 * - list: one Query per index partition page (`gpk`, narrowed by `gsk` against now and a filter
 *   on `state`), up to `limit` entries, then BatchGetItem (100 keys a call, unprocessed keys
 *   read again) for the bodies. The cursor is the partition index and the last key read there.
 * - stats: Query over every ready partition and the grouped partition, then the dead partition,
 *   1,000 entries a page, reading only the keys and projected `state`, `sentAt`, `receives`.
 *
 * Invariants: tombstones (`state = done`) and items that are not DynamoMQ messages are never
 * shown as messages; the index lags the table a little, so list keeps only the messages still
 * in the state asked for; a FIFO group's own index entry is never counted as a message.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import { type DynamoDBError, type InvalidOptions, MessageNotFound } from "../../Errors.ts";
import { parseItem, type StoredMessage } from "../envelope.ts";
import {
  deadPartition,
  groupedPartition,
  INDEX_NAME,
  messageKey,
  parseGroupedId,
  visibleUpTo,
} from "../keys.ts";
import type { MessageState } from "../../schema/Message.ts";
import {
  eq,
  type Item,
  type Key,
  MAX_BATCH_GET,
  type Query,
  type QueryPage,
} from "../../services/DynamoDB.ts";
import type { Queue } from "../../services/Queue.ts";
import { infoOf, type QueueContext } from "./context.ts";
import { integerIn, invalid } from "./options.ts";

/** The failure of an operation on an id that names no message of this queue. */
export const notFound = <A>(ctx: QueueContext<A>, id: string): MessageNotFound =>
  new MessageNotFound({ queue: ctx.name, messageId: id });

/** A message item found by id: where it is, as stored, and decoded. */
export interface Located {
  readonly key: Key;
  readonly item: Item;
  readonly s: StoredMessage;
}

/**
 * Finds a message by id, failing with `MessageNotFound` when absent, a tombstone, or not a
 * message. A grouped message lives in its group's partition, or under its own key once dead.
 */
export const locate = <A>(
  ctx: QueueContext<A>,
  id: string,
): Effect.Effect<Located, MessageNotFound | DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table, name, keyOf } = ctx;
    const keys = parseGroupedId(id) === undefined ? [keyOf(id)] : [keyOf(id), messageKey(name, id)];
    for (const key of keys) {
      const item = yield* db.get(table, key);
      const s = item === undefined ? undefined : parseItem(item);
      if (
        item !== undefined && s !== undefined && Either.isRight(s) && s.right.state !== "done"
      ) {
        return { key, item, s: s.right };
      }
    }
    return yield* notFound(ctx, id);
  });

/** Reads whole items for index entries, in the order of the entries (BatchGetItem, ≤ 100 a call). */
export const fetchItems = <A>(
  ctx: QueueContext<A>,
  entries: ReadonlyArray<Item>,
): Effect.Effect<Array<Located>, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const keyString = (i: Item) => `${i.pk as string}\u0000${i.sk as string}`;
    const byKey = new Map<string, Item>();
    for (let i = 0; i < entries.length; i += MAX_BATCH_GET) {
      let keys: ReadonlyArray<Key> = entries.slice(i, i + MAX_BATCH_GET).map((e) => ({
        pk: e.pk as string,
        sk: e.sk as string,
      }));
      while (keys.length > 0) {
        const result = yield* db.batchGet(table, keys);
        for (const item of result.items) byKey.set(keyString(item), item);
        keys = result.unprocessed;
      }
    }
    return entries.flatMap((e) => {
      const item = byKey.get(keyString(e));
      const s = item === undefined ? undefined : parseItem(item);
      return item !== undefined && s !== undefined && Either.isRight(s)
        ? [{ key: { pk: e.pk as string, sk: e.sk as string }, item, s: s.right }]
        : [];
    });
  });

/** The index partitions that hold messages in a state: the dead one, or every ready partition. */
const partitionsOf = <A>(
  ctx: QueueContext<A>,
  state: MessageState | undefined,
): ReadonlyArray<string> =>
  state === "dead"
    ? [deadPartition(ctx.name)]
    : [...ctx.readyPartitions, groupedPartition(ctx.name)];

/** The index query for one partition, narrowed to one state (all entries when undefined). */
const stateQuery = (state: MessageState | undefined, partition: string, t: number): Query => {
  const base = { index: INDEX_NAME, partition: { attribute: "gpk", value: partition } };
  if (state === undefined || state === "dead") return base;
  if (state === "ready") {
    return {
      ...base,
      sort: { attribute: "gsk", condition: { _tag: "Compare", op: "<=", value: visibleUpTo(t) } },
    };
  }
  return {
    ...base,
    sort: { attribute: "gsk", condition: { _tag: "Compare", op: ">", value: visibleUpTo(t) } },
    filter: eq("state", state === "inflight" ? "inflight" : "ready"),
  };
};

/**
 * Walks every index entry in one state (or all), page by page, handing each page to `f`.
 * Entries are keys plus the projected `state`, `sentAt`, `receives`.
 */
export const forEachEntryPage = <A, E>(
  ctx: QueueContext<A>,
  state: MessageState | undefined,
  t: number,
  f: (entries: ReadonlyArray<Item>) => Effect.Effect<void, E>,
): Effect.Effect<void, E | DynamoDBError> =>
  Effect.forEach(partitionsOf(ctx, state), (partition) =>
    Effect.gen(function* () {
      let startKey: Key | undefined = undefined;
      do {
        const page: QueryPage = yield* ctx.db.query(ctx.table, {
          ...stateQuery(state, partition, t),
          limit: 1000,
          startKey,
        });
        startKey = page.lastKey;
        if (page.items.length > 0) yield* f(page.items);
      } while (startKey !== undefined);
    }), { discard: true });

/** An opaque, URL-safe paging cursor: the partition being read and the last key read there. */
interface Cursor {
  readonly partition: number;
  readonly key?: Key | undefined;
}

const encodeCursor = (cursor: Cursor): string =>
  btoa(JSON.stringify(cursor)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

const decodeCursor = (cursor: string): Either.Either<Cursor, InvalidOptions> => {
  try {
    const json = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    if (typeof json === "object" && json !== null && Number.isInteger(json.partition)) {
      return Either.right(json as Cursor);
    }
  } catch {
    // fall through: any malformed cursor is the caller's error
  }
  return Either.left(invalid("list", "cursor", "not a cursor returned by list"));
};

/** The read-only side of a queue handle: nothing here receives or changes a message. */
export const makeInspect = <A>(ctx: QueueContext<A>): Pick<Queue<A>, "get" | "list" | "stats"> => {
  const { db, table, now, attrs } = ctx;

  const get: Queue<A>["get"] = (id) =>
    Effect.gen(function* () {
      const found = yield* Effect.option(
        Effect.catchTag(locate(ctx, id), "MessageNotFound", () => Effect.fail(undefined)),
      );
      if (Option.isNone(found)) return Option.none();
      return Option.some(yield* infoOf(ctx, found.value.s, yield* now));
    }).pipe(Effect.withSpan("DynamoMQ.get", { attributes: attrs }));

  const list: Queue<A>["list"] = (options) =>
    Effect.gen(function* () {
      const limit = yield* integerIn("list", "limit", options.limit, 100, 1, 1000);
      const state = options.state;
      const parts = partitionsOf(ctx, state);
      let next: Cursor | undefined = options.cursor === undefined
        ? { partition: 0 }
        : yield* decodeCursor(options.cursor);
      const t = yield* now;
      const entries: Array<Item> = [];
      while (next !== undefined && entries.length < limit) {
        const cursor: Cursor = next;
        const partition = parts[cursor.partition];
        if (partition === undefined) break;
        const page: QueryPage = yield* db.query(table, {
          ...stateQuery(state, partition, t),
          limit: limit - entries.length,
          startKey: cursor.key,
        });
        entries.push(...page.items);
        next = page.lastKey !== undefined
          ? { partition: cursor.partition, key: page.lastKey }
          : cursor.partition + 1 < parts.length
          ? { partition: cursor.partition + 1 }
          : undefined;
      }
      const infos = yield* Effect.forEach(yield* fetchItems(ctx, entries), (l) =>
        infoOf(ctx, l.s, t));
      // The index lags the table a little: keep only what is still in the state asked for.
      const messages = infos.filter((info) =>
        info.state === state
      );
      return { messages, cursor: next === undefined ? undefined : encodeCursor(next) };
    }).pipe(Effect.withSpan("DynamoMQ.list", { attributes: attrs }));

  const stats: Queue<A>["stats"] = Effect.gen(function* () {
    const t = yield* now;
    const counts = { ready: 0, delayed: 0, inflight: 0, dead: 0 };
    let oldestSent = Infinity;
    const upTo = visibleUpTo(t);
    yield* forEachEntryPage(ctx, undefined, t, (entries) =>
      Effect.sync(() => {
        for (const e of entries) {
          // A FIFO group's own entry is not a message: its messages are counted one by one.
          if (e.state === "group") continue;
          if ((e.gsk as string) <= upTo) {
            counts.ready++;
            if (typeof e.sentAt === "number" && e.sentAt < oldestSent) oldestSent = e.sentAt;
          } else if (e.state === "inflight") counts.inflight++;
          else counts.delayed++;
        }
      }));
    yield* forEachEntryPage(
      ctx,
      "dead",
      t,
      (entries) => Effect.sync(() => void (counts.dead += entries.length)),
    );
    return { ...counts, oldestReadyAge: oldestSent === Infinity ? 0 : Math.max(0, t - oldestSent) };
  }).pipe(Effect.withSpan("DynamoMQ.stats", { attributes: attrs }));

  return { get, list, stats };
};

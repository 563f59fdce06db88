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
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import * as Random from "effect/Random";
import { DynamoDBError, type InvalidOptions, LeaseLost, MessageNotFound } from "../../Errors.ts";
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
import { integerIn, invalid, messageIdOf, stateOf } from "./options.ts";
import { decodeClaimed } from "./receive.ts";

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

/** The most BatchGetItem requests for one chunk of 100 keys. */
const BATCH_GET_ATTEMPTS = 8;

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
      // Unprocessed keys are read again: at once after a call that read something (a full 16 MB
      // response), with jittered backoff after one that read nothing, and at most
      // BATCH_GET_ATTEMPTS calls in a row that read nothing.
      for (let idle = 0; keys.length > 0;) {
        if (idle >= BATCH_GET_ATTEMPTS) {
          return yield* new DynamoDBError({
            operation: "batchGet",
            reason: "Throttled",
            retryable: true,
            detail: `${keys.length} keys left unprocessed after ${BATCH_GET_ATTEMPTS} attempts`,
          });
        }
        if (idle > 0) {
          yield* Effect.sleep(
            Duration.millis(yield* Random.nextRange(0, Math.min(50 * 2 ** idle, 2_000))),
          );
        }
        const result = yield* db.batchGet(table, keys);
        for (const item of result.items) byKey.set(keyString(item), item);
        idle = result.unprocessed.length < keys.length ? 0 : idle + 1;
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
 * The most pages `forEachEntryPage` reads from one partition (10^8 entries): the bound of a walk
 * over a partition that grows as fast as it is read (a purge racing busy senders).
 */
export const MAX_ENTRY_PAGES = 100_000;

/** Where an index entry sorts: `gsk`, then the table key (the order of a ready-index query). */
const indexPosition = (k: Key | Item): ReadonlyArray<string> => [
  String(k.gsk),
  String(k.pk),
  String(k.sk),
];

const before = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
};

/** A page whose `lastKey` does not move past its start would be read again forever. */
const noProgress = (partition: string): DynamoDBError =>
  new DynamoDBError({
    operation: "query",
    reason: "Unknown",
    retryable: false,
    detail: `a page of index partition ${partition} did not move past its start key`,
  });

/** Fails when a page's `lastKey` is not strictly after the key the page started from. */
export const checkProgress = (
  partition: string,
  startKey: Key | undefined,
  lastKey: Key | undefined,
): Effect.Effect<void, DynamoDBError> =>
  lastKey !== undefined && startKey !== undefined &&
    !before(indexPosition(startKey), indexPosition(lastKey))
    ? Effect.fail(noProgress(partition))
    : Effect.void;

/**
 * Walks every index entry in one state (or all), page by page, handing each page to `f`.
 * Entries are keys plus the projected `state`, `sentAt`, `receives`. Every page must move past
 * the last (else `DynamoDBError`), and a partition is read for at most `MAX_ENTRY_PAGES` pages.
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
      let pages = 0;
      do {
        if (++pages > MAX_ENTRY_PAGES) {
          return yield* new DynamoDBError({
            operation: "query",
            reason: "Unknown",
            retryable: true,
            detail: `stopped after ${MAX_ENTRY_PAGES} pages of index partition ${partition}: ` +
              "it grows as fast as it is read",
          });
        }
        const page: QueryPage = yield* ctx.db.query(ctx.table, {
          ...stateQuery(state, partition, t),
          limit: 1000,
          startKey,
        });
        yield* checkProgress(partition, startKey, page.lastKey);
        startKey = page.lastKey;
        if (page.items.length > 0) yield* f(page.items);
      } while (startKey !== undefined);
    }), { discard: true });

/** The most queries one `list` call sends; past it the page ends early, with a cursor. */
export const MAX_LIST_QUERIES = 32;

/**
 * An opaque, URL-safe paging cursor: the state listed, the index of the partition being read
 * and the last key read there. `list` takes back only what it could have issued itself.
 */
interface Cursor {
  readonly state: MessageState;
  readonly partition: number;
  readonly key?: Key | undefined;
}

const MAX_CURSOR_LENGTH = 2048;
const CURSOR_FIELDS = new Set(["state", "partition", "key"]);
const KEY_FIELDS = ["pk", "sk", "gpk", "gsk"];
const GSK = /^\d{13}#/;

const encodeCursor = (cursor: Cursor): string =>
  btoa(JSON.stringify(cursor)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

/**
 * Decodes a cursor and checks that `list` of this queue, state and shape could have issued it:
 * the same state, a partition in range, and a key in that partition under this queue's name.
 */
const decodeCursor = (
  cursor: string,
  queue: string,
  state: MessageState,
  partitions: ReadonlyArray<string>,
): Either.Either<Cursor, InvalidOptions> => {
  const refuse = (why: string) =>
    Either.left(invalid("list", "cursor", `not a cursor returned by list: ${why}`));
  if (typeof cursor !== "string" || cursor.length > MAX_CURSOR_LENGTH) return refuse("too long");
  let json: unknown;
  try {
    json = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
  } catch {
    return refuse("malformed");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return refuse("malformed");
  const c = json as Record<string, unknown>;
  if (!Object.keys(c).every((k) => CURSOR_FIELDS.has(k))) return refuse("malformed");
  if (c.state !== state) return refuse(`it pages another state than ${state}`);
  const partition = c.partition;
  if (
    typeof partition !== "number" || !Number.isInteger(partition) || partition < 0 ||
    partition >= partitions.length
  ) {
    return refuse("its partition is out of range (has the queue's shape changed?)");
  }
  if (c.key === undefined) return Either.right({ state, partition });
  const key = c.key as Record<string, unknown>;
  if (
    typeof key !== "object" || key === null || Array.isArray(key) ||
    Object.keys(key).length !== KEY_FIELDS.length ||
    !KEY_FIELDS.every((f) => typeof key[f] === "string" && (key[f] as string).length <= 512)
  ) {
    return refuse("malformed key");
  }
  if (
    key.gpk !== partitions[partition] || !(key.pk as string).startsWith(`${queue}#`) ||
    !GSK.test(key.gsk as string)
  ) {
    return refuse("its key is not in this queue's partition");
  }
  return Either.right({ state, partition, key: key as Key });
};

/**
 * Where to resume a partition from a cursor's key, given the query's range now: the key itself,
 * the range's start (the key sorts before the range: a delayed entry that became due since), or
 * nowhere (the key sorts after the range: the clock went back).
 */
const resumeFrom = (
  state: MessageState,
  key: Key | undefined,
  t: number,
): { readonly key: Key | undefined } | "done" => {
  if (key === undefined) return { key };
  const gsk = String(key.gsk);
  if (state === "ready") return gsk <= visibleUpTo(t) ? { key } : "done";
  if (state === "delayed" || state === "inflight") {
    return gsk > visibleUpTo(t) ? { key } : { key: undefined };
  }
  return { key };
};

/** The read-only side of a queue handle: nothing here receives or changes a message. */
export const makeInspect = <A>(
  ctx: QueueContext<A>,
): Pick<Queue<A>, "get" | "resume" | "list" | "stats"> => {
  const { db, table, now, attrs } = ctx;

  const get: Queue<A>["get"] = (id) =>
    Effect.gen(function* () {
      yield* messageIdOf("get", id);
      // Only "not found" is None: a failed read (throttled, say) is a DynamoDBError.
      const found = yield* locate(ctx, id).pipe(
        Effect.map(Option.some),
        Effect.catchTag("MessageNotFound", () => Effect.succeed(Option.none<Located>())),
      );
      if (Option.isNone(found)) return Option.none();
      return Option.some(yield* infoOf(ctx, found.value.s, yield* now));
    }).pipe(Effect.withSpan("DynamoMQ.get", { attributes: attrs }));

  // One consistent GetItem (two for a grouped id that may be dead); nothing is written.
  const resume: Queue<A>["resume"] = (id, lease) =>
    Effect.gen(function* () {
      yield* messageIdOf("resume", id);
      const { item, s } = yield* locate(ctx, id);
      if (s.state !== "inflight" || s.lease !== lease) {
        return yield* new LeaseLost({ queue: ctx.name, messageId: id, operation: "resume" });
      }
      return yield* Effect.flatMap(decodeClaimed(ctx, item, id, lease), (decoded) => decoded);
    }).pipe(Effect.withSpan("DynamoMQ.resume", { attributes: attrs }));

  const list: Queue<A>["list"] = (options) =>
    Effect.gen(function* () {
      const limit = yield* integerIn("list", "limit", options.limit, 100, 1, 1000);
      const state: MessageState = yield* stateOf("list", options.state);
      const parts = partitionsOf(ctx, state);
      let next: Cursor | undefined = options.cursor === undefined
        ? { state, partition: 0 }
        : yield* decodeCursor(options.cursor, ctx.name, state, parts);
      const t = yield* now;
      const entries: Array<Item> = [];
      // Bounded: at most MAX_LIST_QUERIES queries, each moving past the last (a later key or
      // the next partition); a page cut short by the bound still returns its cursor.
      for (let queries = 0; next !== undefined && entries.length < limit; queries++) {
        if (queries >= MAX_LIST_QUERIES) break;
        const cursor: Cursor = next;
        const partition = parts[cursor.partition]!;
        const from = resumeFrom(state, cursor.key, t);
        const page: QueryPage | undefined = from === "done" ? undefined : yield* db.query(table, {
          ...stateQuery(state, partition, t),
          limit: limit - entries.length,
          startKey: from.key,
        });
        if (page !== undefined) {
          yield* checkProgress(partition, from === "done" ? undefined : from.key, page.lastKey);
          entries.push(...page.items);
        }
        next = page?.lastKey !== undefined
          ? { state, partition: cursor.partition, key: page.lastKey }
          : cursor.partition + 1 < parts.length
          ? { state, partition: cursor.partition + 1 }
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

  return { get, resume, list, stats };
};

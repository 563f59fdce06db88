/**
 * Sending: `send`, `sendBatch` and `transactItem` (docs/design.md "Operations", "Deduplication",
 * "Batches", "Transactional enqueue").
 *
 * Requests:
 * - send: one PutItem, conditioned on `attribute_not_exists(pk)` — a message is never
 *   overwritten. A failed condition costs one GetItem: an item carrying this send's token (`tok`)
 *   — the message, or the tombstone its ack left — is its own write, applied by an attempt whose
 *   response was lost, and the send succeeded; no item at all is, for a generated id, its own
 *   write removed since by an admin, and for an explicit id a free id to put again; anything
 *   else is `DuplicateMessage`. With an explicit id the condition also admits another send's
 *   tombstone (the id is free once acked).
 *   With a deduplication key the id is derived from the key and the condition admits another
 *   send's tombstone whose window has passed (`state = done AND dedupUntil < now`); a duplicate
 *   then costs one GetItem of the original and reports its id with `duplicate: true`. A grouped
 *   send goes through `fifo.putGrouped`.
 * - sendBatch: entries with generated ids (which cannot collide, so need no condition) in
 *   unconditional BatchWriteItem puts (25 a request, four requests at a time). Only entries that
 *   were certainly not written go into another batch (unprocessed ones, a throttled request),
 *   with jittered backoff, `BATCH_WRITE_ATTEMPTS` tries in all; the entries of a request that
 *   may have applied (timeout, dropped connection, server error) are each retried at once as
 *   `send` does (conditional, recognising its own write by its token), so a retry never
 *   overwrites a message that was received meanwhile, nor writes back one acked meanwhile (its
 *   ack left a tombstone, settle.ts). Such a retry starts only within `RESEND_WINDOW_MILLIS` of
 *   the send. Every other entry as `send`, 16 at a time. Never fails as a whole: a result per
 *   entry, in order.
 * - transactItem: no request; the conditional put for the caller's own TransactWriteItems.
 *
 * Invariants: everything is validated and encoded before the first write (`InvalidOptions`,
 * `ParseError`, `PayloadTooLarge` write nothing); the item size is checked after compression;
 * the live message carries no TTL (only an ack's tombstone does), so DynamoDB never expires a
 * queued message.
 *
 * @module
 */
import * as Chunk from "effect/Chunk";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import type * as ParseResult from "effect/ParseResult";
import * as Random from "effect/Random";
import {
  DuplicateMessage,
  DynamoDBError,
  type InvalidOptions,
  PayloadTooLarge,
} from "../../Errors.ts";
import { gzip } from "../compression.ts";
import { LIFETIME_HEADROOM, parseItem } from "../envelope.ts";
import { itemSize, utf8Length } from "../itemSize.ts";
import { withSpan } from "../span.ts";
import {
  deadPartition,
  GROUP_NAME,
  groupedId,
  groupedPartition,
  groupMessageSk,
  groupPk,
  indexSortKey,
  leaseToken,
  MESSAGE_ID,
  parseGroupedId,
  randomShard,
  readyPartition,
  RESEND_WINDOW_MILLIS,
  SEND_TOKEN,
  sortableId,
} from "../keys.ts";
import {
  and,
  compare,
  type Condition,
  eq,
  type Item,
  MAX_BATCH_WRITE,
  MAX_ITEM_BYTES,
  notExists,
  or,
} from "../../services/DynamoDB.ts";
import type { Queue, SendError, SendOptions, SendResult } from "../../services/Queue.ts";
import type { CatalogReport } from "./catalogReport.ts";
import type { QueueContext } from "./context.ts";
import { putGrouped } from "./fifoSend.ts";
import { durationMillis, integerIn, invalid, timeOf } from "./options.ts";

/** How often a BatchWriteItem's unprocessed entries are sent again before they are reported failed. */
const BATCH_WRITE_ATTEMPTS = 8;

/** The W3C `traceparent` of the current span, so a consumer can link its span to the sender's. */
const currentTraceParent: Effect.Effect<string | undefined> = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.match({
    onNone: () => undefined,
    onSome: (span) => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`,
  }),
);

const sha256Hex = (text: string): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).pipe(
    Effect.map((digest) =>
      Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
    ),
  );

/** A validated, encoded message ready to be written. */
interface Prepared {
  readonly id: string;
  readonly visibleAt: number;
  /** When it was sent (the clock of this sender), as stored in `sentAt`. */
  readonly sentAt: number;
  readonly item: Item;
  /** A put that must not overwrite (an explicit id or a deduplication key). */
  readonly condition?: Condition | undefined;
  readonly deduplicated: boolean;
  /**
   * This send's token, stored in the item (`tok`): a retry whose condition fails on an item
   * carrying it met this send's own applied write, not another message.
   */
  readonly token: string;
  /** The FIFO group: the id, key and sequence number are assigned when it is sent. */
  readonly group?: { readonly name: string; readonly home: string } | undefined;
}

const prepare = <A>(
  ctx: QueueContext<A>,
  body: A,
  options: SendOptions | undefined,
  t: number,
): Effect.Effect<Prepared, ParseResult.ParseError | PayloadTooLarge | InvalidOptions> =>
  Effect.gen(function* () {
    const { name, settings } = ctx;
    const { priorities, shards } = settings;
    if (options?.id !== undefined && options.deduplicationId !== undefined) {
      return yield* invalid("send", "id", "give either an id or a deduplicationId, not both");
    }
    const group = options?.group;
    if (group !== undefined) {
      if (!GROUP_NAME.test(group)) {
        return yield* invalid(
          "send",
          "group",
          `1-100 characters of A-Z a-z 0-9 _ . : -, got "${group}"`,
        );
      }
      if (options?.id !== undefined || options?.deduplicationId !== undefined) {
        return yield* invalid(
          "send",
          "group",
          "a grouped message's id is its place in the group: it takes no id or deduplicationId",
        );
      }
    }
    if (options?.id !== undefined && parseGroupedId(options.id) !== undefined) {
      return yield* invalid(
        "send",
        "id",
        `"${options.id}" has the form reserved for grouped messages`,
      );
    }
    if (options?.id !== undefined && !MESSAGE_ID.test(options.id)) {
      return yield* invalid(
        "send",
        "id",
        `1-128 characters of A-Z a-z 0-9 _ . : -, got "${options.id}"`,
      );
    }
    if (
      options?.deduplicationId !== undefined &&
      (options.deduplicationId.length < 1 || options.deduplicationId.length > 128)
    ) {
      return yield* invalid("send", "deduplicationId", "must be 1-128 characters");
    }
    const priority = yield* integerIn(
      "send",
      "priority",
      options?.priority,
      0,
      0,
      priorities - 1,
    );
    const visibleAt = options?.at !== undefined
      ? yield* timeOf("send", options.at)
      : t + (yield* durationMillis("send", "delay", options?.delay, Duration.zero));
    const json = yield* ctx.encode(body);
    const dedup = group !== undefined ? undefined : options?.deduplicationId ??
      (settings.contentBasedDeduplication ? yield* sha256Hex(json) : undefined);
    // A deduplicated message's id is derived from its key, so a resend addresses the same item.
    // A grouped one gets its id from its sequence number when sent; sequence 0 stands in here,
    // so the item already has its final size.
    const id = group !== undefined ? groupedId(0, group) : options?.id ??
      (dedup === undefined ? sortableId(t) : `d-${(yield* sha256Hex(dedup)).slice(0, 40)}`);
    const compress = json.length > settings.compressAbove;
    const home = group !== undefined
      ? groupedPartition(name)
      : readyPartition(name, priority, randomShard(shards));
    const trace = yield* currentTraceParent;
    const token = leaseToken();
    const item: Record<string, Item[string]> = {
      ...ctx.keyOf(id),
      queue: name,
      id,
      state: "ready",
      home,
      gpk: home,
      gsk: indexSortKey(visibleAt, id),
      visibleAt,
      sentAt: t,
      updatedAt: t,
      receives: 0,
      attempts: [],
      priority,
      enc: compress ? "gzip" : "json",
      payload: compress ? yield* gzip(json) : json,
      [SEND_TOKEN]: token,
    };
    if (trace !== undefined) item.trace = trace;
    if (group !== undefined) {
      Object.assign(item, { pk: groupPk(name, group), sk: groupMessageSk(0), group, seq: 0 });
    }
    if (dedup !== undefined) {
      const until = t + settings.deduplicationWindowMillis;
      // No TTL on the live message: DynamoDB's TTL would delete it, still queued, once the
      // window passed. Only the tombstone written at ack expires.
      item.dedup = dedup;
      item.dedupUntil = until;
    }
    // The item must keep room for everything the protocol may add over its life, or a receive
    // (or a nack, or a dead-lettering) of it would fail on its size and block the queue.
    const bytes = itemSize(item);
    const limit = MAX_ITEM_BYTES - LIFETIME_HEADROOM -
      Math.max(0, utf8Length(deadPartition(name)) - utf8Length(home));
    if (bytes > limit) {
      return yield* new PayloadTooLarge({ queue: name, bytes, limit });
    }
    // Another send's tombstone may be replaced once the message is acked (a deduplicated one once
    // its window has passed); anything else is a duplicate. This send's own tombstone never is:
    // its retry must recognise its acked write, not write the message back.
    const othersTombstone = and(eq("state", "done"), compare(SEND_TOKEN, "<>", token));
    const condition = dedup !== undefined
      ? or(notExists("pk"), and(othersTombstone, compare("dedupUntil", "<", t)))
      : options?.id !== undefined
      ? or(notExists("pk"), and(othersTombstone, notExists("dedupUntil")))
      : undefined;
    return {
      id,
      visibleAt,
      sentAt: t,
      item,
      condition,
      deduplicated: dedup !== undefined,
      token,
      group: group === undefined
        ? undefined
        : { name: group, home: readyPartition(name, priority, randomShard(shards)) },
    };
  });

/**
 * Writes one prepared message with its condition. A failed condition reads the item (only then):
 * an item carrying this send's token is its own write, applied by an attempt whose response was
 * lost (the SDK's retry then met it), and the send succeeded; otherwise a deduplicated resend
 * reports the original and any other send is `DuplicateMessage`. When the item that failed the
 * condition is gone by the time it is read (removed by an admin meanwhile), a generated id was
 * this send's own write (no one else writes it), and an explicit id is free again: the put is
 * tried again (`attempts` times in all).
 */
const putPrepared = <A>(
  ctx: QueueContext<A>,
  p: Prepared,
  attempts = 3,
): Effect.Effect<SendResult, DuplicateMessage | DynamoDBError> => {
  const sent: SendResult = { id: p.id, visibleAt: p.visibleAt, duplicate: false };
  return p.group !== undefined
    ? putGrouped(ctx, p, p.group.name, p.group.home)
    : ctx.db.put(ctx.table, p.item, {
      condition: p.condition ?? notExists("pk"),
    }).pipe(
      Effect.as(sent),
      Effect.catchTag(
        "ConditionFailed",
        (): Effect.Effect<SendResult, DuplicateMessage | DynamoDBError> =>
          Effect.flatMap(ctx.db.get(ctx.table, ctx.keyOf(p.id)), (item) => {
            if (item !== undefined && item[SEND_TOKEN] === p.token) return Effect.succeed(sent);
            if (!p.deduplicated) {
              if (item === undefined && p.condition === undefined) return Effect.succeed(sent);
              if (item === undefined && attempts > 1) return putPrepared(ctx, p, attempts - 1);
              return Effect.fail(new DuplicateMessage({ queue: ctx.name, messageId: p.id }));
            }
            const s = item === undefined ? undefined : parseItem(item);
            return Effect.succeed<SendResult>({
              id: p.id,
              visibleAt: s !== undefined && Either.isRight(s) ? s.right.visibleAt : p.visibleAt,
              duplicate: true,
            });
          }),
      ),
    );
};

/** A jittered backoff before the `attempt`-th try (0 waits nothing). */
const backoff = (attempt: number): Effect.Effect<void> =>
  attempt === 0 ? Effect.void : Effect.flatMap(
    Random.nextRange(0, Math.min(50 * 2 ** attempt, 2_000)),
    (millis) => Effect.sleep(Duration.millis(millis)),
  );

/**
 * Whether a failed request may have been applied: a timeout, a dropped connection or a server
 * error can come after DynamoDB wrote; a throttle or a rejected request never does.
 */
const mayHaveApplied = (e: DynamoDBError): boolean => e.retryable && e.reason !== "Throttled";

/**
 * A put that may already have applied (its batch's response was lost), tried again as a
 * conditional single put: it never overwrites. Its own write is recognised by the send token
 * (`putPrepared`), so a message that was received meanwhile keeps its lease and receive count,
 * and one that was acked meanwhile left a tombstone that the retry meets (settle.ts `ackWrite`).
 * That tombstone lasts `ACK_TOMBSTONE_MILLIS` from the send, so a retry starts only within
 * `RESEND_WINDOW_MILLIS` of it; past that, or after `BATCH_WRITE_ATTEMPTS` retryable failures,
 * the entry fails with the error that made it ambiguous (it may or may not have been written).
 */
const conditionalRetry = <A>(
  ctx: QueueContext<A>,
  p: Prepared,
  cause: DynamoDBError,
): Effect.Effect<SendResult, DuplicateMessage | DynamoDBError> =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < BATCH_WRITE_ATTEMPTS; attempt++) {
      yield* backoff(attempt);
      if ((yield* ctx.now) >= p.sentAt + RESEND_WINDOW_MILLIS) break;
      const r = yield* Effect.either(putPrepared(ctx, p));
      if (Either.isRight(r)) return r.right;
      if (r.left._tag === "DuplicateMessage" || !r.left.retryable) {
        return yield* Effect.fail(r.left);
      }
    }
    // Still unknown whether the batch wrote it: report the error that made it so.
    return yield* Effect.fail(cause);
  });

/**
 * BatchWriteItem of puts with generated ids. BatchWriteItem carries no conditions, so only
 * entries that were certainly not written go into another batch: the unprocessed ones and those
 * of a request that failed before it applied (throttled). The entries of a request that may have
 * applied are each tried again with `conditionalRetry`, at once.
 */
const batchPut = <A>(
  ctx: QueueContext<A>,
  batch: ReadonlyArray<Prepared>,
): Effect.Effect<ReadonlyArray<Either.Either<SendResult, SendError>>> =>
  Effect.gen(function* () {
    const results = new Map<string, Either.Either<SendResult, SendError>>();
    let pending = batch;
    // The entries of a request that may have applied, and its error.
    let ambiguous:
      | { readonly entries: ReadonlyArray<Prepared>; readonly cause: DynamoDBError }
      | undefined;
    for (let attempt = 0; pending.length > 0 && attempt < BATCH_WRITE_ATTEMPTS; attempt++) {
      yield* backoff(attempt);
      const outcome = yield* Effect.either(
        ctx.db.batchWrite(ctx.table, pending.map((p) => ({ _tag: "Put" as const, item: p.item }))),
      );
      if (Either.isLeft(outcome)) {
        if (mayHaveApplied(outcome.left)) {
          ambiguous = { entries: pending, cause: outcome.left };
          pending = [];
          break;
        }
        if (outcome.left.retryable) continue;
        for (const p of pending) results.set(p.id, Either.left(outcome.left));
        pending = [];
        break;
      }
      const unprocessed = new Set(
        outcome.right.unprocessed.flatMap((r) => (r._tag === "Put" ? [r.item.pk] : [])),
      );
      for (const p of pending) {
        if (!unprocessed.has(p.item.pk)) {
          results.set(p.id, Either.right({ id: p.id, visibleAt: p.visibleAt, duplicate: false }));
        }
      }
      pending = pending.filter((p) => unprocessed.has(p.item.pk));
    }
    for (const p of pending) {
      results.set(
        p.id,
        Either.left(
          new DynamoDBError({
            operation: "batchWrite",
            reason: "Throttled",
            retryable: true,
            detail: `still unprocessed after ${BATCH_WRITE_ATTEMPTS} attempts`,
          }),
        ),
      );
    }
    if (ambiguous !== undefined) {
      const { entries, cause } = ambiguous;
      const retried = yield* Effect.forEach(
        entries,
        (p) => Effect.either(conditionalRetry(ctx, p, cause)),
        { concurrency: 16 },
      );
      entries.forEach((p, i) => results.set(p.id, retried[i]!));
    }
    return batch.map((p) => results.get(p.id)!);
  });

/** The send side of a queue handle. */
export const makeSend = <A>(
  ctx: QueueContext<A>,
  catalog: CatalogReport,
): Pick<Queue<A>, "send" | "sendBatch" | "transactItem"> => {
  const { table, attrs, now } = ctx;
  const { withCatalog } = catalog;

  const send: Queue<A>["send"] = (body, options) =>
    Effect.flatMap(now, (t) => prepare(ctx, body, options, t)).pipe(
      Effect.flatMap((p) => putPrepared(ctx, p)),
      withSpan("DynamoMQ.send", { kind: "producer", attributes: attrs }),
      withCatalog,
    );

  const sendBatch: Queue<A>["sendBatch"] = (entries) =>
    Effect.gen(function* () {
      const t = yield* now;
      const prepared = yield* Effect.forEach(entries, (e) =>
        Effect.either(prepare(ctx, e.body, e.options, t)));
      // Generated ids cannot collide, so those entries need no condition and can be batched.
      const isPlain = (p: Prepared) =>
        p.condition === undefined && p.group === undefined;
      const plain = prepared.flatMap((
        p,
      ) => (Either.isRight(p) && isPlain(p.right) ? [p.right] : []));
      const chunks = Chunk.toReadonlyArray(
        Chunk.chunksOf(Chunk.fromIterable(plain), MAX_BATCH_WRITE),
      ).map(
        Chunk.toReadonlyArray,
      );
      const batched = (yield* Effect.forEach(chunks, (chunk) =>
        batchPut(ctx, chunk), { concurrency: 4 })).flat();
      const byId = new Map(plain.map((p, i) => [p.id, batched[i]!] as const));
      return yield* Effect.forEach(
        prepared,
        (p): Effect.Effect<Either.Either<SendResult, SendError>> => {
          if (Either.isLeft(p)) return Effect.succeed(Either.left(p.left));
          const done = byId.get(p.right.id);
          return done !== undefined && isPlain(p.right)
            ? Effect.succeed(done)
            : Effect.either(putPrepared(ctx, p.right));
        },
        { concurrency: 16 },
      );
    }).pipe(
      withSpan("DynamoMQ.sendBatch", { kind: "producer", attributes: attrs }),
      withCatalog,
    );

  const transactItem: Queue<A>["transactItem"] = (body, options) =>
    Effect.flatMap(
      now,
      (t) =>
        options?.group !== undefined
          ? Effect.fail(
            invalid("transactItem", "group", "grouped messages are sent in three writes, not one"),
          )
          : prepare(ctx, body, options, t),
    ).pipe(
      Effect.map((p) => ({
        id: p.id,
        visibleAt: p.visibleAt,
        item: {
          _tag: "Put" as const,
          table,
          item: p.item,
          condition: p.condition ?? notExists("pk"),
        },
      })),
    );

  return { send, sendBatch, transactItem };
};

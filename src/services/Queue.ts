/**
 * `Queue`: a typed handle for one named queue in a DynamoMQ table. Many queues share one table.
 * Payloads are validated and encoded with an Effect `Schema`; every operation on a received
 * message is fenced by the lease token of that receive.
 *
 * @example
 * ```ts
 * import { DynamoDBMemory, Queue, Table } from "@dynamomq/dynamomq";
 * import { Effect, Schema } from "effect";
 *
 * const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });
 *
 * const program = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const orders = yield* Queue.make({ table: "dynamomq", name: "orders", schema: Order });
 *   yield* orders.send({ id: "A-101", total: 42 }, { delay: "10 seconds" });
 *   const { messages } = yield* orders.receive({ max: 10 });
 *   for (const m of messages) yield* orders.ack(m);
 * });
 *
 * Effect.runPromise(program.pipe(Effect.provide(DynamoDBMemory.layerMemory)));
 * ```
 *
 * @module
 */
import * as Chunk from "effect/Chunk";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import * as Random from "effect/Random";
import type * as ParseResult from "effect/ParseResult";
import type * as Schema from "effect/Schema";
import {
  ConditionFailed,
  DuplicateMessage,
  DynamoDBError,
  type InvalidOptions,
  InvalidState,
  LeaseLost,
  MaxReceivesExceeded,
  MessageNotFound,
  PayloadTooLarge,
  UndecodableMessage,
} from "../Errors.ts";
import {
  appendAttempt,
  attemptsItem,
  deriveState,
  parseItem,
  type StoredMessage,
} from "../internal/envelope.ts";
import { itemSize } from "../internal/itemSize.ts";
import {
  deadPartition,
  GROUP_NAME,
  GROUP_SK,
  groupedId,
  groupedPartition,
  groupMessageSk,
  groupPk,
  INDEX_NAME,
  indexSortKey,
  leaseToken,
  MESSAGE_ID,
  MESSAGE_SK,
  messageKey,
  parseGroupedId,
  randomShard,
  readyPartition,
  sortableId,
  TTL_ATTRIBUTE,
  visibleUpTo,
} from "../internal/keys.ts";
import { gzip } from "../internal/compression.ts";
import { makeCatalogReport } from "../internal/queue/catalogReport.ts";
import {
  bodyOf as bodyOfStored,
  deadFields as deadFieldsOf,
  ignoreLost,
  infoOf as infoOfStored,
  makeContext,
  unconditional,
} from "../internal/queue/context.ts";
import {
  durationMillis,
  integerIn,
  invalid,
  type Settings,
  settingsOf,
  timeOf,
} from "../internal/queue/options.ts";
import type { MessageInfo, MessageState, ReceivedMessage } from "../schema/Message.ts";
import {
  and,
  compare,
  type Condition,
  DynamoDB,
  eq,
  exists,
  isIn,
  type Item,
  type Key,
  MAX_BATCH_GET,
  MAX_BATCH_WRITE,
  MAX_ITEM_BYTES,
  MAX_TRANSACT_ITEMS,
  notExists,
  or,
  type Query,
  type QueryPage,
  type TransactItem,
} from "./DynamoDB.ts";

/**
 * Options of `Queue.make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueOptions<A, I> {
  /** The DynamoMQ table (see `Table.create`). */
  readonly table: string;
  /** The queue's name: 1–80 characters of letters, digits, `-`, `_` and `.`. */
  readonly name: string;
  /** The payload schema; bodies are encoded with it to JSON on send and decoded on receive. */
  readonly schema: Schema.Schema<A, I>;
  /**
   * How long a received message stays invisible to other receivers.
   * @default "30 seconds"
   */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
  /**
   * A receive that finds a message already received this many times moves it to the
   * dead-letter queue instead of delivering it.
   * @default 5
   */
  readonly maxReceives?: number | undefined;
  /**
   * How many index partitions the ready messages are spread over (1–64). One DynamoDB partition
   * takes about 1,000 writes per second and each message costs its index partition four, which
   * caps a one-shard queue near 250 messages per second; more shards lift that, at the price of
   * oldest-first order holding only per shard.
   * @default 1
   */
  readonly shards?: number | undefined;
  /**
   * How many priority bands the queue has (1–10). A message's `priority` is 0 (lowest) to
   * `priorities - 1`; receives favour higher bands without starving lower ones.
   * @default 1
   */
  readonly priorities?: number | undefined;
  /**
   * Payloads whose JSON encoding is larger than this many bytes are stored gzip-compressed;
   * `false` never compresses.
   * @default 4096
   */
  readonly compressAbove?: number | false | undefined;
  /**
   * How long after a message was sent a resend with the same deduplication key is still a
   * duplicate (also after the original was acked). Any length.
   * @default "5 minutes"
   */
  readonly deduplicationWindow?: Duration.DurationInput | undefined;
  /**
   * Deduplicate every send by the SHA-256 of its encoded payload unless it names a
   * `deduplicationId`.
   * @default false
   */
  readonly contentBasedDeduplication?: boolean | undefined;
}

/**
 * Options of `send`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  /** The message id; a sortable unique id is generated when absent. Letters, digits, `-_.:`; at most 128. */
  readonly id?: string | undefined;
  /** Deliver no earlier than this long from now (any length). */
  readonly delay?: Duration.DurationInput | undefined;
  /** Deliver no earlier than this time (epoch milliseconds or a Date). Overrides `delay`. */
  readonly at?: number | Date | undefined;
  /**
   * A resend with the same key within the queue's deduplication window (or while the original is
   * still queued) writes nothing and returns the original's id with `duplicate: true`. The
   * message id is then derived from the key, so `id` cannot be given too.
   */
  readonly deduplicationId?: string | undefined;
  /**
   * The priority band, 0 (the default, lowest) to the queue's `priorities - 1`.
   * @default 0
   */
  readonly priority?: number | undefined;
  /**
   * The FIFO message group (SQS `MessageGroupId`): messages of one group are delivered in send
   * order, at most one at a time, and a failing one blocks only its own group until it is
   * retried or dead-lettered. Groups are processed in parallel. Letters, digits, `_.:-`; ≤ 100.
   */
  readonly group?: string | undefined;
}

/**
 * What `send` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendResult {
  /** The message id (the original's, for a duplicate). */
  readonly id: string;
  /** When the message becomes receivable, epoch milliseconds. */
  readonly visibleAt: number;
  /** True when a message with the same deduplication key was already sent: nothing was written. */
  readonly duplicate: boolean;
}

/**
 * Why one send failed.
 *
 * @since 0.1.0
 * @category models
 */
export type SendError =
  | ParseResult.ParseError
  | DuplicateMessage
  | PayloadTooLarge
  | InvalidOptions
  | DynamoDBError;

/**
 * One entry of `sendBatch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchEntry<A> {
  /** The body to send. */
  readonly body: A;
  /** The options of this send. */
  readonly options?: SendOptions | undefined;
}

/**
 * Options of `reschedule`: a new delay from now, or an absolute time.
 *
 * @since 0.1.0
 * @category models
 */
export type RescheduleOptions =
  | { readonly delay: Duration.DurationInput }
  | { readonly at: number | Date };

/**
 * A message prepared for the caller's own `DynamoDB.transactWrite`: the message is sent exactly
 * when the caller's transaction commits.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransactSend {
  /** The id the message gets. */
  readonly id: string;
  /** When the message becomes receivable, epoch milliseconds. */
  readonly visibleAt: number;
  /** The conditional put to include in the transaction. */
  readonly item: TransactItem;
}

/**
 * Options of `receive`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveOptions {
  /**
   * The most messages to claim (1–100).
   * @default 1
   */
  readonly max?: number | undefined;
  /** Overrides the queue's visibility timeout for this receive. */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
}

/**
 * What `receive` returns: the claimed messages, and those it moved to the dead-letter queue
 * instead (at `maxReceives`, or with a payload that does not decode).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveResult<A> {
  /** The claimed messages, each under a fresh lease. */
  readonly messages: ReadonlyArray<ReceivedMessage<A>>;
  /** Messages this receive moved to the dead-letter queue instead of delivering them. */
  readonly deadLettered: ReadonlyArray<MaxReceivesExceeded | UndecodableMessage>;
}

/**
 * What went wrong with a message, as recorded in its attempt history.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureInfo {
  /** The error's `_tag` (or `"Error"` / `"Defect"`). */
  readonly tag: string;
  /** The error's message. */
  readonly message: string;
}

/**
 * Options of `nack`.
 *
 * @since 0.1.0
 * @category models
 */
export interface NackOptions {
  /**
   * How long until the message may be received again.
   * @default 0 (at once)
   */
  readonly delay?: Duration.DurationInput | undefined;
  /** The failure to record in the attempt history. */
  readonly error?: FailureInfo | undefined;
}

/**
 * Options of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** The state to list. */
  readonly state: MessageState;
  /**
   * The most messages per page (1–1000).
   * @default 100
   */
  readonly limit?: number | undefined;
  /** The `cursor` of the previous page. */
  readonly cursor?: string | undefined;
}

/**
 * One page of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListPage<A> {
  /** The messages of this page, oldest first. */
  readonly messages: ReadonlyArray<MessageInfo<A>>;
  /** Present when there may be more: pass it back as `cursor`. */
  readonly cursor?: string | undefined;
}

/**
 * Counts per state, and the age of the oldest receivable message.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueStats {
  /** Receivable now. */
  readonly ready: number;
  /** Ready, but receivable only later. */
  readonly delayed: number;
  /** Received and under a lease. */
  readonly inflight: number;
  /** In the dead-letter queue. */
  readonly dead: number;
  /** Milliseconds since the oldest receivable message was sent; 0 when none is. */
  readonly oldestReadyAge: number;
}

/**
 * A filter for `redriveAll`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedriveFilter {
  /** Only messages whose dead-letter reason has this tag (e.g. `"MaxReceivesExceeded"`). */
  readonly reasonTag?: string | undefined;
  /** Only messages dead-lettered at or before this time (epoch ms). */
  readonly deadBefore?: number | undefined;
  /** Any other predicate over the message. */
  readonly where?: ((message: MessageInfo<unknown>) => boolean) | undefined;
}

/**
 * A typed handle for one queue.
 *
 * @since 0.1.0
 * @category models
 */
export interface Queue<A> {
  /** The queue's name. */
  readonly name: string;
  /** The table it lives in. */
  readonly table: string;
  /** The default visibility timeout in milliseconds. */
  readonly visibilityTimeoutMillis: number;
  /** The receive count at which a message goes to the dead-letter queue. */
  readonly maxReceives: number;
  /** The number of index shards. */
  readonly shards: number;
  /** The number of priority bands. */
  readonly priorities: number;

  /** Sends one message: one conditional put; an existing id is never overwritten. */
  readonly send: (
    body: A,
    options?: SendOptions,
  ) => Effect.Effect<SendResult, SendError>;
  /**
   * Sends many messages: entries with generated ids go out through BatchWriteItem, 25 per
   * request, unprocessed entries retried with jittered backoff; entries with an id or a
   * deduplication key use one conditional put each. A result per entry, in order: the call
   * itself never fails, so no entry's outcome is lost.
   */
  readonly sendBatch: (
    entries: ReadonlyArray<BatchEntry<A>>,
  ) => Effect.Effect<ReadonlyArray<Either.Either<SendResult, SendError>>>;
  /**
   * Prepares a send as a `TransactItem` for the caller's own `DynamoDB.transactWrite`, so a
   * business write and its message commit together (needs a backend with transactions).
   */
  readonly transactItem: (
    body: A,
    options?: SendOptions,
  ) => Effect.Effect<TransactSend, ParseResult.ParseError | PayloadTooLarge | InvalidOptions>;
  /** Claims up to `max` receivable messages, each with a fresh lease. */
  readonly receive: (
    options?: ReceiveOptions,
  ) => Effect.Effect<ReceiveResult<A>, InvalidOptions | DynamoDBError>;
  /** Deletes a received message (done), or leaves a tombstone while its deduplication window lasts. */
  readonly ack: (message: ReceivedMessage<A>) => Effect.Effect<void, LeaseLost | DynamoDBError>;
  /**
   * Acks many messages; a result per message. By default each is its own conditional write, in
   * parallel. With `transaction: true`, up to 100 fenced acks go in one TransactWriteItems (one
   * request instead of 100, at twice the write units); a chunk in which any lease was lost, or a
   * backend without transactions (dynalite), falls back to one write per message.
   */
  readonly ackBatch: (
    messages: ReadonlyArray<ReceivedMessage<A>>,
    options?: { readonly transaction?: boolean | undefined },
  ) => Effect.Effect<ReadonlyArray<Either.Either<void, LeaseLost | DynamoDBError>>>;
  /** Hands a received message back to be received again after `delay`; the receive counts. */
  readonly nack: (
    message: ReceivedMessage<A>,
    options?: NackOptions,
  ) => Effect.Effect<void, LeaseLost | InvalidOptions | DynamoDBError>;
  /** Nacks many messages in parallel; a result per message. */
  readonly nackBatch: (
    messages: ReadonlyArray<ReceivedMessage<A>>,
    options?: NackOptions,
  ) => Effect.Effect<
    ReadonlyArray<Either.Either<void, LeaseLost | InvalidOptions | DynamoDBError>>
  >;
  /**
   * Sets how long from now the message stays invisible (extends the lease; 0 makes it visible
   * now while keeping the lease until someone else receives it). Returns the new `visibleAt`.
   */
  readonly changeVisibility: (
    message: ReceivedMessage<A>,
    timeout: Duration.DurationInput,
  ) => Effect.Effect<number, LeaseLost | InvalidOptions | DynamoDBError>;
  /** Changes the visibility of many messages in parallel; a result (the new `visibleAt`) per message. */
  readonly changeVisibilityBatch: (
    messages: ReadonlyArray<ReceivedMessage<A>>,
    timeout: Duration.DurationInput,
  ) => Effect.Effect<
    ReadonlyArray<Either.Either<number, LeaseLost | InvalidOptions | DynamoDBError>>
  >;
  /** Makes a received message visible now without counting the receive (shutdown, interruption). */
  readonly release: (message: ReceivedMessage<A>) => Effect.Effect<void, LeaseLost | DynamoDBError>;
  /** Moves a received message to the dead-letter queue with a reason. */
  readonly deadLetter: (
    message: ReceivedMessage<A>,
    reason: FailureInfo,
  ) => Effect.Effect<void, LeaseLost | DynamoDBError>;

  /** Moves a pending (ready or delayed) message to another delivery time. */
  readonly reschedule: (
    id: string,
    when: RescheduleOptions,
  ) => Effect.Effect<number, MessageNotFound | InvalidState | InvalidOptions | DynamoDBError>;
  /** Deletes a pending (ready or delayed) message; one in flight or dead is refused. */
  readonly cancel: (
    id: string,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | DynamoDBError>;
  /** Admin: deletes a message by id in any state. */
  readonly delete: (id: string) => Effect.Effect<void, MessageNotFound | DynamoDBError>;
  /** Admin: moves a ready or delayed message to the dead-letter queue (not one in flight). */
  readonly moveToDeadLetter: (
    id: string,
    reason?: FailureInfo,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | DynamoDBError>;
  /** Admin: moves a dead-lettered message back to ready, resetting its receive count (the history stays). */
  readonly redrive: (
    id: string,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | DynamoDBError>;
  /** Admin: redrives every dead-lettered message that matches the filter; returns how many. */
  readonly redriveAll: (filter?: RedriveFilter) => Effect.Effect<number, DynamoDBError>;
  /** Reads a message by id without receiving it. */
  readonly get: (id: string) => Effect.Effect<Option.Option<MessageInfo<A>>, DynamoDBError>;
  /** Lists messages in one state, oldest first, without receiving them. */
  readonly list: (
    options: ListOptions,
  ) => Effect.Effect<ListPage<A>, InvalidOptions | DynamoDBError>;
  /** Counts messages per state. */
  readonly stats: Effect.Effect<QueueStats, DynamoDBError>;
  /** Deletes every message (or every message in one state); returns how many. */
  readonly purge: (
    options?: { readonly state?: MessageState | undefined },
  ) => Effect.Effect<number, DynamoDBError>;
}

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

/**
 * Creates a typed handle for one queue. Validates the options (a typed `InvalidOptions`, nothing
 * written); the table itself is created with `Table.create`.
 *
 * @example
 * ```ts
 * import { Queue } from "@dynamomq/dynamomq";
 * import { Schema } from "effect";
 *
 * const orders = Queue.make({
 *   table: "dynamomq",
 *   name: "orders",
 *   schema: Schema.Struct({ id: Schema.String }),
 *   visibilityTimeout: "1 minute",
 *   maxReceives: 3,
 * });
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I>(
  options: QueueOptions<A, I>,
): Effect.Effect<Queue<A>, InvalidOptions, DynamoDB> =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(options);
    return makeQueue(yield* DynamoDB, settings, options.schema);
  });

const makeQueue = <A, I>(
  db: DynamoDB,
  settings: Settings,
  schema: Schema.Schema<A, I>,
): Queue<A> => {
  const ctx = makeContext(db, settings, schema);
  const { table, name, maxReceives, shards, priorities } = settings;
  const { encode, keyOf, now, attrs, bands } = ctx;
  const { withCatalog, countCompleted } = makeCatalogReport(ctx);
  const partitions = ctx.readyPartitions;

  /**
   * The order in which one receive visits the bands: the first band is drawn with weight 4^band,
   * the others follow from high to low. Higher bands are served first most of the time, and a
   * lower band is still looked at first now and then, so it is never starved.
   */
  const weights = bands.map((b) => 4 ** b);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const bandOrder: Effect.Effect<ReadonlyArray<number>> = priorities === 1
    ? Effect.succeed([0])
    // Effect's Random, so that tests can seed the draw.
    : Effect.map(Random.next, (u) => {
      let r = u * totalWeight;
      const first = bands.find((_, i) => (r -= weights[i]!) < 0) ?? bands[0]!;
      return [first, ...bands.filter((b) => b !== first)];
    });

  const bodyOf = (s: StoredMessage) => bodyOfStored(ctx, s);
  const infoOf = (s: StoredMessage, t: number) => infoOfStored(ctx, s, t);

  /** Runs a write fenced by a lease: a failed condition means the lease is gone. */
  const fenced = <X>(
    message: ReceivedMessage<A>,
    operation: string,
    write: Effect.Effect<X, ConditionFailed | DynamoDBError>,
  ): Effect.Effect<X, LeaseLost | DynamoDBError> =>
    Effect.catchTag(
      write,
      "ConditionFailed",
      () => Effect.fail(new LeaseLost({ queue: name, messageId: message.id, operation })),
    );

  const leaseHeld = (message: ReceivedMessage<A>): Condition =>
    and(eq("lease", message.lease), eq("state", "inflight"));

  const deadFields = (at: number, id: string, reason: FailureInfo) =>
    deadFieldsOf(ctx, at, id, reason);

  // --- send ------------------------------------------------------------------------------------

  /** A validated, encoded message ready to be written. */
  interface Prepared {
    readonly id: string;
    readonly visibleAt: number;
    readonly item: Item;
    /** A put that must not overwrite (an explicit id or a deduplication key). */
    readonly condition?: Condition | undefined;
    readonly deduplicated: boolean;
    /** The FIFO group: the id, key and sequence number are assigned when it is sent. */
    readonly group?: { readonly name: string; readonly home: string } | undefined;
  }

  const prepare = (
    body: A,
    options: SendOptions | undefined,
    t: number,
  ): Effect.Effect<Prepared, ParseResult.ParseError | PayloadTooLarge | InvalidOptions> =>
    Effect.gen(function* () {
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
      const json = yield* encode(body);
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
      const item: Record<string, Item[string]> = {
        ...keyOf(id),
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
      const bytes = itemSize(item);
      if (bytes > MAX_ITEM_BYTES) {
        return yield* new PayloadTooLarge({ queue: name, bytes, limit: MAX_ITEM_BYTES });
      }
      const condition = dedup !== undefined
        // A tombstone whose window has passed may be replaced; anything else is a duplicate.
        ? or(notExists("pk"), and(eq("state", "done"), compare("dedupUntil", "<", t)))
        : options?.id !== undefined
        ? notExists("pk")
        : undefined;
      return {
        id,
        visibleAt,
        item,
        condition,
        deduplicated: dedup !== undefined,
        group: group === undefined
          ? undefined
          : { name: group, home: readyPartition(name, priority, randomShard(shards)) },
      };
    });

  /** Writes one prepared message with its condition; a deduplicated resend reports the original. */
  const putPrepared = (p: Prepared): Effect.Effect<SendResult, DuplicateMessage | DynamoDBError> =>
    p.group !== undefined ? putGrouped(p, p.group.name, p.group.home) : db.put(table, p.item, {
      condition: p.condition ?? notExists("pk"),
    }).pipe(
      Effect.as<SendResult>({ id: p.id, visibleAt: p.visibleAt, duplicate: false }),
      Effect.catchTag(
        "ConditionFailed",
        (): Effect.Effect<SendResult, DuplicateMessage | DynamoDBError> => {
          if (!p.deduplicated) {
            return Effect.fail(new DuplicateMessage({ queue: name, messageId: p.id }));
          }
          return Effect.flatMap(db.get(table, keyOf(p.id)), (item) => {
            const s = item === undefined ? undefined : parseItem(item);
            return Effect.succeed<SendResult>({
              id: p.id,
              visibleAt: s !== undefined && Either.isRight(s) ? s.right.visibleAt : p.visibleAt,
              duplicate: true,
            });
          });
        },
      ),
    );

  const send: Queue<A>["send"] = (body, options) =>
    Effect.flatMap(now, (t) => prepare(body, options, t)).pipe(
      Effect.flatMap(putPrepared),
      Effect.withSpan("DynamoMQ.send", { kind: "producer", attributes: attrs }),
      withCatalog,
    );

  /** BatchWriteItem of puts with generated ids, retrying unprocessed entries with jittered backoff. */
  const batchPut = (
    batch: ReadonlyArray<Prepared>,
  ): Effect.Effect<ReadonlyArray<Either.Either<SendResult, DynamoDBError>>> =>
    Effect.gen(function* () {
      const results = new Map<string, Either.Either<SendResult, DynamoDBError>>();
      let pending = batch;
      for (let attempt = 0; pending.length > 0 && attempt < BATCH_WRITE_ATTEMPTS; attempt++) {
        if (attempt > 0) {
          yield* Effect.sleep(
            Duration.millis(yield* Random.nextRange(0, Math.min(50 * 2 ** attempt, 2_000))),
          );
        }
        const outcome = yield* Effect.either(
          db.batchWrite(table, pending.map((p) => ({ _tag: "Put" as const, item: p.item }))),
        );
        if (Either.isLeft(outcome)) {
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
      return batch.map((p) => results.get(p.id)!);
    });

  const sendBatch: Queue<A>["sendBatch"] = (entries) =>
    Effect.gen(function* () {
      const t = yield* now;
      const prepared = yield* Effect.forEach(entries, (e) =>
        Effect.either(prepare(e.body, e.options, t)));
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
      const batched = (yield* Effect.forEach(chunks, batchPut, { concurrency: 4 })).flat();
      const byId = new Map(plain.map((p, i) => [p.id, batched[i]!] as const));
      return yield* Effect.forEach(
        prepared,
        (p): Effect.Effect<Either.Either<SendResult, SendError>> => {
          if (Either.isLeft(p)) return Effect.succeed(Either.left(p.left));
          const done = byId.get(p.right.id);
          return done !== undefined && isPlain(p.right)
            ? Effect.succeed(done)
            : Effect.either(putPrepared(p.right));
        },
        { concurrency: 16 },
      );
    }).pipe(
      Effect.withSpan("DynamoMQ.sendBatch", { kind: "producer", attributes: attrs }),
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
          : prepare(body, options, t),
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

  // --- FIFO message groups ---------------------------------------------------------------------
  //
  // A group's messages live in the group's own partition (`<queue>#g#<group>`, sort key = a
  // fixed-width sequence number), so a strongly consistent query returns the group's head in
  // order. The group item in that partition — not its messages — sits in the ready index; it
  // carries the sequence counters `next` (allocated) and `written` (put), and the group's lease.
  // Claiming the group claims its head, so at most one message of a group is in flight. The
  // protocol and its crash cases are described in docs/design.md.

  /** How soon a group whose next message was allocated but not yet written is looked at again. */
  const GROUP_GAP_RETRY = 1_000;
  /** After this long, an allocated sequence number that was never written is given up on. */
  const GROUP_GAP_ABANDON = 5 * 60_000;

  const groupKey = (group: string): Key => ({ pk: groupPk(name, group), sk: GROUP_SK });
  const groupEntryId = (group: string) => `g.${group}`;
  /** The fields that put a group in the ready index, due at `t` (its `receives` stays 0). */
  const groupDue = (group: string, home: string, t: number) => ({
    queue: name,
    group,
    state: "group",
    home,
    gpk: home,
    gsk: indexSortKey(t, groupEntryId(group)),
    receives: 0,
    updatedAt: t,
  });

  /**
   * Takes the group's next sequence number. A group that is not in the ready index is put there
   * in the same write: if the sender then crashes before its message is written, consumers find
   * the gap and wait for it, rather than never looking at the group again.
   */
  const allocate = (group: string, home: string, t: number): Effect.Effect<number, DynamoDBError> =>
    db.update(table, groupKey(group), {
      set: { ...groupDue(group, home, t), sentAt: t },
      add: { next: 1, written: 0 },
    }, { condition: notExists("gpk") }).pipe(
      Effect.catchTag(
        "ConditionFailed",
        () => unconditional(db.update(table, groupKey(group), { add: { next: 1, written: 0 } })),
      ),
      Effect.map((item) => (item.next as number) - 1),
    );

  const putGrouped = (
    p: Prepared,
    group: string,
    home: string,
  ): Effect.Effect<SendResult, DynamoDBError> =>
    Effect.gen(function* () {
      const sentAt = p.item.sentAt as number;
      const seq = yield* allocate(group, home, sentAt);
      const id = groupedId(seq, group);
      const item = {
        ...p.item,
        sk: groupMessageSk(seq),
        id,
        seq,
        gsk: indexSortKey(p.visibleAt, id),
      };
      const written = yield* db.put(table, item, { condition: notExists("pk") }).pipe(
        Effect.as(true),
        // A sequence number is handed out once; only a group item deleted and re-created (its
        // counters restarted) can hand one out again. Then take the next one.
        Effect.catchTag("ConditionFailed", () => Effect.succeed(false)),
      );
      // Count the sequence number as written either way, so consumers do not wait for it.
      yield* unconditional(db.update(table, groupKey(group), { add: { written: 1 } }));
      if (!written) return yield* putGrouped(p, group, home);
      return { id, visibleAt: p.visibleAt, duplicate: false };
    });

  /** The group's first message, read strongly consistently. */
  const headOf = (group: string): Effect.Effect<Item | undefined, DynamoDBError> =>
    Effect.map(
      db.query(table, {
        partition: { attribute: "pk", value: groupPk(name, group) },
        sort: { attribute: "sk", condition: { _tag: "BeginsWith", prefix: "m#" } },
        limit: 1,
        consistent: true,
      }),
      (page) => page.items[0],
    );

  /** Puts a group back in the ready index now, unless a consumer holds it (it will see the change). */
  const wakeGroup = (
    group: string,
    priority: number,
    t: number,
  ): Effect.Effect<void, DynamoDBError> =>
    Effect.flatMap(db.get(table, groupKey(group)), (g) => {
      const home = typeof g?.home === "string"
        ? g.home
        : readyPartition(name, priority, randomShard(shards));
      return db.update(table, groupKey(group), {
        set: groupDue(group, home, t),
        add: { next: 0, written: 0 },
      }, { condition: notExists("lease") }).pipe(
        Effect.catchTag("ConditionFailed", () => Effect.void),
      );
    });

  /**
   * Hands a group back after its head was settled: visible when its new head is due; out of the
   * index when it is empty and nothing is being sent to it (conditioned on both counters, so a
   * message sent meanwhile is never stranded); looked at again soon when a sender has taken a
   * sequence number but not written it yet.
   */
  const settleGroup = (group: string, lease: string): Effect.Effect<void, DynamoDBError> =>
    Effect.gen(function* () {
      const held = eq("lease", lease);
      for (let attempt = 0; attempt < 5; attempt++) {
        const t = yield* now;
        const g = yield* db.get(table, groupKey(group));
        if (g === undefined || g.lease !== lease) return;
        const head = yield* headOf(group);
        if (head !== undefined) {
          const due = head.state === "inflight" ? t : Math.max(t, head.visibleAt as number);
          return yield* ignoreLost(db.update(table, groupKey(group), {
            set: { gsk: indexSortKey(due, groupEntryId(group)), updatedAt: t },
            remove: ["lease", "gapSince"],
          }, { condition: held }));
        }
        const next = (g.next as number | undefined) ?? 0;
        const written = (g.written as number | undefined) ?? 0;
        const gapSince = g.gapSince as number | undefined;
        if (written >= next || (gapSince !== undefined && t - gapSince >= GROUP_GAP_ABANDON)) {
          const released = yield* Effect.either(db.update(table, groupKey(group), {
            set: { written: next, updatedAt: t },
            remove: ["gpk", "gsk", "lease", "gapSince"],
          }, { condition: and(held, eq("next", next), eq("written", written)) }));
          if (Either.isRight(released)) return;
          if (released.left._tag === "DynamoDBError") return yield* released.left;
          continue; // a sender moved a counter meanwhile: look again
        }
        return yield* ignoreLost(db.update(table, groupKey(group), {
          set: {
            gsk: indexSortKey(t + GROUP_GAP_RETRY, groupEntryId(group)),
            gapSince: gapSince ?? t,
            updatedAt: t,
          },
          remove: ["lease"],
        }, { condition: held }));
      }
    });

  /**
   * Moves a grouped message to the dead-letter queue: a dead copy under the message's own key
   * first, then the delete from the group (conditioned as given). A crash in between leaves the
   * copy and the original; the next attempt finds the copy already there and only deletes.
   */
  const deadLetterGrouped = (
    item: Item,
    reason: FailureInfo,
    condition: Condition,
    t: number,
  ): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
    Effect.gen(function* () {
      const id = item.id as string;
      const { lease: _lease, ...rest } = item;
      const copy = { ...rest, ...messageKey(name, id), ...deadFields(t, id, reason) };
      const copied = yield* db.put(table, copy, { condition: notExists("pk") }).pipe(
        Effect.as(true),
        Effect.catchTag("ConditionFailed", () => Effect.succeed(false)),
      );
      yield* db.delete(table, { pk: item.pk as string, sk: item.sk as string }, { condition }).pipe(
        Effect.tapError((e) =>
          copied && e._tag === "ConditionFailed"
            ? Effect.ignore(db.delete(table, messageKey(name, id)))
            : Effect.void
        ),
      );
    });

  // --- receive ---------------------------------------------------------------------------------

  /** What one claim of an index entry yields. */
  interface Claimed {
    readonly message?: ReceivedMessage<A> | undefined;
    readonly deadLettered: ReadonlyArray<MaxReceivesExceeded | UndecodableMessage>;
  }
  const lost: Claimed = { deadLettered: [] };

  /** Decodes a claimed item into a message, or explains why it cannot be delivered. */
  const decodeClaimed = (
    item: Item,
    id: string,
    lease: string,
  ): Effect.Effect<Either.Either<ReceivedMessage<A>, UndecodableMessage>> =>
    Effect.gen(function* () {
      const stored = parseItem(item);
      const body = Either.isRight(stored) ? yield* bodyOf(stored.right) : Either.left({
        detail: `not a DynamoMQ message: ${stored.left}`,
        cause: undefined as unknown,
      });
      if (Either.isLeft(body) || Either.isLeft(stored)) {
        const problem = Either.isLeft(body) ? body.left : { detail: "", cause: undefined };
        return Either.left(new UndecodableMessage({ queue: name, messageId: id, ...problem }));
      }
      const s = stored.right;
      return Either.right({
        queue: name,
        id,
        body: body.right,
        receives: s.receives,
        sentAt: s.sentAt,
        visibleAt: s.visibleAt,
        lease,
        attempts: s.attempts,
        priority: s.priority,
        deduplication: s.dedup !== undefined && s.dedupUntil !== undefined
          ? { id: s.dedup, until: s.dedupUntil }
          : undefined,
        group: s.group,
        traceParent: s.trace,
      });
    });

  /**
   * Claims one candidate read from the index: a single conditional update, conditioned on the
   * index key and receive count just read (they change on every claim, so they act as the
   * version). A lost race is not an error: the caller moves on to the next candidate.
   */
  const claim = (
    candidate: Item,
    t: number,
    visibility: number,
  ): Effect.Effect<Claimed, DynamoDBError> => {
    const pk = candidate.pk as string;
    const receives = typeof candidate.receives === "number" ? candidate.receives : 0;
    const version = and(
      eq("gpk", candidate.gpk as string),
      eq("gsk", candidate.gsk as string),
      candidate.receives === undefined ? notExists("receives") : eq("receives", candidate.receives),
    );
    if (candidate.state === "group") {
      return claimGroup(pk.slice(groupPk(name, "").length), version, t, visibility);
    }
    const id = pk.slice(name.length + 1);
    const key = { pk, sk: MESSAGE_SK };
    if (typeof candidate.receives !== "number") {
      // Not an item this library wrote (its receive count could not even be counted up):
      // quarantined straight away, so it neither blocks the index nor fails every receive.
      const error = new UndecodableMessage({
        queue: name,
        messageId: id,
        detail: "not a DynamoMQ message: its receive count is missing or not a number",
      });
      return db.update(table, key, {
        set: deadFields(t, id, { tag: error._tag, message: error.detail }),
        remove: ["lease"],
      }, { condition: version }).pipe(
        Effect.as<Claimed>({ deadLettered: [error] }),
        Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
      );
    }
    if (receives >= maxReceives) {
      const error = new MaxReceivesExceeded({ queue: name, messageId: id, receives, maxReceives });
      return db.update(table, key, {
        set: deadFields(t, id, { tag: error._tag, message: error.message }),
        remove: ["lease"],
      }, { condition: version }).pipe(
        Effect.as<Claimed>({ deadLettered: [error] }),
        Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
      );
    }
    const lease = leaseToken();
    const visibleAt = t + visibility;
    return db.update(table, key, {
      set: { state: "inflight", lease, gsk: indexSortKey(visibleAt, id), visibleAt, updatedAt: t },
      add: { receives: 1 },
    }, { condition: version }).pipe(
      Effect.flatMap((item) =>
        Effect.flatMap(
          decodeClaimed(item, id, lease),
          Either.match({
            onRight: (message): Effect.Effect<Claimed, ConditionFailed | DynamoDBError> =>
              Effect.succeed({ message, deadLettered: [] }),
            // Quarantined under the new lease, so a poison item never reaches a handler.
            onLeft: (error) =>
              db.update(table, key, {
                set: deadFields(t, id, { tag: error._tag, message: error.detail }),
                remove: ["lease"],
              }, { condition: eq("lease", lease) }).pipe(Effect.as({ deadLettered: [error] })),
          }),
        )
      ),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
    );
  };

  /**
   * Claims a group (one conditional update of its item), then its head under the same lease.
   * Heads at `maxReceives` or that do not decode are dead-lettered on the way; a head that is
   * not due yet, or an empty group, hands the group back.
   */
  const claimGroup = (
    group: string,
    version: Condition,
    t: number,
    visibility: number,
  ): Effect.Effect<Claimed, DynamoDBError> =>
    Effect.gen(function* () {
      const lease = leaseToken();
      const until = t + visibility;
      const claimed = yield* Effect.either(db.update(table, groupKey(group), {
        set: { lease, gsk: indexSortKey(until, groupEntryId(group)), updatedAt: t },
      }, { condition: version }));
      if (Either.isLeft(claimed)) {
        return claimed.left._tag === "ConditionFailed" ? lost : yield* claimed.left;
      }
      const deadLettered: Array<MaxReceivesExceeded | UndecodableMessage> = [];
      const dead = (head: Item, error: MaxReceivesExceeded | UndecodableMessage, reason: string) =>
        deadLetterGrouped(
          head,
          { tag: error._tag, message: reason },
          eq("receives", head.receives as number),
          t,
        )
          .pipe(
            Effect.tap(() => void deadLettered.push(error)),
            Effect.catchTag("ConditionFailed", () => Effect.void),
          );
      for (let i = 0; i < 10; i++) {
        const head = yield* headOf(group);
        if (
          head === undefined || (head.state !== "inflight" && (head.visibleAt as number) > t)
        ) break;
        const id = head.id as string;
        const receives = typeof head.receives === "number" ? head.receives : 0;
        if (receives >= maxReceives) {
          const error = new MaxReceivesExceeded({
            queue: name,
            messageId: id,
            receives,
            maxReceives,
          });
          yield* dead(head, error, error.message);
          continue;
        }
        const taken = yield* Effect.either(
          db.update(table, { pk: head.pk as string, sk: head.sk as string }, {
            set: {
              state: "inflight",
              lease,
              gsk: indexSortKey(until, id),
              visibleAt: until,
              updatedAt: t,
            },
            add: { receives: 1 },
          }, { condition: and(exists("pk"), eq("receives", receives)) }),
        );
        if (Either.isLeft(taken)) {
          if (taken.left._tag === "DynamoDBError") return yield* taken.left;
          continue; // changed meanwhile (an admin operation): read the head again
        }
        const decoded = yield* decodeClaimed(taken.right, id, lease);
        if (Either.isRight(decoded)) return { message: decoded.right, deadLettered };
        yield* dead(taken.right, decoded.left, decoded.left.detail);
      }
      yield* settleGroup(group, lease);
      return { deadLettered };
    });

  const receive: Queue<A>["receive"] = (options) =>
    Effect.gen(function* () {
      const max = yield* integerIn("receive", "max", options?.max, 1, 1, 100);
      const visibility = options?.visibilityTimeout === undefined
        ? settings.visibilityTimeoutMillis
        : yield* durationMillis(
          "receive",
          "visibilityTimeout",
          options.visibilityTimeout,
          Duration.zero,
        );
      if (visibility < 1) return yield* invalid("receive", "visibilityTimeout", "must be positive");
      const t = yield* now;
      const messages: Array<ReceivedMessage<A>> = [];
      const deadLettered: Array<MaxReceivesExceeded | UndecodableMessage> = [];
      let failure: DynamoDBError | undefined = undefined;
      // Start at a random shard so that consumers spread over the shards.
      const firstShard = randomShard(shards);
      const order = (yield* bandOrder).flatMap((band) =>
        Array.from({ length: shards }, (_, i) =>
          readyPartition(name, band, (firstShard + i) % shards))
      );
      for (const partition of order) {
        let startKey: Key | undefined = undefined;
        while (messages.length < max) {
          // Read a few more candidates than needed: some will be lost to other consumers.
          const page: QueryPage = yield* db.query(table, {
            index: INDEX_NAME,
            partition: { attribute: "gpk", value: partition },
            sort: {
              attribute: "gsk",
              condition: { _tag: "Compare", op: "<=", value: visibleUpTo(t) },
            },
            limit: Math.min((max - messages.length) * 2 + 4, 200),
            startKey,
          });
          let candidates = page.items;
          // Claim in waves of the number still wanted, in index order, so a lone consumer
          // receives oldest first.
          while (candidates.length > 0 && messages.length < max) {
            const wave = candidates.slice(0, max - messages.length);
            candidates = candidates.slice(wave.length);
            // Each claim stands alone: one failing (throttled, say) must not throw away the
            // messages the others claimed, which would then sit in flight with no holder.
            const outcomes = yield* Effect.forEach(
              wave,
              (c) =>
                Effect.either(claim(c, t, visibility)),
              { concurrency: "unbounded" },
            );
            for (const o of outcomes) {
              if (Either.isLeft(o)) {
                failure ??= o.left;
                continue;
              }
              if (o.right.message !== undefined) messages.push(o.right.message);
              deadLettered.push(...o.right.deadLettered);
            }
          }
          startKey = page.lastKey;
          if (startKey === undefined) {
            break;
          }
        }
        // After a failed claim, hand over what was claimed rather than read further.
        if (messages.length >= max || failure !== undefined) break;
      }
      // A failed claim is reported only when there is nothing else to hand over.
      if (failure !== undefined && messages.length === 0 && deadLettered.length === 0) {
        return yield* failure;
      }
      return { messages, deadLettered };
    }).pipe(
      Effect.withSpan("DynamoMQ.receive", { kind: "consumer", attributes: attrs }),
      withCatalog,
    );

  // --- settle ----------------------------------------------------------------------------------

  /**
   * After a grouped message was settled, hands its group back. A failure here only delays the
   * group until its lease runs out, so it is logged rather than failing the settle that worked.
   */
  const afterSettle = (message: ReceivedMessage<A>): Effect.Effect<void> =>
    message.group === undefined ? Effect.void : settleGroup(message.group, message.lease).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning(
          "could not hand the group back; it becomes receivable when its lease ends",
        ).pipe(
          Effect.annotateLogs({ queue: name, group: message.group, error: e.message }),
        )
      ),
    );

  /**
   * The write that acks a message: a delete fenced by its lease or, within its deduplication
   * window, a payload-less tombstone (out of the index) so that a resend is still recognised;
   * TTL removes the tombstone afterwards.
   */
  const ackWrite = (
    message: ReceivedMessage<A>,
    t: number,
  ): Extract<TransactItem, { readonly _tag: "Update" | "Delete" }> => {
    const until = message.deduplication?.until;
    return until !== undefined && until > t
      ? {
        _tag: "Update",
        table,
        key: keyOf(message.id),
        update: {
          set: { state: "done", updatedAt: t, [TTL_ATTRIBUTE]: Math.ceil(until / 1000) },
          remove: ["gpk", "gsk", "payload", "lease", "attempts"],
        },
        condition: leaseHeld(message),
      }
      : { _tag: "Delete", table, key: keyOf(message.id), condition: leaseHeld(message) };
  };

  const ack: Queue<A>["ack"] = (message) =>
    Effect.flatMap(now, (t) => {
      const w = ackWrite(message, t);
      const write = w._tag === "Update"
        ? db.update(w.table, w.key, w.update, { condition: w.condition })
        : db.delete(w.table, w.key, { condition: w.condition });
      return fenced(message, "ack", write);
    }).pipe(
      Effect.zipRight(countCompleted(1)),
      Effect.zipRight(afterSettle(message)),
      Effect.withSpan("DynamoMQ.ack", { attributes: attrs }),
    );

  const nack: Queue<A>["nack"] = (message, options) =>
    Effect.gen(function* () {
      const delay = yield* durationMillis("nack", "delay", options?.delay, Duration.zero);
      const t = yield* now;
      const error = options?.error ?? { tag: "Nack", message: "negatively acknowledged" };
      const attempts = appendAttempt(message.attempts, {
        at: t,
        receive: message.receives,
        ...error,
      });
      yield* fenced(
        message,
        "nack",
        db.update(table, keyOf(message.id), {
          set: {
            state: "ready",
            gsk: indexSortKey(t + delay, message.id),
            visibleAt: t + delay,
            updatedAt: t,
            attempts: attemptsItem(attempts),
          },
          remove: ["lease"],
        }, { condition: leaseHeld(message) }),
      );
      // A grouped message stays its group's head: the group waits for it (strict order).
      yield* afterSettle(message);
    }).pipe(Effect.withSpan("DynamoMQ.nack", { attributes: attrs }));

  const changeVisibility: Queue<A>["changeVisibility"] = (message, timeout) =>
    Effect.gen(function* () {
      const millis = yield* durationMillis("changeVisibility", "timeout", timeout, Duration.zero);
      const t = yield* now;
      const visibleAt = t + millis;
      yield* fenced(
        message,
        "changeVisibility",
        db.update(table, keyOf(message.id), {
          set: { gsk: indexSortKey(visibleAt, message.id), visibleAt, updatedAt: t },
        }, { condition: leaseHeld(message) }),
      );
      if (message.group !== undefined) {
        // The group's lease is the one other consumers respect: it moves with the message's.
        yield* fenced(
          message,
          "changeVisibility",
          db.update(table, groupKey(message.group), {
            set: { gsk: indexSortKey(visibleAt, groupEntryId(message.group)), updatedAt: t },
          }, { condition: eq("lease", message.lease) }),
        );
      }
      return visibleAt;
    }).pipe(Effect.withSpan("DynamoMQ.changeVisibility", { attributes: attrs }));

  const release: Queue<A>["release"] = (message) =>
    Effect.flatMap(now, (t) =>
      fenced(
        message,
        "release",
        db.update(table, keyOf(message.id), {
          set: { state: "ready", gsk: indexSortKey(t, message.id), visibleAt: t, updatedAt: t },
          add: { receives: -1 },
          remove: ["lease"],
        }, { condition: leaseHeld(message) }),
      )).pipe(
        Effect.zipRight(afterSettle(message)),
        Effect.withSpan("DynamoMQ.release", { attributes: attrs }),
      );

  const deadLetter: Queue<A>["deadLetter"] = (message, reason) =>
    Effect.gen(function* () {
      const t = yield* now;
      const attempts = attemptsItem(
        appendAttempt(message.attempts, { at: t, receive: message.receives, ...reason }),
      );
      if (message.group === undefined) {
        yield* fenced(
          message,
          "deadLetter",
          db.update(table, keyOf(message.id), {
            set: { ...deadFields(t, message.id, reason), attempts },
            remove: ["lease"],
          }, { condition: leaseHeld(message) }),
        );
        return;
      }
      const head = yield* db.get(table, keyOf(message.id));
      if (head === undefined) {
        return yield* new LeaseLost({
          queue: name,
          messageId: message.id,
          operation: "deadLetter",
        });
      }
      yield* fenced(
        message,
        "deadLetter",
        deadLetterGrouped({ ...head, attempts }, reason, leaseHeld(message), t),
      );
      yield* afterSettle(message);
    }).pipe(Effect.withSpan("DynamoMQ.deadLetter", { attributes: attrs }));

  /**
   * Acks in TransactWriteItems of up to 100 fenced writes. A transaction is all or nothing, so a
   * chunk that fails (a lost lease, or no transactions on this backend) is acked message by
   * message instead, which tells each message's outcome apart.
   */
  const ackInTransactions = (
    messages: ReadonlyArray<ReceivedMessage<A>>,
  ): Effect.Effect<ReadonlyArray<Either.Either<void, LeaseLost | DynamoDBError>>> =>
    Effect.gen(function* () {
      const t = yield* now;
      const results: Array<Either.Either<void, LeaseLost | DynamoDBError>> = [];
      for (let i = 0; i < messages.length; i += MAX_TRANSACT_ITEMS) {
        const chunk = messages.slice(i, i + MAX_TRANSACT_ITEMS);
        const committed = yield* Effect.either(db.transactWrite(chunk.map((m) => ackWrite(m, t))));
        if (Either.isRight(committed)) {
          yield* countCompleted(chunk.length);
          yield* Effect.forEach(chunk, afterSettle, { discard: true, concurrency: 16 });
          results.push(...chunk.map(() => Either.void));
        } else {
          results.push(...(yield* each(chunk, ack)));
        }
      }
      return results;
    }).pipe(Effect.withSpan("DynamoMQ.ackBatch", { attributes: attrs }));

  /** Runs one settle per message in parallel (each its own conditional write); a result per message. */
  const each = <X, E>(
    messages: ReadonlyArray<ReceivedMessage<A>>,
    f: (m: ReceivedMessage<A>) => Effect.Effect<X, E>,
  ): Effect.Effect<ReadonlyArray<Either.Either<X, E>>> =>
    Effect.forEach(messages, (m) => Effect.either(f(m)), { concurrency: 16 });

  // --- admin -----------------------------------------------------------------------------------

  const notFound = (id: string) => new MessageNotFound({ queue: name, messageId: id });

  /** A message item found by id: where it is, as stored, and decoded. */
  interface Located {
    readonly key: Key;
    readonly item: Item;
    readonly s: StoredMessage;
  }

  /**
   * Finds a message by id, failing with `MessageNotFound` when absent, a tombstone, or not a
   * message. A grouped message lives in its group's partition, or under its own key once dead.
   */
  const locate = (id: string): Effect.Effect<Located, MessageNotFound | DynamoDBError> =>
    Effect.gen(function* () {
      const keys = parseGroupedId(id) === undefined
        ? [keyOf(id)]
        : [keyOf(id), messageKey(name, id)];
      for (const key of keys) {
        const item = yield* db.get(table, key);
        const s = item === undefined ? undefined : parseItem(item);
        if (
          item !== undefined && s !== undefined && Either.isRight(s) && s.right.state !== "done"
        ) {
          return { key, item, s: s.right };
        }
      }
      return yield* notFound(id);
    });

  /** Conditioned on the item not having changed since it was read. */
  const unchanged = (s: StoredMessage): Condition =>
    and(eq("updatedAt", s.updatedAt), eq("state", s.state), eq("receives", s.receives));

  /**
   * Runs an admin read-check-write again when a concurrent change slipped in between the read
   * and the write (the write is conditioned on the item being unchanged since the read).
   */
  const retryOnRace = <X, E>(effect: Effect.Effect<X, E | ConditionFailed>): Effect.Effect<X, E> =>
    effect.pipe(
      Effect.retry({ times: 5, while: (e) => e instanceof ConditionFailed }),
      Effect.catchIf(
        (e): e is ConditionFailed => e instanceof ConditionFailed,
        (e) => Effect.die(e),
      ),
    ) as Effect.Effect<X, E>;

  const invalidState = (id: string, operation: string, state: MessageState, expected: string) =>
    new InvalidState({ queue: name, messageId: id, operation, state, expected });

  /** A grouped message changed by an admin may now be its group's head: let a consumer look. */
  const wakeIfGrouped = (s: StoredMessage, t: number): Effect.Effect<void, DynamoDBError> =>
    s.group === undefined ? Effect.void : wakeGroup(s.group, s.priority, t);

  /** Finds a message that must be pending (ready or delayed), for reschedule and cancel. */
  const locatePending = (id: string, operation: string) =>
    Effect.gen(function* () {
      const found = yield* locate(id);
      const t = yield* now;
      const state = deriveState(found.s.state, found.s.visibleAt, t);
      if (found.s.state !== "ready") {
        return yield* invalidState(id, operation, state, "ready or delayed");
      }
      return { ...found, t };
    });

  const reschedule: Queue<A>["reschedule"] = (id, when) =>
    retryOnRace(Effect.gen(function* () {
      const { key, s, t } = yield* locatePending(id, "reschedule");
      const visibleAt = "at" in when
        ? yield* timeOf("reschedule", when.at)
        : t + (yield* durationMillis("reschedule", "delay", when.delay, Duration.zero));
      yield* db.update(table, key, {
        set: { gsk: indexSortKey(visibleAt, id), visibleAt, updatedAt: t },
      }, { condition: unchanged(s) });
      yield* wakeIfGrouped(s, t);
      return visibleAt;
    })).pipe(Effect.withSpan("DynamoMQ.reschedule", { attributes: attrs }));

  const cancel: Queue<A>["cancel"] = (id) =>
    retryOnRace(Effect.gen(function* () {
      const { key, s, t } = yield* locatePending(id, "cancel");
      yield* db.delete(table, key, { condition: unchanged(s) });
      yield* wakeIfGrouped(s, t);
    })).pipe(Effect.withSpan("DynamoMQ.cancel", { attributes: attrs }));

  const deleteMessage: Queue<A>["delete"] = (id) =>
    Effect.gen(function* () {
      const { key, s } = yield* locate(id);
      yield* db.delete(table, key, { condition: isIn("state", ["ready", "inflight", "dead"]) })
        .pipe(
          Effect.catchTag("ConditionFailed", () => Effect.fail(notFound(id))),
        );
      yield* wakeIfGrouped(s, yield* now);
    }).pipe(Effect.withSpan("DynamoMQ.delete", { attributes: attrs }));

  const moveToDeadLetter: Queue<A>["moveToDeadLetter"] = (id, reason) =>
    retryOnRace(Effect.gen(function* () {
      const { key, item, s } = yield* locate(id);
      if (s.state === "dead") return;
      const t = yield* now;
      const state = deriveState(s.state, s.visibleAt, t);
      if (state === "inflight") {
        return yield* invalidState(id, "moveToDeadLetter", state, "ready or delayed");
      }
      const why = reason ?? { tag: "Manual", message: "moved to the dead-letter queue" };
      if (s.group !== undefined) {
        yield* deadLetterGrouped(item, why, unchanged(s), t);
        return yield* wakeIfGrouped(s, t);
      }
      yield* db.update(table, key, { set: deadFields(t, id, why), remove: ["lease"] }, {
        condition: unchanged(s),
      });
    })).pipe(Effect.withSpan("DynamoMQ.moveToDeadLetter", { attributes: attrs }));

  /**
   * Moves a dead message back to ready with its receive count reset. A grouped one returns to
   * its place in its group (its sequence number): put back first, then its dead copy removed.
   */
  const redriveLocated = (
    { item, s }: Located,
    t: number,
  ): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
    Effect.gen(function* () {
      const ready = {
        state: "ready",
        gsk: indexSortKey(t, s.id),
        visibleAt: t,
        updatedAt: t,
        receives: 0,
      };
      if (s.group === undefined || s.seq === undefined) {
        return yield* db.update(table, messageKey(name, s.id), {
          set: { ...ready, gpk: s.home },
          remove: ["deadReason", "lease"],
        }, { condition: unchanged(s) });
      }
      const { deadReason: _reason, lease: _lease, ...rest } = item;
      yield* db.put(table, {
        ...rest,
        ...ready,
        pk: groupPk(name, s.group),
        sk: groupMessageSk(s.seq),
        gpk: groupedPartition(name),
      }, { condition: notExists("pk") }).pipe(
        Effect.catchTag("ConditionFailed", () => Effect.void),
      );
      yield* db.delete(table, messageKey(name, s.id), { condition: unchanged(s) });
      yield* wakeGroup(s.group, s.priority, t);
    }).pipe(Effect.asVoid);

  const redrive: Queue<A>["redrive"] = (id) =>
    retryOnRace(Effect.gen(function* () {
      const found = yield* locate(id);
      const t = yield* now;
      if (found.s.state !== "dead") {
        return yield* invalidState(
          id,
          "redrive",
          deriveState(found.s.state, found.s.visibleAt, t),
          "dead",
        );
      }
      yield* redriveLocated(found, t);
    })).pipe(Effect.withSpan("DynamoMQ.redrive", { attributes: attrs }));

  /** Reads whole items for index entries, in the order of the entries (BatchGetItem, ≤ 100 a call). */
  const fetchItems = (entries: ReadonlyArray<Item>): Effect.Effect<Array<Located>, DynamoDBError> =>
    Effect.gen(function* () {
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
  const partitionsOf = (state: MessageState | undefined): ReadonlyArray<string> =>
    state === "dead" ? [deadPartition(name)] : [...partitions, groupedPartition(name)];

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
  const forEachEntryPage = <E>(
    state: MessageState | undefined,
    t: number,
    f: (entries: ReadonlyArray<Item>) => Effect.Effect<void, E>,
  ): Effect.Effect<void, E | DynamoDBError> =>
    Effect.forEach(partitionsOf(state), (partition) =>
      Effect.gen(function* () {
        let startKey: Key | undefined = undefined;
        do {
          const page: QueryPage = yield* db.query(table, {
            ...stateQuery(state, partition, t),
            limit: 1000,
            startKey,
          });
          startKey = page.lastKey;
          if (page.items.length > 0) yield* f(page.items);
        } while (startKey !== undefined);
      }), { discard: true });

  const redriveAll: Queue<A>["redriveAll"] = (filter) =>
    Effect.gen(function* () {
      const t = yield* now;
      let count = 0;
      yield* forEachEntryPage("dead", t, (entries) =>
        Effect.gen(function* () {
          const stored = (yield* fetchItems(entries)).filter((l) => l.s.state === "dead");
          const infos = yield* Effect.forEach(stored, (l) => infoOf(l.s, t));
          const matching = stored.filter((_, i) => {
            const info = infos[i]!;
            return (filter?.reasonTag === undefined || info.deadReason?.tag === filter.reasonTag) &&
              (filter?.deadBefore === undefined || info.updatedAt <= filter.deadBefore) &&
              (filter?.where === undefined || filter.where(info as MessageInfo<unknown>));
          });
          const results = yield* Effect.forEach(
            matching,
            (l) => Effect.either(redriveLocated(l, t)),
            { concurrency: 16 },
          );
          for (const r of results) {
            if (Either.isRight(r)) count++;
            else if (r.left._tag === "DynamoDBError") return yield* r.left;
            // A ConditionFailed means the message changed meanwhile (redriven, purged): skip it.
          }
        }));
      return count;
    }).pipe(Effect.withSpan("DynamoMQ.redriveAll", { attributes: attrs }));

  const get: Queue<A>["get"] = (id) =>
    Effect.gen(function* () {
      const found = yield* Effect.option(
        Effect.catchTag(locate(id), "MessageNotFound", () => Effect.fail(undefined)),
      );
      if (Option.isNone(found)) return Option.none();
      return Option.some(yield* infoOf(found.value.s, yield* now));
    }).pipe(Effect.withSpan("DynamoMQ.get", { attributes: attrs }));

  const list: Queue<A>["list"] = (options) =>
    Effect.gen(function* () {
      const limit = yield* integerIn("list", "limit", options.limit, 100, 1, 1000);
      const state = options.state;
      const parts = partitionsOf(state);
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
      const infos = yield* Effect.forEach(yield* fetchItems(entries), (l) => infoOf(l.s, t));
      // The index lags the table a little: keep only what is still in the state asked for.
      const messages = infos.filter((info) => info.state === state);
      return { messages, cursor: next === undefined ? undefined : encodeCursor(next) };
    }).pipe(Effect.withSpan("DynamoMQ.list", { attributes: attrs }));

  const stats: Queue<A>["stats"] = Effect.gen(function* () {
    const t = yield* now;
    const counts = { ready: 0, delayed: 0, inflight: 0, dead: 0 };
    let oldestSent = Infinity;
    const upTo = visibleUpTo(t);
    yield* forEachEntryPage(undefined, t, (entries) =>
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
      "dead",
      t,
      (entries) => Effect.sync(() => void (counts.dead += entries.length)),
    );
    return { ...counts, oldestReadyAge: oldestSent === Infinity ? 0 : Math.max(0, t - oldestSent) };
  }).pipe(Effect.withSpan("DynamoMQ.stats", { attributes: attrs }));

  /** Deletes keys with BatchWriteItem, retrying unprocessed entries with jittered backoff. */
  const batchDelete = (keys: ReadonlyArray<Key>): Effect.Effect<void, DynamoDBError> =>
    Effect.forEach(
      Chunk.chunksOf(Chunk.fromIterable(keys), MAX_BATCH_WRITE),
      (chunk) =>
        Effect.gen(function* () {
          let pending = Chunk.toReadonlyArray(chunk).map((key) => ({
            _tag: "Delete" as const,
            key,
          }));
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 0) {
              yield* Effect.sleep(
                Duration.millis(yield* Random.nextRange(0, Math.min(50 * 2 ** attempt, 2_000))),
              );
            }
            const result = yield* db.batchWrite(table, pending);
            pending = result.unprocessed.filter((r) => r._tag === "Delete");
          }
        }),
      { discard: true, concurrency: 4 },
    );

  const purge: Queue<A>["purge"] = (options) =>
    Effect.gen(function* () {
      const t = yield* now;
      const state = options?.state;
      let count = 0;
      // Purging everything reads each partition whole and deletes in batches of 25; purging one
      // state deletes each listed entry on condition that it is unchanged, so a message that
      // moved to another state meanwhile (received, acked) is neither deleted nor counted.
      // FIFO group entries are kept: deleting one would restart its sequence counters under the
      // feet of concurrent senders. An emptied group leaves the index at its next claim.
      const purgePage = (all: ReadonlyArray<Item>) => {
        const entries = all.filter((e) => e.state !== "group");
        if (state === undefined) groups.push(...all.filter((e) => e.state === "group"));
        return state === undefined
          ? Effect.map(
            batchDelete(entries.map((e) => ({ pk: e.pk as string, sk: e.sk as string }))),
            () => {
              count += entries.length;
            },
          )
          : Effect.forEach(entries, (e) =>
            db.delete(table, { pk: e.pk as string, sk: e.sk as string }, {
              condition: and(eq("gsk", e.gsk as string), eq("state", e.state as string)),
            }).pipe(
              Effect.map(() =>
                void count++
              ),
              Effect.catchTag("ConditionFailed", () => Effect.void),
            ), { concurrency: 16, discard: true });
      };
      const groups: Array<Item> = [];
      yield* forEachEntryPage(state, t, purgePage);
      if (state === undefined) {
        yield* forEachEntryPage("dead", t, purgePage);
        // A group held by a consumer whose message is gone now is made receivable at once,
        // rather than when that lease runs out; its next claim finds it empty and lets it go.
        yield* Effect.forEach(groups, (e) =>
          ignoreLost(db.update(table, { pk: e.pk as string, sk: e.sk as string }, {
            set: {
              gsk: indexSortKey(t, groupEntryId((e.pk as string).slice(groupPk(name, "").length))),
            },
            remove: ["lease", "gapSince"],
          }, { condition: eq("gsk", e.gsk as string) })), { discard: true });
      }
      return count;
    }).pipe(Effect.withSpan("DynamoMQ.purge", { attributes: attrs }));

  return {
    name,
    table,
    visibilityTimeoutMillis: settings.visibilityTimeoutMillis,
    maxReceives,
    shards,
    priorities,
    send,
    sendBatch,
    transactItem,
    receive,
    ack: (message) => withCatalog(ack(message)),
    ackBatch: (messages, options) =>
      withCatalog(
        options?.transaction === true ? ackInTransactions(messages) : each(messages, ack),
      ),
    nack,
    nackBatch: (messages, options) => each(messages, (m) => nack(m, options)),
    changeVisibility,
    changeVisibilityBatch: (messages, timeout) =>
      each(messages, (m) => changeVisibility(m, timeout)),
    release,
    deadLetter,
    reschedule,
    cancel,
    delete: deleteMessage,
    moveToDeadLetter,
    redrive,
    redriveAll,
    get,
    list,
    stats,
    purge,
  };
};

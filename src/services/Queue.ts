/**
 * `Queue`: a typed handle for one named queue in a DynamoMQ table. Many queues share one table.
 * Payloads are validated and encoded with an Effect `Schema`; every operation on a received
 * message is fenced by the lease token of that receive.
 *
 * @example
 * ```ts
 * import { Queue, Table } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
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
import type * as Duration from "effect/Duration";
import type * as Effect from "effect/Effect";
import type * as Either from "effect/Either";
import type * as Option from "effect/Option";
import type * as ParseResult from "effect/ParseResult";
import type * as Schema from "effect/Schema";
import type {
  DuplicateMessage,
  DynamoDBError,
  InvalidOptions,
  InvalidState,
  LeaseLost,
  MaxReceivesExceeded,
  MessageNotFound,
  PayloadTooLarge,
  QueueDefinitionConflict,
  QueueNotEmpty,
  QueueNotFound,
  UndecodableMessage,
} from "../Errors.ts";
import { DEFINITION_REFRESH_MILLIS } from "../internal/queue/catalogReport.ts";
import {
  defineQueue,
  deleteQueue,
  describeQueue,
  updateQueue,
} from "../internal/queue/lifecycle.ts";
import { openQueue } from "../internal/queue/make.ts";
import type { QueueDefinition, QueueDescriptor } from "./Catalog.ts";
import type { MessageInfo, MessageState, ReceivedMessage } from "../schema/Message.ts";
import type { DynamoDB, TransactItem } from "./DynamoDB.ts";

/**
 * Options of `Queue.make`. A queue's shape and settings (every option but `table`, `name` and
 * `schema`) are stored in the table as its definition, written by the queue's first handle (or
 * `Queue.define`): a later handle adopts each setting its options leave out and fails with
 * `QueueDefinitionConflict` on one they contradict. The defaults below are those a new queue gets.
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
   * duplicate (also after the original was acked). 0 to 100 years; NaN or negative is
   * `InvalidOptions`.
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
  /** Deliver no earlier than this long from now: 0 to 100 years (NaN or negative: `InvalidOptions`). */
  readonly delay?: Duration.DurationInput | undefined;
  /**
   * Deliver no earlier than this time (epoch milliseconds or a Date, 1970 to 2286, the range of
   * the 13-digit index keys). Overrides `delay`.
   */
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
   * How long until the message may be received again: 0 to 100 years (NaN or negative:
   * `InvalidOptions`).
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
  /** The `cursor` of the previous page of the same state (any other is `InvalidOptions`). */
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
  /**
   * Receivable now. A FIFO group's messages waiting behind its head are counted here too: they
   * are due, and only the group's order holds them back (the head a consumer holds is
   * `inflight`). So `ready` is the backlog due now, grouped or not.
   */
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

  /**
   * Moves a pending (ready or delayed) message to another delivery time: a `delay` of 0 to 100
   * years from now, or an `at` from 1970 to 2286 (epoch ms or a Date); anything else, or a
   * malformed id, is `InvalidOptions` with nothing written.
   */
  readonly reschedule: (
    id: string,
    when: RescheduleOptions,
  ) => Effect.Effect<number, MessageNotFound | InvalidState | InvalidOptions | DynamoDBError>;
  /** Deletes a pending (ready or delayed) message; one in flight or dead is refused. */
  readonly cancel: (
    id: string,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | InvalidOptions | DynamoDBError>;
  /** Admin: deletes a message by id in any state. */
  readonly delete: (
    id: string,
  ) => Effect.Effect<void, MessageNotFound | InvalidOptions | DynamoDBError>;
  /** Admin: moves a ready or delayed message to the dead-letter queue (not one in flight). */
  readonly moveToDeadLetter: (
    id: string,
    reason?: FailureInfo,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | InvalidOptions | DynamoDBError>;
  /** Admin: moves a dead-lettered message back to ready, resetting its receive count (the history stays). */
  readonly redrive: (
    id: string,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | InvalidOptions | DynamoDBError>;
  /**
   * Admin: redrives every dead-lettered message that matches the filter; returns how many.
   * A `deadBefore` that is not a number is `InvalidOptions`.
   */
  readonly redriveAll: (
    filter?: RedriveFilter,
  ) => Effect.Effect<number, InvalidOptions | DynamoDBError>;
  /**
   * Reads a message by id without receiving it: `None` when there is no such message. A
   * malformed id is `InvalidOptions`; a failed read is a `DynamoDBError`, never `None`.
   */
  readonly get: (
    id: string,
  ) => Effect.Effect<Option.Option<MessageInfo<A>>, InvalidOptions | DynamoDBError>;
  /**
   * The received message that `lease` holds, rebuilt from the table: for settling, in another
   * process, a message received elsewhere (the CLI's `receive`, then `ack --lease`). Fails with
   * `LeaseLost` when the message is not in flight under that lease, `MessageNotFound` when there
   * is no such message. Reads only.
   */
  readonly resume: (
    id: string,
    lease: string,
  ) => Effect.Effect<
    ReceivedMessage<A>,
    InvalidOptions | MessageNotFound | LeaseLost | UndecodableMessage | DynamoDBError
  >;
  /**
   * Lists messages in one state, oldest first, without receiving them. One call sends at most
   * 32 queries, so a page may hold fewer than `limit` messages (even none) and still have a
   * `cursor`. A cursor this queue's `list` of this state did not issue (malformed, for another
   * state, queue or shape) is `InvalidOptions`.
   */
  readonly list: (
    options: ListOptions,
  ) => Effect.Effect<ListPage<A>, InvalidOptions | DynamoDBError>;
  /** Counts messages per state. */
  readonly stats: Effect.Effect<QueueStats, DynamoDBError>;
  /**
   * Deletes every message (or every message in one state); returns how many. Batch deletes
   * that DynamoDB leaves unprocessed, or that fail retryably, are retried with backoff up to 8
   * times; past that it fails with a `DynamoDBError` saying how many were deleted and left.
   */
  readonly purge: (
    options?: { readonly state?: MessageState | undefined },
  ) => Effect.Effect<number, InvalidOptions | DynamoDBError>;
}

/**
 * Creates a typed handle for one queue, running with the queue's definition stored in the table
 * (one GetItem). A queue without one gets it written from the options (one conditional
 * UpdateItem: of two first handles, one writes and the other adopts or conflicts). A setting the
 * options leave out is taken from the definition; one they contradict fails with
 * `QueueDefinitionConflict` naming each setting. Invalid options fail with `InvalidOptions`.
 *
 * The handle reads the definition again at most every `definitionRefreshMillis` (10 s), beside
 * one of its sends, receives or acks, so a `Queue.update` of the visibility timeout,
 * `maxReceives`, the deduplication window or compression reaches a busy handle within that bound.
 * The table itself is created with `Table.create`.
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
): Effect.Effect<Queue<A>, InvalidOptions | QueueDefinitionConflict | DynamoDBError, DynamoDB> =>
  openQueue(options, { absent: "create" });

/**
 * How often, at most, a busy handle reads its queue's definition again (milliseconds): the bound
 * within which `Queue.update` reaches running handles.
 *
 * @since 0.1.0
 * @category constants
 */
export const definitionRefreshMillis: number = DEFINITION_REFRESH_MILLIS;

/**
 * Options of `Queue.define`: those of `Queue.make` without the schema.
 *
 * @since 0.1.0
 * @category models
 */
export type DefineOptions = Omit<QueueOptions<unknown, unknown>, "schema">;

/**
 * Defines a queue from the options (unset settings get the defaults), or, if it is defined,
 * checks that the options agree with the stored definition; returns the definition.
 *
 * @example
 * ```ts
 * import { Queue } from "@dynamomq/dynamomq";
 *
 * const defined = Queue.define({ table: "dynamomq", name: "orders", shards: 4, maxReceives: 20 });
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const define = (
  options: DefineOptions,
): Effect.Effect<
  QueueDefinition,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> => defineQueue(options);

/**
 * A queue's catalog entry (definition and throughput), or none when the table has no such queue
 * (one GetItem). A version of 0 is a catalog item of an earlier release, not yet a definition.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const describe = (
  table: string,
  name: string,
): Effect.Effect<Option.Option<QueueDescriptor>, DynamoDBError, DynamoDB> =>
  describeQueue(table, name);

/**
 * Changes to a queue's definition (`Queue.update`). The visibility timeout, `maxReceives`, the
 * deduplication window and compression change live: every handle applies them within
 * `definitionRefreshMillis`. `shards` and `priorities` cannot change (an update naming another
 * value fails with `InvalidOptions`; naming the stored value is allowed).
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueUpdate {
  /** The new default visibility timeout (live). */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
  /** The new receive limit before dead-lettering (live). */
  readonly maxReceives?: number | undefined;
  /** The new deduplication window (live). */
  readonly deduplicationWindow?: Duration.DurationInput | undefined;
  /** The new compression threshold, or `false` (live). */
  readonly compressAbove?: number | false | undefined;
  /** Whether sends without a key are deduplicated by content (live). */
  readonly contentBasedDeduplication?: boolean | undefined;
  /** Must equal the stored value: shards cannot change. */
  readonly shards?: number | undefined;
  /** Must equal the stored value: priority bands cannot change. */
  readonly priorities?: number | undefined;
  /**
   * Apply the update only to this version (optimistic concurrency): another version fails with
   * `QueueDefinitionConflict` on `version`. Without it, the update applies to the current one.
   */
  readonly expectedVersion?: number | undefined;
}

/**
 * Changes a queue's definition as its next version (one GetItem and one conditional UpdateItem).
 * Returns the new definition.
 *
 * @example
 * ```ts
 * import { Queue } from "@dynamomq/dynamomq";
 *
 * const longer = Queue.update("dynamomq", "orders", { visibilityTimeout: "2 minutes" });
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const update = (
  table: string,
  name: string,
  changes: QueueUpdate,
): Effect.Effect<
  QueueDefinition,
  InvalidOptions | QueueNotFound | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> => updateQueue(table, name, changes);

/**
 * Deletes a queue's definition. A queue that still holds messages is refused with
 * `QueueNotEmpty` unless `force`, which first deletes every message (in every state) and its
 * FIFO groups. Deduplication tombstones are left to expire by TTL. Returns how many messages
 * were deleted. Stop the queue's producers and consumers first: a running handle keeps its
 * settings, and its sends land in a queue without a definition.
 *
 * @since 0.1.0
 * @category lifecycle
 */
const deleteQueueDefinition = (
  table: string,
  name: string,
  options?: { readonly force?: boolean | undefined },
): Effect.Effect<
  { readonly messages: number },
  InvalidOptions | QueueNotFound | QueueNotEmpty | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> => deleteQueue(table, name, options);

export {
  /**
   * Deletes a queue's definition. A queue that still holds messages is refused with
   * `QueueNotEmpty` unless `force`, which first deletes every message (in every state) and its
   * FIFO groups. Deduplication tombstones are left to expire by TTL. Returns how many messages
   * were deleted.
   *
   * @since 0.1.0
   * @category lifecycle
   */
  deleteQueueDefinition as delete,
};

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
import type * as Duration from "effect/Duration";
import type * as Effect from "effect/Effect";
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
  UndecodableMessage,
} from "../Errors.ts";
import type { Attempt, MessageInfo, MessageState, ReceivedMessage } from "../schema/Message.ts";
import type { DynamoDB } from "./DynamoDB.ts";

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
   * How many index partitions the ready messages are spread over (1–64).
   * @default 1
   */
  readonly shards?: number | undefined;
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
}

/**
 * What `send` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendResult {
  readonly id: string;
  /** When the message becomes receivable, epoch milliseconds. */
  readonly visibleAt: number;
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
  readonly messages: ReadonlyArray<ReceivedMessage<A>>;
  readonly deadLettered: ReadonlyArray<MaxReceivesExceeded | UndecodableMessage>;
}

/**
 * What went wrong with a message, as recorded in its attempt history.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureInfo {
  readonly tag: string;
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
  readonly ready: number;
  readonly delayed: number;
  readonly inflight: number;
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

  /** Sends one message: one conditional put; an existing id is never overwritten. */
  readonly send: (
    body: A,
    options?: SendOptions,
  ) => Effect.Effect<
    SendResult,
    ParseResult.ParseError | DuplicateMessage | PayloadTooLarge | InvalidOptions | DynamoDBError
  >;
  /** Claims up to `max` receivable messages, each with a fresh lease. */
  readonly receive: (
    options?: ReceiveOptions,
  ) => Effect.Effect<ReceiveResult<A>, InvalidOptions | DynamoDBError>;
  /** Deletes a received message (done). */
  readonly ack: (message: ReceivedMessage<A>) => Effect.Effect<void, LeaseLost | DynamoDBError>;
  /** Hands a received message back to be received again after `delay`; the receive counts. */
  readonly nack: (
    message: ReceivedMessage<A>,
    options?: NackOptions,
  ) => Effect.Effect<void, LeaseLost | InvalidOptions | DynamoDBError>;
  /**
   * Sets how long from now the message stays invisible (extends the lease; 0 makes it visible
   * now while keeping the lease until someone else receives it). Returns the new `visibleAt`.
   */
  readonly changeVisibility: (
    message: ReceivedMessage<A>,
    timeout: Duration.DurationInput,
  ) => Effect.Effect<number, LeaseLost | InvalidOptions | DynamoDBError>;
  /** Makes a received message visible now without counting the receive (shutdown, interruption). */
  readonly release: (message: ReceivedMessage<A>) => Effect.Effect<void, LeaseLost | DynamoDBError>;
  /** Moves a received message to the dead-letter queue with a reason. */
  readonly deadLetter: (
    message: ReceivedMessage<A>,
    reason: FailureInfo,
  ) => Effect.Effect<void, LeaseLost | DynamoDBError>;

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

/** Re-exported for convenience. */
export type { Attempt, DynamoDB, MessageInfo, MessageState, ReceivedMessage };

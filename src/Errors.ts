/**
 * The typed errors of DynamoMQ. Every failure a caller can act on is one of these tagged
 * classes (handle them with `Effect.catchTag`); decode failures stay Effect's own
 * `ParseResult.ParseError`.
 *
 * @example
 * ```ts
 * import { Errors } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const recover = <A, R>(eff: Effect.Effect<A, Errors.LeaseLost, R>) =>
 *   eff.pipe(Effect.catchTag("LeaseLost", (e) => Effect.logWarning(`lost ${e.messageId}`)));
 * ```
 *
 * @module
 */
import type * as Cause from "effect/Cause";
import * as Data from "effect/Data";
import * as Duration from "effect/Duration";
import * as Option from "effect/Option";

type TaggedErrorConstructor<Tag extends string, Fields> = new (
  args: { readonly [K in keyof Fields]: Fields[K] },
) => Cause.YieldableError & { readonly _tag: Tag } & Readonly<Fields>;

/**
 * Why a DynamoDB request failed. `Credentials`: the SDK found no credentials to sign the
 * request with (nothing was sent); `AccessDenied`: DynamoDB refused the credentials it got.
 * `Transport` covers network failures and requests that got no answer within the live layer's
 * `requestTimeout`.
 *
 * @since 0.1.0
 * @category models
 */
export type DynamoDBErrorReason =
  | "Throttled"
  | "Transport"
  | "Validation"
  | "AccessDenied"
  | "Credentials"
  | "TableNotFound"
  | "TableExists"
  | "Unsupported"
  | "TransactionConflict"
  | "ServerError"
  | "Unknown";

/** @ignore */
export interface ConditionFailedFields {
  /** The table the request was sent to. */
  readonly table: string;
  /** The port operation: `put`, `update`, `delete` or `transactWrite`. */
  readonly operation: string;
  /** The key of the item whose condition failed, when known. */
  readonly key?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The item as it was when the condition failed, when the request asked for it (`update`'s
   * `itemOnConditionFailure`) and the backend returned it.
   */
  readonly item?: Readonly<Record<string, unknown>> | undefined;
  /** The underlying SDK error, if any. */
  readonly cause?: unknown;
}

const ConditionFailedBase: TaggedErrorConstructor<"ConditionFailed", ConditionFailedFields> = Data
  .TaggedError("ConditionFailed");

/**
 * A conditional write did not apply because its condition was false (a lost race, a duplicate
 * key, a stale version). Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConditionFailed extends ConditionFailedBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `${this.operation} on ${this.table}: the condition was not met${
      this.key === undefined ? "" : ` for key ${JSON.stringify(this.key)}`
    }`;
  }
}

/** @ignore */
export interface DynamoDBErrorFields {
  /** The port operation that failed. */
  readonly operation: string;
  /** The class of failure. */
  readonly reason: DynamoDBErrorReason;
  /** Whether the same request may succeed if sent again later. */
  readonly retryable: boolean;
  /** A human-readable explanation. */
  readonly detail: string;
  /** The underlying SDK error, if any. */
  readonly cause?: unknown;
}

const DynamoDBErrorBase: TaggedErrorConstructor<"DynamoDBError", DynamoDBErrorFields> = Data
  .TaggedError("DynamoDBError");

/**
 * Any DynamoDB failure other than a failed condition: throttling, transport, validation,
 * missing table, missing permission. `retryable` says whether sending the request again may help.
 *
 * @since 0.1.0
 * @category errors
 */
export class DynamoDBError extends DynamoDBErrorBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    const hint = this.reason === "TableNotFound"
      ? " (create it with Table.create or `dynamomq create-table`)"
      : this.reason === "Credentials"
      ? " (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or pass `credentials`" +
        " to DynamoDBLive.layer; an emulator on a loopback endpoint gets dummy credentials)"
      : "";
    return `DynamoDB ${this.operation} failed (${this.reason}): ${this.detail}${hint}`;
  }
}

/** @ignore */
export interface MaxReceivesExceededFields {
  readonly queue: string;
  readonly messageId: string;
  /** How often the message had been received before this receive. */
  readonly receives: number;
  readonly maxReceives: number;
}

const MaxReceivesExceededBase: TaggedErrorConstructor<
  "MaxReceivesExceeded",
  MaxReceivesExceededFields
> = Data.TaggedError("MaxReceivesExceeded");

/**
 * A receive found a message that had already been received `maxReceives` times; it was moved to
 * the dead-letter queue instead of being delivered.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxReceivesExceeded extends MaxReceivesExceededBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `message ${this.messageId} of queue ${this.queue} was received ${this.receives} ${
      this.receives === 1 ? "time" : "times"
    } (max ${this.maxReceives}); moved to the dead-letter queue`;
  }
}

/** @ignore */
export interface UndecodableMessageFields {
  readonly queue: string;
  readonly messageId: string;
  /** The parse error, formatted. */
  readonly detail: string;
  /** The `ParseError` (or decompression failure) itself. */
  readonly cause?: unknown;
}

const UndecodableMessageBase: TaggedErrorConstructor<
  "UndecodableMessage",
  UndecodableMessageFields
> = Data.TaggedError("UndecodableMessage");

/**
 * A received message's payload did not decode with the queue's schema (or the item was not a
 * message this library wrote); it was moved to the dead-letter queue with the parse error.
 *
 * @since 0.1.0
 * @category errors
 */
export class UndecodableMessage extends UndecodableMessageBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `message ${this.messageId} of queue ${this.queue} could not be decoded and was moved to the dead-letter queue: ${this.detail}`;
  }
}

/** @ignore */
export interface LeaseLostFields {
  readonly queue: string;
  readonly messageId: string;
  /** The queue operation that was refused: `ack`, `nack`, `changeVisibility`, `release`, `deadLetter`. */
  readonly operation: string;
}

const LeaseLostBase: TaggedErrorConstructor<"LeaseLost", LeaseLostFields> = Data.TaggedError(
  "LeaseLost",
);

/**
 * An operation on a received message was refused because this receive no longer holds the
 * message: another receive took it after the visibility timeout, or it was acked, released or
 * dead-lettered already. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseLost extends LeaseLostBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `${this.operation} of message ${this.messageId} in queue ${this.queue} refused: the lease is no longer held`;
  }
}

/** @ignore */
export interface MessageNotFoundFields {
  readonly queue: string;
  readonly messageId: string;
}

const MessageNotFoundBase: TaggedErrorConstructor<"MessageNotFound", MessageNotFoundFields> = Data
  .TaggedError("MessageNotFound");

/**
 * No message with this id exists in the queue.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageNotFound extends MessageNotFoundBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `no message ${this.messageId} in queue ${this.queue}`;
  }
}

/** @ignore */
export interface DuplicateMessageFields {
  readonly queue: string;
  readonly messageId: string;
}

const DuplicateMessageBase: TaggedErrorConstructor<"DuplicateMessage", DuplicateMessageFields> =
  Data.TaggedError("DuplicateMessage");

/**
 * A send named a message id that the queue already holds. The existing message was not touched.
 *
 * @since 0.1.0
 * @category errors
 */
export class DuplicateMessage extends DuplicateMessageBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `message ${this.messageId} already exists in queue ${this.queue}`;
  }
}

/** @ignore */
export interface InvalidStateFields {
  readonly queue: string;
  readonly messageId: string;
  readonly operation: string;
  /** The state the message is in. */
  readonly state: string;
  /** What the operation needs instead. */
  readonly expected: string;
}

const InvalidStateBase: TaggedErrorConstructor<"InvalidState", InvalidStateFields> = Data
  .TaggedError("InvalidState");

/**
 * An admin operation does not apply to a message in its current state (for example redriving
 * a message that is not dead-lettered, or moving an in-flight message to the dead-letter queue).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidState extends InvalidStateBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `${this.operation} of message ${this.messageId} in queue ${this.queue}: it is ${this.state}, expected ${this.expected}`;
  }
}

/** @ignore */
export interface InvalidOptionsFields {
  /** What was being configured: `Queue.make`, `send`, `receive`, … */
  readonly operation: string;
  /** The offending option. */
  readonly option: string;
  readonly detail: string;
}

const InvalidOptionsBase: TaggedErrorConstructor<"InvalidOptions", InvalidOptionsFields> = Data
  .TaggedError("InvalidOptions");

/**
 * An option or argument was out of range or malformed (queue name, message id, duration, …).
 * Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends InvalidOptionsBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `${this.operation}: invalid ${this.option}: ${this.detail}`;
  }
}

/** @ignore */
export interface PayloadTooLargeFields {
  readonly queue: string;
  /** The size of the item that would have been written, in bytes. */
  readonly bytes: number;
  readonly limit: number;
}

const PayloadTooLargeBase: TaggedErrorConstructor<"PayloadTooLarge", PayloadTooLargeFields> = Data
  .TaggedError("PayloadTooLarge");

/**
 * The encoded message would exceed DynamoDB's 400 KB item limit. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends PayloadTooLargeBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `message for queue ${this.queue} is ${this.bytes} bytes as an item; the limit is ${this.limit}`;
  }
}

/** @ignore */
export interface TableMismatchFields {
  readonly table: string;
  /** Each way the existing table differs from what DynamoMQ needs. */
  readonly problems: ReadonlyArray<string>;
}

const TableMismatchBase: TaggedErrorConstructor<"TableMismatch", TableMismatchFields> = Data
  .TaggedError("TableMismatch");

/**
 * A table with this name exists but does not have the shape DynamoMQ needs.
 *
 * @since 0.1.0
 * @category errors
 */
export class TableMismatch extends TableMismatchBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `table ${this.table} exists but has the wrong shape: ${this.problems.join("; ")}`;
  }
}

/** @ignore */
export interface RetryAfterFields {
  /** How long until the message may be received again. */
  readonly delay: Duration.DurationInput;
  /** Why, for the attempt history. */
  readonly reason?: string | undefined;
  readonly cause?: unknown;
}

const RetryAfterBase: TaggedErrorConstructor<"RetryAfter", RetryAfterFields> = Data.TaggedError(
  "RetryAfter",
);

/**
 * Fail a consumer's handler with this to retry the message after exactly `delay` (no jitter),
 * e.g. when a downstream service asked to be called back later.
 *
 * @example
 * ```ts
 * import { Errors } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const handler = () => Effect.fail(new Errors.RetryAfter({ delay: "1 minute", reason: "429" }));
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RetryAfter extends RetryAfterBase {
  /** The retry delay and reason, for logs and the attempt history. */
  override get message(): string {
    const delay = Duration.decodeUnknown(this.delay);
    const after = Option.isSome(delay) ? Duration.format(delay.value) : String(this.delay);
    return `retry after ${after}${this.reason === undefined ? "" : `: ${this.reason}`}`;
  }
}

/** @ignore */
export interface DeadLetterNowFields {
  /** Why the message cannot be handled; recorded as the dead-letter reason. */
  readonly reason: string;
  readonly cause?: unknown;
}

const DeadLetterNowBase: TaggedErrorConstructor<"DeadLetterNow", DeadLetterNowFields> = Data
  .TaggedError("DeadLetterNow");

/**
 * Fail a consumer's handler with this to move the message to the dead-letter queue at once,
 * whatever its receive count: the failure is permanent and retrying cannot help.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeadLetterNow extends DeadLetterNowBase {
  /** The reason, for logs and the dead-letter record. */
  override get message(): string {
    return this.reason;
  }
}

/**
 * One setting on which a queue's stored definition and a request disagree.
 *
 * @since 0.1.0
 * @category models
 */
export interface SettingConflict {
  /** The setting's option name: `shards`, `priorities`, `maxReceives`, `visibilityTimeout`, … */
  readonly setting: string;
  /** The value in the table's definition. */
  readonly stored: unknown;
  /** The value the handle, tool or update asked for. */
  readonly requested: unknown;
}

/** @ignore */
export interface QueueDefinitionConflictFields {
  readonly queue: string;
  /** Each setting that differs, in the order of `QueueOptions`. */
  readonly conflicts: ReadonlyArray<SettingConflict>;
}

const QueueDefinitionConflictBase: TaggedErrorConstructor<
  "QueueDefinitionConflict",
  QueueDefinitionConflictFields
> = Data.TaggedError("QueueDefinitionConflict");

/**
 * The options contradict the queue's definition stored in the table (or an update expected a
 * version that is no longer current). Nothing was written: leave the setting out to adopt the
 * stored value, or change the queue with `Queue.update` / `dynamomq queue update`.
 *
 * @since 0.1.0
 * @category errors
 */
export class QueueDefinitionConflict extends QueueDefinitionConflictBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    const each = this.conflicts.map((c) =>
      `${c.setting} is ${JSON.stringify(c.stored)} in the table, ${
        JSON.stringify(c.requested)
      } requested`
    );
    return `queue ${this.queue} is defined differently: ${each.join("; ")}`;
  }
}

/** @ignore */
export interface QueueNotFoundFields {
  readonly table: string;
  readonly queue: string;
}

const QueueNotFoundBase: TaggedErrorConstructor<"QueueNotFound", QueueNotFoundFields> = Data
  .TaggedError("QueueNotFound");

/**
 * The table holds no definition of this queue.
 *
 * @since 0.1.0
 * @category errors
 */
export class QueueNotFound extends QueueNotFoundBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `no queue ${this.queue} is defined in table ${this.table}`;
  }
}

/** @ignore */
export interface QueueNotEmptyFields {
  readonly queue: string;
  /** How many messages it holds (ready, delayed, in flight and dead). */
  readonly messages: number;
}

const QueueNotEmptyBase: TaggedErrorConstructor<"QueueNotEmpty", QueueNotEmptyFields> = Data
  .TaggedError("QueueNotEmpty");

/**
 * A queue still holds messages, so it was not deleted (pass `force` to delete them too).
 *
 * @since 0.1.0
 * @category errors
 */
export class QueueNotEmpty extends QueueNotEmptyBase {
  /** A readable description built from the error's fields. */
  override get message(): string {
    return `queue ${this.queue} still holds ${this.messages} message${
      this.messages === 1 ? "" : "s"
    }: nothing was deleted (force it to delete them too)`;
  }
}

/**
 * The shapes of messages as callers see them: a received message (holding a lease), a message
 * as listed or fetched without receiving it, and the attempt history kept with it.
 *
 * @example
 * ```ts
 * import type { Message } from "@dynamomq/dynamomq";
 *
 * const describe = (m: Message.ReceivedMessage<{ id: string }>) =>
 *   `${m.id}: receive #${m.receives}, body ${m.body.id}`;
 * ```
 *
 * @module
 */
import type * as Either from "effect/Either";

/**
 * Where a message is in its lifecycle. `delayed` is a ready message whose visibility time is
 * still ahead; an in-flight message whose lease ran out is `ready` again.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageState = "ready" | "delayed" | "inflight" | "dead";

/**
 * The states a message item can hold in the table (`delayed` is derived from `visibleAt`).
 *
 * @since 0.1.0
 * @category models
 */
export type StoredState = "ready" | "inflight" | "dead";

/**
 * One failed attempt, kept with the message (the last ten) and into the dead-letter queue.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  /** When the attempt ended, epoch milliseconds. */
  readonly at: number;
  /** The receive count of that attempt. */
  readonly receive: number;
  /** The error's `_tag` (or `"Error"` / `"Defect"` when it has none). */
  readonly tag: string;
  /** The error's message. */
  readonly message: string;
}

/**
 * A message handed out by `receive`: its body, and the lease that fences every operation on it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedMessage<A> {
  /** The queue it was received from. */
  readonly queue: string;
  /** The message id. */
  readonly id: string;
  /** The body, decoded with the queue's schema. */
  readonly body: A;
  /** How often the message has been received, this receive included. */
  readonly receives: number;
  /** When the message was sent, epoch milliseconds. */
  readonly sentAt: number;
  /** When this lease runs out unless extended, epoch milliseconds. */
  readonly visibleAt: number;
  /** The lease token of this receive: ack, nack, changeVisibility and release need it. */
  readonly lease: string;
  /** The failed attempts so far, oldest first. */
  readonly attempts: ReadonlyArray<Attempt>;
  /** The group of a FIFO message, if any. */
  readonly group?: string | undefined;
  /** The priority band (0 is the lowest). */
  readonly priority: number;
  /**
   * The deduplication key and the end of its window (epoch ms), for messages sent with one: an
   * ack then leaves a tombstone until `until`, so a resend within the window is still a duplicate.
   */
  readonly deduplication?: { readonly id: string; readonly until: number } | undefined;
  /** The W3C `traceparent` of the span that sent the message, if any. */
  readonly traceParent?: string | undefined;
}

/**
 * A message as seen by `get` and `list`, without receiving it. The body is `Right` when it
 * decodes with the queue's schema and `Left` (the formatted parse error) when it does not.
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageInfo<A> {
  /** The queue it belongs to. */
  readonly queue: string;
  /** The message id. */
  readonly id: string;
  /** Where it is in its lifecycle. */
  readonly state: MessageState;
  /** The decoded body, or the parse error when it does not decode. */
  readonly body: Either.Either<A, string>;
  /** How often it has been received. */
  readonly receives: number;
  /** When it was sent, epoch milliseconds. */
  readonly sentAt: number;
  /** When it was last written, epoch milliseconds. */
  readonly updatedAt: number;
  /** When the message becomes receivable (ready, delayed) or its lease runs out (in flight). */
  readonly visibleAt: number;
  /** The failed attempts so far, oldest first. */
  readonly attempts: ReadonlyArray<Attempt>;
  /** Why the message was dead-lettered, when it is dead. */
  readonly deadReason?: { readonly tag: string; readonly message: string } | undefined;
  /** The priority band (0 is the lowest). */
  readonly priority: number;
  /** The deduplication key, for messages sent with one. */
  readonly deduplicationId?: string | undefined;
  /** The group of a FIFO message, if any. */
  readonly group?: string | undefined;
}

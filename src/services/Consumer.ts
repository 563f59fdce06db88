/**
 * `Consumer`: runs a handler over the messages of a `Queue` on a pool of fibers. It claims
 * messages only for idle handlers, holds each one in a lease that its handler's `Exit` settles
 * (ack, nack with jittered backoff, dead-letter, or release on interruption), keeps the lease
 * alive with a heartbeat while the handler runs, survives transient DynamoDB errors, and shuts
 * down gracefully when its scope closes.
 *
 * @example
 * ```ts
 * import { Consumer, Queue, Table } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect, Schema } from "effect";
 *
 * const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });
 *
 * const program = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const orders = yield* Queue.make({ table: "dynamomq", name: "orders", schema: Order });
 *   yield* orders.send({ id: "A-101", total: 42 });
 *   // Closing the scope is the graceful shutdown.
 *   yield* Consumer.run(orders, (message) => Effect.log(`order ${message.body.id}`), {
 *     concurrency: 16,
 *   });
 *   yield* Effect.sleep("1 second");
 * });
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(DynamoDBMemory.layerMemory)));
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import type * as Metric from "effect/Metric";
import type * as EffectQueue from "effect/Queue";
import type * as Scope from "effect/Scope";
import type * as Stream from "effect/Stream";
import type { DynamoDBError, InvalidOptions } from "../Errors.ts";
import * as metrics from "../internal/consumer/metrics.ts";
import * as outcome from "../internal/consumer/outcome.ts";
import { start } from "../internal/consumer/start.ts";
import type { ReceivedMessage } from "../schema/Message.ts";
import type { FailureInfo, Queue } from "./Queue.ts";

// ---------------------------------------------------------------------------------------------
// Options and outcomes
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@linkcode run}, {@linkcode runBatch} and {@linkcode layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerOptions<E> {
  /**
   * How many handler calls run at once. The consumer claims messages only for idle handlers.
   * For `runBatch` this counts batches, not messages.
   * @default 8 (`runBatch`: 1)
   */
  readonly concurrency?: number | undefined;
  /**
   * How long a claimed message stays invisible to other consumers (the lease length), and how far
   * each heartbeat extends it.
   * @default the queue's visibility timeout
   */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
  /**
   * How often a running handler's lease is extended, or `false` for no heartbeat (a handler that
   * outlives the visibility timeout then loses its message to another consumer). Must be shorter
   * than the visibility timeout.
   * @default a third of the visibility timeout
   */
  readonly heartbeat?: Duration.DurationInput | false | undefined;
  /**
   * The longest a handler call may run. A call that takes longer is interrupted and counts as a
   * failure (tag `HandlerTimeout`), retried with backoff like any other.
   * @default no limit
   */
  readonly timeout?: Duration.DurationInput | undefined;
  /**
   * The retry delay after a failure: full jitter over `base · 2^(receives-1)`, capped at `max`.
   * @default { base: "1 second", max: "5 minutes" }
   */
  readonly backoff?:
    | {
      readonly base?: Duration.DurationInput | undefined;
      readonly max?: Duration.DurationInput | undefined;
    }
    | undefined;
  /**
   * The wait between polls of an empty queue: it starts at `min`, doubles (with jitter) on each
   * further empty poll up to `max`, and resets as soon as a poll returns messages. Receive errors
   * back off the same way (non-retryable ones up to at least a minute).
   * @default { min: "50 millis", max: "5 seconds" }
   */
  readonly poll?:
    | {
      readonly min?: Duration.DurationInput | undefined;
      readonly max?: Duration.DurationInput | undefined;
    }
    | undefined;
  /**
   * On shutdown, how long in-flight handlers may run on before they are interrupted and their
   * messages released.
   * @default "30 seconds"
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined;
  /**
   * Decides what happens to a message whose handler failed with a typed error (other than
   * `Errors.RetryAfter` and `Errors.DeadLetterNow`, which decide for themselves).
   * @default retry with backoff
   */
  readonly classify?: ((error: E) => Outcome) | undefined;
}

/**
 * Options of {@linkcode runBatch}.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchConsumerOptions<E> extends ConsumerOptions<E> {
  /**
   * The most messages per handler call (1–100).
   * @default 10
   */
  readonly batchSize?: number | undefined;
}

/**
 * What happens to a message once its handler call is over: the one vocabulary of the consumer,
 * used by `classify`, by batch handlers (one per message), and internally for every settle.
 *
 * - `Ack`: done; the message is deleted. What a handler's success means.
 * - `Retry`: handed back, to be received again after `delay` (the consumer's jittered backoff
 *   when absent); `error` goes into the attempt history (derived from the failure when absent).
 *   A retry of a message that has reached the queue's `maxReceives` dead-letters it instead,
 *   since the next receive would.
 * - `DeadLetter`: moved to the dead-letter queue now, with `reason` (derived when absent).
 * - `Release`: handed back at once without counting the receive. The consumer's own outcome for
 *   handlers it interrupts on shutdown; a handler that returns it for the same message every
 *   time gets that message back forever, since no receive count ever ends it.
 *
 * Build them with {@linkcode ack}, {@linkcode retry} and {@linkcode deadLetter}.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Ack" }
  | {
    readonly _tag: "Retry";
    /** The delay before the next receive; the consumer's jittered backoff when absent. */
    readonly delay?: Duration.DurationInput | undefined;
    /** What to record in the attempt history; derived from the error when absent. */
    readonly error?: FailureInfo | undefined;
  }
  | {
    readonly _tag: "DeadLetter";
    /** The dead-letter reason; derived from the error when absent. */
    readonly reason?: FailureInfo | undefined;
  }
  | { readonly _tag: "Release" };

/**
 * Retry the message, after `delay` or after the consumer's jittered backoff.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retry = (delay?: Duration.DurationInput, error?: FailureInfo): Outcome =>
  outcome.retry(delay, error);

/**
 * Move the message to the dead-letter queue now.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deadLetter = (reason?: FailureInfo): Outcome => outcome.deadLetter(reason);

/**
 * The message was handled: delete it (batch handlers and `classify`; a plain handler just
 * succeeds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ack: Outcome = outcome.ACK;

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/**
 * A message was claimed. `lagMillis` is the time from send to this receive.
 *
 * @since 0.1.0
 * @category events
 */
export interface ReceivedEvent {
  /** The event's discriminator. */
  readonly _tag: "Received";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The claimed message's id. */
  readonly messageId: string;
  /** The message's receive count, this receive included. */
  readonly receives: number;
  /** Milliseconds from the send to this receive. */
  readonly lagMillis: number;
}

/**
 * A handler succeeded and the message was deleted.
 *
 * @since 0.1.0
 * @category events
 */
export interface SucceededEvent {
  /** The event's discriminator. */
  readonly _tag: "Succeeded";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The handled message's id. */
  readonly messageId: string;
  /** The receive count of the successful attempt. */
  readonly receives: number;
  /** How long the handler call took, in milliseconds. */
  readonly durationMillis: number;
}

/**
 * A handler failed and the message was handed back, to be received again after `delay`.
 *
 * @since 0.1.0
 * @category events
 */
export interface RetriedEvent {
  /** The event's discriminator. */
  readonly _tag: "Retried";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The failed message's id. */
  readonly messageId: string;
  /** The receive count of the failed attempt. */
  readonly receives: number;
  /** How long until the message may be received again. */
  readonly delay: Duration.Duration;
  /** The failure, as recorded in the attempt history. */
  readonly error: FailureInfo;
}

/**
 * A message was moved to the dead-letter queue: by the receive (`atReceive`, at `maxReceives` or
 * undecodable) or after its handler failed.
 *
 * @since 0.1.0
 * @category events
 */
export interface DeadLetteredEvent {
  /** The event's discriminator. */
  readonly _tag: "DeadLettered";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The dead-lettered message's id. */
  readonly messageId: string;
  /** True when a receive moved it (at `maxReceives`, or undecodable); false when a handler's outcome did. */
  readonly atReceive: boolean;
  /** The dead-letter reason stored with the message. */
  readonly reason: FailureInfo;
}

/**
 * This consumer no longer holds the message (its lease ran out and another receive took it, or
 * it was deleted): the handler was interrupted or its result discarded, and nothing was written.
 *
 * @since 0.1.0
 * @category events
 */
export interface LeaseLostEvent {
  /** The event's discriminator. */
  readonly _tag: "LeaseLost";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The id of the message whose lease was lost. */
  readonly messageId: string;
  /** The refused operation: `changeVisibility` (heartbeat), `ack`, `nack`, … */
  readonly operation: string;
}

/**
 * A message was handed back without counting the receive (shutdown, interruption).
 *
 * @since 0.1.0
 * @category events
 */
export interface ReleasedEvent {
  /** The event's discriminator. */
  readonly _tag: "Released";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The released message's id. */
  readonly messageId: string;
}

/**
 * A receive failed; the consumer polls again after `delay`.
 *
 * @since 0.1.0
 * @category events
 */
export interface PollFailedEvent {
  /** The event's discriminator. */
  readonly _tag: "PollFailed";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The receive's error. */
  readonly error: DynamoDBError | InvalidOptions;
  /** Whether the error is transient (throttling, network); others are logged at error level. */
  readonly retryable: boolean;
  /** How many receives in a row have failed. */
  readonly failures: number;
  /** How long the consumer waits before it polls again. */
  readonly delay: Duration.Duration;
}

/**
 * Settling a message (ack, nack, release, dead-letter) kept failing and was given up; the lease
 * will expire and the message will be received again.
 *
 * @since 0.1.0
 * @category events
 */
export interface SettleFailedEvent {
  /** The event's discriminator. */
  readonly _tag: "SettleFailed";
  /** The queue the consumer consumes. */
  readonly queue: string;
  /** The id of the message left unsettled. */
  readonly messageId: string;
  /** The settle that failed: `ack`, `nack`, `release` or `deadLetter`. */
  readonly operation: string;
  /** The last error of the settle. */
  readonly error: DynamoDBError | InvalidOptions;
}

/**
 * The consumer has stopped: nothing is claimed any more and every lease is settled.
 * `interrupted` counts the handler calls that were still running at the shutdown deadline.
 *
 * @since 0.1.0
 * @category events
 */
export interface StoppedEvent {
  /** The event's discriminator. */
  readonly _tag: "Stopped";
  /** The queue the consumer consumed. */
  readonly queue: string;
  /** Handler calls still running at the shutdown deadline, interrupted and released. */
  readonly interrupted: number;
}

/**
 * Everything a consumer reports on its `events` stream.
 *
 * @since 0.1.0
 * @category events
 */
export type ConsumerEvent =
  | ReceivedEvent
  | SucceededEvent
  | RetriedEvent
  | DeadLetteredEvent
  | LeaseLostEvent
  | ReleasedEvent
  | PollFailedEvent
  | SettleFailedEvent
  | StoppedEvent;

// ---------------------------------------------------------------------------------------------
// The consumer handle
// ---------------------------------------------------------------------------------------------

/**
 * A running consumer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Consumer {
  /** The queue it consumes. */
  readonly queue: string;
  /**
   * A live stream of events. Each run of the stream subscribes anew and sees only the events
   * after that (a run that starts after the consumer stopped sees just `Stopped`); it ends with
   * the `Stopped` event. Slow subscribers lose the oldest events beyond a buffer of 4096 rather
   * than slowing the consumer down.
   */
  readonly events: Stream.Stream<ConsumerEvent>;
  /**
   * Subscribes now: the queue receives every event published after this effect returns (unlike
   * `events`, which subscribes only when the stream starts running), up to and including
   * `Stopped`, the last one. Shut down when the scope closes.
   */
  readonly subscribe: Effect.Effect<EffectQueue.Dequeue<ConsumerEvent>, never, Scope.Scope>;
  /** How many messages are claimed and not yet settled. */
  readonly inFlight: Effect.Effect<number>;
  /**
   * Shuts down gracefully now (the same as closing the scope) and waits until it has stopped:
   * stops claiming, lets handlers finish up to `shutdownTimeout`, then interrupts them and
   * releases their messages. A handler that calls it waits for its own drain: fork it there.
   */
  readonly stop: Effect.Effect<void>;
  /** Waits until the consumer has stopped. */
  readonly awaitStopped: Effect.Effect<void>;
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/**
 * Messages claimed, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const receivedTotal: Metric.Metric.Counter<number> = metrics.receivedTotal;

/**
 * Messages whose handler succeeded and that were deleted, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const succeededTotal: Metric.Metric.Counter<number> = metrics.succeededTotal;

/**
 * Handler failures (typed errors, defects, timeouts, batch outcomes other than ack), tagged
 * `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const failedTotal: Metric.Metric.Counter<number> = metrics.failedTotal;

/**
 * Messages handed back for a later retry, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retriedTotal: Metric.Metric.Counter<number> = metrics.retriedTotal;

/**
 * Messages moved to the dead-letter queue (by a handler's outcome or at receive), tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const deadLetteredTotal: Metric.Metric.Counter<number> = metrics.deadLetteredTotal;

/**
 * Leases lost while handling, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const leaseLostTotal: Metric.Metric.Counter<number> = metrics.leaseLostTotal;

/**
 * Failed receives, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const pollFailedTotal: Metric.Metric.Counter<number> = metrics.pollFailedTotal;

/**
 * Handler call duration in milliseconds, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const handleDuration: Metric.Metric.Histogram<number> = metrics.handleDuration;

/**
 * Time from send to receive in milliseconds, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueLag: Metric.Metric.Histogram<number> = metrics.queueLag;

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/**
 * Starts a consumer that handles each message of `queue` with `handler`, until the scope closes
 * (or `stop`). A handler that succeeds acks its message; one that fails has it retried with
 * jittered exponential backoff, or dead-lettered at the queue's `maxReceives`; fail with
 * `Errors.RetryAfter` or `Errors.DeadLetterNow` to decide yourself, or pass `classify`.
 * Defects and timeouts are failures too (tags `Defect`, `HandlerTimeout`), and so is a handler
 * that interrupts itself (`Interrupted`); only an interruption by the consumer (shutdown)
 * releases the message without counting the receive. A lost lease interrupts the handler and
 * writes nothing. Options are checked at once: invalid ones fail with `InvalidOptions` before
 * anything is claimed, as in `Queue.make`.
 *
 * @example Consume until interrupted
 * ```ts
 * import { Consumer, Queue } from "@dynamomq/dynamomq";
 * import { Effect, Schema } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const jobs = yield* Queue.make({ table: "dynamomq", name: "jobs", schema: Schema.String });
 *   yield* Consumer.run(jobs, (m) => Effect.log(`job ${m.id}`), { timeout: "1 minute" });
 *   yield* Effect.never;
 * }).pipe(Effect.scoped);
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <A, E, R>(
  queue: Queue<A>,
  handler: (message: ReceivedMessage<A>) => Effect.Effect<void, E, R>,
  options?: ConsumerOptions<E>,
): Effect.Effect<Consumer, InvalidOptions, R | Scope.Scope> =>
  start<A, void, E, R>(queue, options, {
    operation: "Consumer.run",
    batchSize: undefined,
    // A single-message call always has exactly one message.
    invoke: (messages) => handler(messages[0]!),
    onSuccess: () => [outcome.ACK],
  });

/**
 * Starts a consumer that hands up to `batchSize` messages at a time to `handler`, which returns
 * one {@linkcode Outcome} per message, in order (a missing outcome is a failure). A failed
 * handler fails every message of the batch. Each message keeps its own lease and heartbeat; the
 * handler is interrupted only when it has lost the leases of all of them. Invalid options fail
 * with `InvalidOptions`.
 *
 * @example Acknowledge in bulk
 * ```ts
 * import { Consumer, Queue } from "@dynamomq/dynamomq";
 * import { Effect, Schema } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const events = yield* Queue.make({ table: "dynamomq", name: "events", schema: Schema.String });
 *   yield* Consumer.runBatch(
 *     events,
 *     (batch) => Effect.as(Effect.log(`${batch.length} events`), batch.map(() => Consumer.ack)),
 *     { batchSize: 25 },
 *   );
 *   yield* Effect.never;
 * }).pipe(Effect.scoped);
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const runBatch = <A, E, R>(
  queue: Queue<A>,
  handler: (
    messages: ReadonlyArray<ReceivedMessage<A>>,
  ) => Effect.Effect<ReadonlyArray<Outcome>, E, R>,
  options?: BatchConsumerOptions<E>,
): Effect.Effect<Consumer, InvalidOptions, R | Scope.Scope> =>
  start<A, ReadonlyArray<Outcome>, E, R>(queue, options, {
    operation: "Consumer.runBatch",
    batchSize: options?.batchSize ?? 10,
    invoke: handler,
    onSuccess: (outcomes, messages) => outcome.ofBatch(outcomes, messages.length),
  });

/**
 * A layer that runs a consumer for its lifetime: building it starts the consumer, releasing it
 * is the graceful shutdown. `queue` is evaluated when the layer is built; invalid options fail
 * the build with `InvalidOptions`.
 *
 * @example Run a consumer beside the rest of an app
 * ```ts
 * import { Consumer, Queue } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect, Layer, Schema } from "effect";
 *
 * const Worker = Consumer.layer(
 *   Queue.make({ table: "dynamomq", name: "mail", schema: Schema.String }),
 *   (m) => Effect.log(`mail ${m.id}`),
 * );
 * const Main = Worker.pipe(Layer.provide(DynamoDBMemory.layerMemory));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <A, E, R, E2, R2>(
  queue: Effect.Effect<Queue<A>, E2, R2>,
  handler: (message: ReceivedMessage<A>) => Effect.Effect<void, E, R>,
  options?: ConsumerOptions<E>,
): Layer.Layer<never, E2 | InvalidOptions, Exclude<R | R2, Scope.Scope>> =>
  Layer.scopedDiscard(Effect.flatMap(queue, (q) => run(q, handler, options)));

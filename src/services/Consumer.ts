/**
 * `Consumer`: runs a handler over the messages of a `Queue` on a pool of fibers. It claims
 * messages only for idle handlers, holds each one in a lease that its handler's `Exit` settles
 * (ack, nack with jittered backoff, dead-letter, or release on interruption), keeps the lease
 * alive with a heartbeat while the handler runs, survives transient DynamoDB errors, and shuts
 * down gracefully when its scope closes.
 *
 * @example
 * ```ts
 * import { Consumer, DynamoDBMemory, Queue, Table } from "@dynamomq/dynamomq";
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
import * as Cause from "effect/Cause";
import * as Clock from "effect/Clock";
import * as Context from "effect/Context";
import * as Deferred from "effect/Deferred";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Fiber from "effect/Fiber";
import * as FiberSet from "effect/FiberSet";
import * as Layer from "effect/Layer";
import * as Metric from "effect/Metric";
import * as MetricBoundaries from "effect/MetricBoundaries";
import * as Option from "effect/Option";
import * as PubSub from "effect/PubSub";
import * as EffectQueue from "effect/Queue";
import * as Schedule from "effect/Schedule";
import type * as Scope from "effect/Scope";
import * as Stream from "effect/Stream";
import * as Tracer from "effect/Tracer";
import {
  DeadLetterNow,
  type DynamoDBError,
  InvalidOptions,
  type LeaseLost,
  RetryAfter,
} from "../Errors.ts";
import { equalJitter, fullJitter } from "../internal/backoff.ts";
import type { ReceivedMessage } from "../schema/Message.ts";
import type { FailureInfo, Queue } from "./Queue.ts";

// ---------------------------------------------------------------------------------------------
// Options and decisions
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
   * {@linkcode RetryAfter} and {@linkcode DeadLetterNow}, which decide for themselves).
   * @default retry with backoff
   */
  readonly classify?: ((error: E) => Decision) | undefined;
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
 * What to do with a message whose handler failed: retry it (after `delay`, or after the
 * consumer's backoff) or move it to the dead-letter queue. A retry of a message that has reached
 * the queue's `maxReceives` dead-letters it instead, since the next receive would.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
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
  };

/**
 * What a batch handler says about one message of its batch: done, retry, or dead-letter.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchOutcome = { readonly _tag: "Ack" } | Decision;

/**
 * Retry the message, after `delay` or after the consumer's jittered backoff.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retry = (delay?: Duration.DurationInput, error?: FailureInfo): Decision => {
  const decision: { _tag: "Retry"; delay?: Duration.DurationInput; error?: FailureInfo } = {
    _tag: "Retry",
  };
  if (delay !== undefined) decision.delay = delay;
  if (error !== undefined) decision.error = error;
  return decision;
};

/**
 * Move the message to the dead-letter queue now.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deadLetter = (reason?: FailureInfo): Decision =>
  reason === undefined ? { _tag: "DeadLetter" } : { _tag: "DeadLetter", reason };

/**
 * The message was handled: delete it (batch handlers only; a plain handler just succeeds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ack: BatchOutcome = { _tag: "Ack" };

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
export const receivedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_received_total",
  { description: "Messages claimed by consumers", incremental: true },
);

/**
 * Messages whose handler succeeded and that were deleted, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const succeededTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_succeeded_total",
  { description: "Messages handled successfully and deleted", incremental: true },
);

/**
 * Handler failures (typed errors, defects, timeouts, batch outcomes other than ack), tagged
 * `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const failedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_failed_total",
  { description: "Messages whose handler failed", incremental: true },
);

/**
 * Messages handed back for a later retry, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retriedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_retried_total",
  { description: "Messages handed back to be retried", incremental: true },
);

/**
 * Messages moved to the dead-letter queue (by a handler's outcome or at receive), tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const deadLetteredTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_dead_lettered_total",
  { description: "Messages moved to the dead-letter queue", incremental: true },
);

/**
 * Leases lost while handling, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const leaseLostTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_lease_lost_total",
  { description: "Messages whose lease was lost while they were handled", incremental: true },
);

/**
 * Failed receives, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const pollFailedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_poll_failed_total",
  { description: "Receives that failed", incremental: true },
);

/**
 * Handler call duration in milliseconds, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const handleDuration: Metric.Metric.Histogram<number> = Metric.histogram(
  "dynamomq_handle_duration",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 20 }),
  "Handler call duration in milliseconds",
);

/**
 * Time from send to receive in milliseconds, tagged `queue`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueLag: Metric.Metric.Histogram<number> = Metric.histogram(
  "dynamomq_queue_lag",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 25 }),
  "Time from send to receive in milliseconds",
);

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/**
 * Starts a consumer that handles each message of `queue` with `handler`, until the scope closes
 * (or `stop`). A handler that succeeds acks its message; one that fails has it retried with
 * jittered exponential backoff, or dead-lettered at the queue's `maxReceives`; fail with
 * {@linkcode RetryAfter} or {@linkcode DeadLetterNow} to decide yourself, or pass `classify`.
 * Defects and timeouts are failures too (tags `Defect`, `HandlerTimeout`), and so is a handler
 * that interrupts itself (`Interrupted`); only an interruption by the consumer (shutdown)
 * releases the message without counting the receive. A lost lease interrupts the handler and
 * writes nothing. Options are checked at once: invalid ones are a defect (`InvalidOptions`).
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
): Effect.Effect<Consumer, never, R | Scope.Scope> =>
  start<A, void, E, R>(queue, options, {
    operation: "Consumer.run",
    batchSize: undefined,
    // A single-message call always has exactly one message.
    invoke: (messages) => handler(messages[0]!),
    onSuccess: () => [ACK],
  });

/**
 * Starts a consumer that hands up to `batchSize` messages at a time to `handler`, which returns
 * one {@linkcode BatchOutcome} per message, in order (a missing outcome is a failure). A failed
 * handler fails every message of the batch. Each message keeps its own lease and heartbeat; the
 * handler is interrupted only when it has lost the leases of all of them.
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
  ) => Effect.Effect<ReadonlyArray<BatchOutcome>, E, R>,
  options?: BatchConsumerOptions<E>,
): Effect.Effect<Consumer, never, R | Scope.Scope> =>
  start<A, ReadonlyArray<BatchOutcome>, E, R>(queue, options, {
    operation: "Consumer.runBatch",
    batchSize: options?.batchSize ?? 10,
    invoke: handler,
    onSuccess: (outcomes, messages) =>
      messages.map((_, i): Verdict => {
        const outcome = outcomes[i];
        if (outcome === undefined) {
          return retryVerdict(undefined, {
            tag: "MissingOutcome",
            message:
              `the batch handler returned ${outcomes.length} outcomes for ${messages.length} messages`,
          });
        }
        switch (outcome._tag) {
          case "Ack":
            return ACK;
          case "Retry":
            return retryVerdict(
              outcome.delay,
              outcome.error ?? { tag: "Retry", message: "the batch handler asked for a retry" },
            );
          case "DeadLetter":
            return {
              _tag: "DeadLetter",
              failure: outcome.reason ??
                { tag: "DeadLetter", message: "the batch handler dead-lettered it" },
            };
        }
      }),
  });

/**
 * A layer that runs a consumer for its lifetime: building it starts the consumer, releasing it
 * is the graceful shutdown. `queue` is evaluated when the layer is built.
 *
 * @example Run a consumer beside the rest of an app
 * ```ts
 * import { Consumer, DynamoDBMemory, Queue } from "@dynamomq/dynamomq";
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
): Layer.Layer<never, E2, Exclude<R | R2, Scope.Scope>> =>
  Layer.scopedDiscard(Effect.flatMap(queue, (q) => run(q, handler, options)));

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

const LOG_ANNOTATIONS = { package: "@dynamomq/dynamomq", module: "Consumer" } as const;
const EVENT_BUFFER = 4096;
/** Receive errors that retrying cannot fix (missing table, no permission) back off at least this far. */
const FATAL_POLL_BACKOFF_MILLIS = 60_000;
/** How often a settle write is retried on a transient error before the message is left to expire. */
const SETTLE_RETRIES = 4;
const HEARTBEAT_RETRY_BASE_MILLIS = 100;

/** What happens to one message once its handler call is over. */
type Verdict =
  | { readonly _tag: "Ack" }
  | { readonly _tag: "Release" }
  | {
    readonly _tag: "Retry";
    /** `undefined`: the consumer's backoff. */
    readonly delay: Duration.Duration | undefined;
    readonly failure: FailureInfo;
  }
  | { readonly _tag: "DeadLetter"; readonly failure: FailureInfo };

const ACK: Verdict = { _tag: "Ack" };
const RELEASE: Verdict = { _tag: "Release" };
/**
 * A retry after `delay`. A delay from user code that is not a finite, non-negative duration
 * falls back to the backoff rather than failing the nack (which would strand the message until
 * its lease expired).
 */
const retryVerdict = (
  delay: Duration.DurationInput | undefined,
  failure: FailureInfo,
): Verdict => {
  const decoded = delay === undefined ? Option.none() : Duration.decodeUnknown(delay);
  return {
    _tag: "Retry",
    delay: Option.isSome(decoded) && Duration.isFinite(decoded.value) &&
        Duration.toMillis(decoded.value) >= 0
      ? decoded.value
      : undefined,
    failure,
  };
};

/** A handler call's failure: the user's typed error, or our timeout. */
type CallFailure<E> =
  | { readonly _tag: "Handler"; readonly error: E }
  | { readonly _tag: "Timeout" };

/** One message held by a handler call. */
interface Lease<A> {
  readonly message: ReceivedMessage<A>;
  /** Set when the heartbeat found that another receive has the message now. */
  lost: LeaseLost | undefined;
}

interface Shape<A, X, E, R> {
  readonly operation: string;
  /** `undefined` for one message per call. */
  readonly batchSize: number | undefined;
  readonly invoke: (messages: ReadonlyArray<ReceivedMessage<A>>) => Effect.Effect<X, E, R>;
  readonly onSuccess: (
    value: X,
    messages: ReadonlyArray<ReceivedMessage<A>>,
  ) => ReadonlyArray<Verdict>;
}

interface Settings<E> {
  readonly concurrency: number;
  readonly batchSize: number | undefined;
  readonly visibilityMillis: number;
  /** Passed to `receive` only when the caller overrides the queue's timeout. */
  readonly visibilityOverride: Duration.Duration | undefined;
  readonly heartbeatMillis: number | undefined;
  readonly timeout: Duration.Duration | undefined;
  readonly backoffBaseMillis: number;
  readonly backoffMaxMillis: number;
  readonly pollMinMillis: number;
  readonly pollMaxMillis: number;
  readonly shutdownTimeout: Duration.Duration;
  readonly classify: ((error: E) => Decision) | undefined;
}

const invalid = (operation: string, option: string, detail: string): Effect.Effect<never> =>
  Effect.die(new InvalidOptions({ operation, option, detail }));

const decodeDuration = (
  operation: string,
  option: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration,
  positive: boolean,
): Effect.Effect<Duration.Duration> => {
  if (input === undefined) return Effect.succeed(fallback);
  const decoded = Duration.decodeUnknown(input);
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value)) {
    return invalid(operation, option, `not a finite duration: ${String(input)}`);
  }
  if (positive && Duration.toMillis(decoded.value) <= 0) {
    return invalid(operation, option, "must be positive");
  }
  return Effect.succeed(decoded.value);
};

/** Checks the options; a bad option is a programming error, so it is a defect. */
const settings = <A, E>(
  queue: Queue<A>,
  options: ConsumerOptions<E> | undefined,
  operation: string,
  batchSize: number | undefined,
): Effect.Effect<Settings<E>> =>
  Effect.gen(function* () {
    const concurrency = options?.concurrency ?? (batchSize === undefined ? 8 : 1);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
      return yield* invalid(
        operation,
        "concurrency",
        `an integer from 1 to 10000, got ${concurrency}`,
      );
    }
    if (
      batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100)
    ) {
      return yield* invalid(operation, "batchSize", `an integer from 1 to 100, got ${batchSize}`);
    }
    const visibility = yield* decodeDuration(
      operation,
      "visibilityTimeout",
      options?.visibilityTimeout,
      Duration.millis(queue.visibilityTimeoutMillis),
      true,
    );
    const visibilityMillis = Duration.toMillis(visibility);
    let heartbeatMillis: number | undefined = undefined;
    if (options?.heartbeat !== false) {
      heartbeatMillis = Duration.toMillis(
        yield* decodeDuration(
          operation,
          "heartbeat",
          options?.heartbeat,
          Duration.millis(visibilityMillis / 3),
          true,
        ),
      );
      if (heartbeatMillis >= visibilityMillis) {
        return yield* invalid(
          operation,
          "heartbeat",
          `must be shorter than the visibility timeout (${visibilityMillis} ms), got ${heartbeatMillis} ms`,
        );
      }
    }
    const timeout = options?.timeout === undefined
      ? undefined
      : yield* decodeDuration(operation, "timeout", options.timeout, Duration.zero, true);
    const base = Duration.toMillis(
      yield* decodeDuration(
        operation,
        "backoff.base",
        options?.backoff?.base,
        Duration.seconds(1),
        true,
      ),
    );
    const max = Duration.toMillis(
      yield* decodeDuration(
        operation,
        "backoff.max",
        options?.backoff?.max,
        Duration.minutes(5),
        false,
      ),
    );
    if (max < base) {
      return yield* invalid(operation, "backoff.max", "must not be less than backoff.base");
    }
    const pollMin = Duration.toMillis(
      yield* decodeDuration(operation, "poll.min", options?.poll?.min, Duration.millis(50), true),
    );
    const pollMax = Duration.toMillis(
      yield* decodeDuration(operation, "poll.max", options?.poll?.max, Duration.seconds(5), true),
    );
    if (pollMax < pollMin) {
      return yield* invalid(operation, "poll.max", "must not be less than poll.min");
    }
    const shutdownTimeout = yield* decodeDuration(
      operation,
      "shutdownTimeout",
      options?.shutdownTimeout,
      Duration.seconds(30),
      false,
    );
    return {
      concurrency,
      batchSize,
      visibilityMillis,
      visibilityOverride: options?.visibilityTimeout === undefined ? undefined : visibility,
      heartbeatMillis,
      timeout,
      backoffBaseMillis: base,
      backoffMaxMillis: max,
      pollMinMillis: pollMin,
      pollMaxMillis: pollMax,
      shutdownTimeout,
      classify: options?.classify,
    };
  });

/** An error's tag and message for the attempt history (never the payload). */
const describe = (error: unknown): FailureInfo => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : "Error";
    const message = "message" in error && typeof error.message === "string"
      ? error.message
      : String(error);
    return { tag, message };
  }
  return { tag: "Error", message: String(error) };
};

const isTransient = (error: { readonly _tag: string }): boolean =>
  error._tag === "DynamoDBError" && (error as DynamoDBError).retryable;

const TRACE_PARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The producer's span, from a W3C `traceparent`, as a link for the handle span. */
const producerLink = (traceParent: string | undefined): Array<Tracer.SpanLink> => {
  if (traceParent === undefined) return [];
  const match = TRACE_PARENT.exec(traceParent.trim().toLowerCase());
  if (match === null || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return [];
  const span = Tracer.externalSpan({
    traceId: match[1]!,
    spanId: match[2]!,
    sampled: (parseInt(match[3]!, 16) & 1) === 1,
  });
  return [{ _tag: "SpanLink", span, attributes: { "messaging.operation.type": "send" } }];
};

type Dispatch =
  | { readonly _tag: "Failed"; readonly error: DynamoDBError | InvalidOptions }
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Claimed" };

const start = <A, X, E, R>(
  queue: Queue<A>,
  options: ConsumerOptions<E> | undefined,
  shape: Shape<A, X, E, R>,
): Effect.Effect<Consumer, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* settings(queue, options, shape.operation, shape.batchSize);
    const name = queue.name;
    const scope = yield* Effect.scope;
    const counter = (metric: Metric.Metric.Counter<number>): Metric.Metric.Counter<number> =>
      Metric.tagged(metric, "queue", name);
    const histogram = (
      metric: Metric.Metric.Histogram<number>,
    ): Metric.Metric.Histogram<number> => Metric.tagged(metric, "queue", name);
    const metrics = {
      received: counter(receivedTotal),
      succeeded: counter(succeededTotal),
      failed: counter(failedTotal),
      retried: counter(retriedTotal),
      deadLettered: counter(deadLetteredTotal),
      leaseLost: counter(leaseLostTotal),
      pollFailed: counter(pollFailedTotal),
      handleDuration: histogram(handleDuration),
      queueLag: histogram(queueLag),
    };

    // Sliding: a slow subscriber loses old events instead of holding up the consumer.
    const pubsub = yield* PubSub.sliding<ConsumerEvent>(EVENT_BUFFER);
    const stopped = yield* Deferred.make<void>();
    // Handler calls run as daemons in this set, not as children of the poll fiber: stopping
    // the poller must not take in-flight handlers down with it.
    const calls = yield* FiberSet.make<void, never>();
    // Open while some handler slot is idle; the poller waits on it before claiming.
    const capacity = yield* Effect.makeLatch(true);

    // Plain mutable state: each update happens inside one synchronous step, so no fiber can
    // observe (or interleave with) a half-made change.
    let busySlots = 0;
    let inFlight = 0;
    let stopping = false;
    let stoppedEvent: StoppedEvent | undefined = undefined;
    let stopStarted = false;

    const emit = (event: ConsumerEvent): Effect.Effect<void> =>
      Effect.asVoid(PubSub.publish(pubsub, event));

    const takeSlot = (messages: number): void => {
      busySlots += 1;
      inFlight += messages;
      if (busySlots >= config.concurrency) capacity.unsafeClose();
    };
    const freeSlot = (messages: number): void => {
      busySlots -= 1;
      inFlight -= messages;
      capacity.unsafeOpen();
    };

    // ----- settling -----------------------------------------------------------------------

    /** Retries a settle write on transient errors only; anything else fails at once. */
    const withSettleRetries = <Y, F extends { readonly _tag: string }>(
      write: Effect.Effect<Y, F>,
    ): Effect.Effect<Y, F> =>
      Effect.retry(write, {
        schedule: Schedule.exponential("100 millis", 2).pipe(
          Schedule.jittered,
          Schedule.intersect(Schedule.recurs(SETTLE_RETRIES)),
        ),
        while: isTransient,
      });

    const onLeaseLost = (message: ReceivedMessage<A>, operation: string): Effect.Effect<void> =>
      Effect.zipRight(
        Metric.increment(metrics.leaseLost),
        emit({ _tag: "LeaseLost", queue: name, messageId: message.id, operation }),
      ).pipe(
        Effect.zipRight(
          Effect.logWarning(
            `lease of message ${message.id} lost (${operation}); another receive holds it now`,
          ),
        ),
      );

    /** Writes the verdict for one message. Never fails: a write that cannot be done is logged. */
    const settle = (
      lease: Lease<A>,
      verdict: Verdict,
      durationMillis: number,
    ): Effect.Effect<void> => {
      const message = lease.message;
      if (lease.lost !== undefined) {
        // The heartbeat saw another receive take the message: writing anything now would be
        // refused by the lease fence anyway, and the new holder owns its fate.
        return onLeaseLost(message, lease.lost.operation);
      }
      const write = <F extends LeaseLost | DynamoDBError | InvalidOptions>(
        operation: string,
        effect: Effect.Effect<void, F>,
        done: Effect.Effect<void>,
      ): Effect.Effect<void> =>
        withSettleRetries(effect).pipe(
          Effect.matchEffect({
            onSuccess: () => done,
            onFailure: (error): Effect.Effect<void> =>
              error._tag === "LeaseLost" ? onLeaseLost(message, operation) : Effect.zipRight(
                emit({
                  _tag: "SettleFailed",
                  queue: name,
                  messageId: message.id,
                  operation,
                  error,
                }),
                Effect.logError(
                  `${operation} of message ${message.id} failed, giving up; its lease will expire and it will be received again: ${error.message}`,
                ),
              ),
          }),
          Effect.withSpan("DynamoMQ.settle", {
            attributes: {
              "messaging.system": "dynamomq",
              "messaging.destination.name": name,
              "messaging.message.id": message.id,
              "dynamomq.settle": operation,
            },
          }),
        );
      const deadLetterNow = (reason: FailureInfo) =>
        write(
          "deadLetter",
          queue.deadLetter(message, reason),
          Effect.zipRight(
            Metric.increment(metrics.deadLettered),
            emit({
              _tag: "DeadLettered",
              queue: name,
              messageId: message.id,
              atReceive: false,
              reason,
            }),
          ).pipe(
            Effect.zipRight(
              Effect.logWarning(
                `message ${message.id} moved to the dead-letter queue after receive ${message.receives}: ${reason.tag}`,
              ),
            ),
          ),
        );
      switch (verdict._tag) {
        case "Ack":
          return write(
            "ack",
            queue.ack(message),
            Effect.zipRight(
              Metric.increment(metrics.succeeded),
              emit({
                _tag: "Succeeded",
                queue: name,
                messageId: message.id,
                receives: message.receives,
                durationMillis,
              }),
            ),
          );
        case "Release":
          return write(
            "release",
            queue.release(message),
            emit({ _tag: "Released", queue: name, messageId: message.id }),
          );
        case "DeadLetter":
          return Effect.zipRight(Metric.increment(metrics.failed), deadLetterNow(verdict.failure));
        case "Retry":
          return Effect.zipRight(
            Metric.increment(metrics.failed),
            // At the limit the next receive would dead-letter it anyway: do it now, without
            // making the message wait out a retry delay first.
            message.receives >= queue.maxReceives ? deadLetterNow(verdict.failure) : Effect.flatMap(
              verdict.delay === undefined
                ? Effect.map(
                  fullJitter(config.backoffBaseMillis, config.backoffMaxMillis, message.receives),
                  Duration.millis,
                )
                : Effect.succeed(verdict.delay),
              (delay) =>
                write(
                  "nack",
                  queue.nack(message, { delay, error: verdict.failure }),
                  Effect.zipRight(
                    Metric.increment(metrics.retried),
                    emit({
                      _tag: "Retried",
                      queue: name,
                      messageId: message.id,
                      receives: message.receives,
                      delay,
                      error: verdict.failure,
                    }),
                  ),
                ),
            ),
          );
      }
    };

    /** Turns a failed call into a verdict: typed error, defect, timeout, or interruption. */
    const verdictOfCause = (
      cause: Cause.Cause<CallFailure<E>>,
      interruptedByUs: boolean,
    ): Verdict => {
      const failure = Cause.failureOption(cause);
      if (Option.isSome(failure)) {
        const f = failure.value;
        if (f._tag === "Timeout") {
          return retryVerdict(undefined, {
            tag: "HandlerTimeout",
            message: `the handler did not finish within ${Duration.format(config.timeout!)}`,
          });
        }
        const error = f.error;
        if (error instanceof RetryAfter) {
          return retryVerdict(error.delay, describe(error));
        }
        if (error instanceof DeadLetterNow) return { _tag: "DeadLetter", failure: describe(error) };
        if (config.classify === undefined) return retryVerdict(undefined, describe(error));
        let decision: Decision;
        try {
          decision = config.classify(error);
        } catch (defect) {
          // A throwing classifier must not lose the message: fall back to the default.
          return retryVerdict(undefined, {
            tag: "Defect",
            message: `classify threw: ${describe(defect).message}`,
          });
        }
        return decision._tag === "Retry"
          ? retryVerdict(decision.delay, decision.error ?? describe(error))
          : { _tag: "DeadLetter", failure: decision.reason ?? describe(error) };
      }
      const defect = Cause.dieOption(cause);
      if (Option.isSome(defect)) {
        return retryVerdict(undefined, { tag: "Defect", message: describe(defect.value).message });
      }
      // Interrupted only. When we interrupted it (shutdown), hand the message back without
      // counting the receive. When the handler interrupted itself, that is its failure: a
      // release would hand the message straight back to a handler that does it again, a hot
      // loop that no receive count would ever end.
      return interruptedByUs ? RELEASE : retryVerdict(undefined, {
        tag: "Interrupted",
        message: "the handler was interrupted",
      });
    };

    // ----- heartbeat ----------------------------------------------------------------------

    /**
     * Extends one lease every `heartbeatMillis` by the visibility timeout. Transient errors are
     * retried quickly (the lease is still good for two more intervals); a `LeaseLost` ends it.
     */
    const heartbeat = (lease: Lease<A>, interval: number, onLost: Effect.Effect<void>) =>
      Effect.gen(function* () {
        const visibility = Duration.millis(config.visibilityMillis);
        while (true) {
          yield* Effect.sleep(Duration.millis(interval));
          let attempt = 0;
          while (true) {
            const result = yield* Effect.either(queue.changeVisibility(lease.message, visibility));
            if (Either.isRight(result)) break;
            const error = result.left;
            if (error._tag === "LeaseLost") {
              lease.lost = error;
              return yield* onLost;
            }
            attempt += 1;
            const transient = isTransient(error);
            const delay = transient
              ? Math.min(
                interval,
                yield* equalJitter(HEARTBEAT_RETRY_BASE_MILLIS, interval, attempt),
              )
              : interval;
            const log = transient ? Effect.logWarning : Effect.logError;
            yield* log(
              `heartbeat of message ${lease.message.id} failed (attempt ${attempt}), retrying in ${delay} ms: ${error.message}`,
            );
            yield* Effect.sleep(Duration.millis(delay));
          }
        }
      });

    // ----- one handler call -----------------------------------------------------------------

    const call = (messages: ReadonlyArray<ReceivedMessage<A>>): Effect.Effect<void, never, R> => {
      const leases: Array<Lease<A>> = messages.map((message) => ({ message, lost: undefined }));
      let handlerFiber: Fiber.RuntimeFiber<X, CallFailure<E>> | undefined = undefined;
      let beats: ReadonlyArray<Fiber.RuntimeFiber<void>> = [];
      let startedAt = 0;
      let interruptedByUs = false;
      // A lost lease means someone else may be handling the message now: stop. A batch is
      // stopped only once it has lost every lease, so that one stolen message does not throw
      // away the work on the others.
      const onLost = Effect.suspend(() =>
        leases.every((l) => l.lost !== undefined) && handlerFiber !== undefined
          ? Fiber.interruptFork(handlerFiber)
          : Effect.void
      );
      const handled = Effect.suspend(() => shape.invoke(messages)).pipe(
        Effect.mapError((error): CallFailure<E> => ({ _tag: "Handler", error })),
        (self) =>
          config.timeout === undefined ? self : Effect.timeoutFail(self, {
            duration: config.timeout,
            onTimeout: (): CallFailure<E> => ({ _tag: "Timeout" }),
          }),
      );
      // acquire → use → release, all uninterruptible except the handler itself, so that from
      // the claim to the settle there is no point at which an interruption could drop a message.
      const leased = Effect.acquireUseRelease(
        // acquire: the claim has happened; start the heartbeats (interruptible fibers).
        Effect.gen(function* () {
          startedAt = yield* Clock.currentTimeMillis;
          const interval = config.heartbeatMillis;
          if (interval !== undefined) {
            beats = yield* Effect.forEach(
              leases,
              (lease) => Effect.fork(Effect.interruptible(heartbeat(lease, interval, onLost))),
            );
          }
        }),
        // use: the handler runs in its own interruptible fiber, so that a lost lease (from
        // the heartbeat) and a shutdown (this fiber interrupted) can both stop it.
        () =>
          Effect.gen(function* () {
            const fiber = yield* Effect.fork(Effect.interruptible(handled));
            handlerFiber = fiber;
            const awaited = yield* Effect.exit(Effect.interruptible(Fiber.await(fiber)));
            if (Exit.isSuccess(awaited)) return yield* awaited.value;
            // We are interrupted (shutdown past its deadline): interrupt the handler and settle
            // from its own Exit.
            interruptedByUs = true;
            return yield* yield* Fiber.interrupt(fiber);
          }),
        // release: stop the heartbeats first, so that no extension races the settle write or
        // hides a message again right after it was released; then settle every message.
        (_, exit) =>
          Effect.gen(function* () {
            yield* Fiber.interruptAll(beats);
            const duration = (yield* Clock.currentTimeMillis) - startedAt;
            yield* Metric.update(metrics.handleDuration, duration);
            const verdicts = Exit.isSuccess(exit)
              ? shape.onSuccess(exit.value, messages)
              : messages.map(() => verdictOfCause(exit.cause, interruptedByUs));
            yield* Effect.forEach(
              leases,
              (lease, i) => settle(lease, verdicts[i] ?? RELEASE, duration),
              { concurrency: "unbounded", discard: true },
            );
          }),
      );
      return leased.pipe(
        Effect.exit,
        Effect.asVoid,
        Effect.withSpan("DynamoMQ.handle", {
          kind: "consumer",
          root: true,
          links: messages.flatMap((m) => producerLink(m.traceParent)),
          attributes: {
            "messaging.system": "dynamomq",
            "messaging.operation.type": "process",
            "messaging.destination.name": name,
            "messaging.batch.message_count": messages.length,
            ...(messages.length === 1
              ? {
                "messaging.message.id": messages[0]!.id,
                "dynamomq.receives": messages[0]!.receives,
              }
              : {}),
          },
        }),
        Effect.annotateLogs(
          messages.length === 1 ? { messageId: messages[0]!.id } : { batch: messages.length },
        ),
        // Outermost: nothing between the fork and the lease may be interrupted. Only the
        // handler and the waits on it opt back in, explicitly.
        Effect.uninterruptible,
      );
    };

    // ----- polling --------------------------------------------------------------------------

    const receiveOptions = (max: number) =>
      config.visibilityOverride === undefined
        ? { max }
        : { max, visibilityTimeout: config.visibilityOverride };

    /**
     * One receive and the hand-over of its messages to handler fibers, uninterruptible as a
     * whole: a message claimed in DynamoDB is always either given a lease (a handler fiber that
     * will settle it) or released. Interrupting the poller waits for this to finish.
     */
    const claimOnce = (max: number): Effect.Effect<Dispatch, never, R> =>
      Effect.gen(function* () {
        const result = yield* Effect.either(queue.receive(receiveOptions(max)));
        if (Either.isLeft(result)) return { _tag: "Failed", error: result.left } as const;
        const { messages, deadLettered } = result.right;
        for (const error of deadLettered) {
          yield* Metric.increment(metrics.deadLettered);
          yield* emit({
            _tag: "DeadLettered",
            queue: name,
            messageId: error.messageId,
            atReceive: true,
            reason: { tag: error._tag, message: error.message },
          });
          yield* Effect.logWarning(
            `message ${error.messageId} moved to the dead-letter queue at receive: ${error._tag}`,
          );
        }
        if (messages.length === 0) {
          return deadLettered.length === 0
            ? { _tag: "Empty" } as const
            : { _tag: "Claimed" } as const;
        }
        const now = yield* Clock.currentTimeMillis;
        for (const message of messages) {
          const lagMillis = Math.max(0, now - message.sentAt);
          yield* Metric.increment(metrics.received);
          yield* Metric.update(metrics.queueLag, lagMillis);
          yield* emit({
            _tag: "Received",
            queue: name,
            messageId: message.id,
            receives: message.receives,
            lagMillis,
          });
        }
        if (stopping) {
          // Stop was requested while this receive was in flight: hand the messages straight
          // back (receive not counted) instead of starting work the shutdown would interrupt.
          yield* Effect.forEach(
            messages,
            (message) => settle({ message, lost: undefined }, RELEASE, 0),
            { concurrency: "unbounded", discard: true },
          );
          return { _tag: "Claimed" } as const;
        }
        const groups = config.batchSize === undefined ? messages.map((m) => [m]) : [messages];
        for (const group of groups) {
          takeSlot(group.length);
          yield* FiberSet.run(
            calls,
            call(group).pipe(Effect.ensuring(Effect.sync(() => freeSlot(group.length)))),
          );
        }
        return { _tag: "Claimed" } as const;
      }).pipe(Effect.uninterruptible);

    const pollLoop: Effect.Effect<never, never, R> = Effect.gen(function* () {
      let idlePolls = 0;
      let failures = 0;
      while (true) {
        // Claim only for idle capacity: never hold a message that no handler is free to take,
        // its visibility timeout would run out in a buffer.
        yield* capacity.await;
        const free = config.concurrency - busySlots;
        const max = config.batchSize ?? Math.min(100, free);
        const outcome = yield* claimOnce(max);
        switch (outcome._tag) {
          case "Claimed": {
            // Messages keep coming: poll again at once.
            idlePolls = 0;
            failures = 0;
            break;
          }
          case "Empty": {
            failures = 0;
            idlePolls += 1;
            const delay = yield* equalJitter(config.pollMinMillis, config.pollMaxMillis, idlePolls);
            yield* Effect.sleep(Duration.millis(delay));
            break;
          }
          case "Failed": {
            failures += 1;
            idlePolls = 0;
            const error = outcome.error;
            const retryable = isTransient(error);
            const cap = retryable
              ? config.pollMaxMillis
              : Math.max(config.pollMaxMillis, FATAL_POLL_BACKOFF_MILLIS);
            const delay = yield* equalJitter(config.pollMinMillis, cap, failures);
            yield* Metric.increment(metrics.pollFailed);
            yield* emit({
              _tag: "PollFailed",
              queue: name,
              error,
              retryable,
              failures,
              delay: Duration.millis(delay),
            });
            const text =
              `receive failed ${failures} time(s) in a row, retrying in ${delay} ms: ${error.message}`;
            yield* retryable ? Effect.logWarning(text) : Effect.logError(text);
            yield* Effect.sleep(Duration.millis(delay));
            break;
          }
        }
      }
    });

    // The poller is a background process: its receive spans must not hang under whatever span
    // happened to be current where the consumer was started.
    const background = <Y, F>(effect: Effect.Effect<Y, F, R>): Effect.Effect<Y, F, R> =>
      Effect.mapInputContext(effect, (context: Context.Context<R>) =>
        Context.omit(Tracer.ParentSpan)(context) as Context.Context<R>).pipe(
          Effect.annotateLogs({ ...LOG_ANNOTATIONS, queue: name }),
        );

    const poller = yield* Effect.forkIn(background(Effect.interruptible(pollLoop)), scope);

    // ----- shutdown -------------------------------------------------------------------------

    const shutdown: Effect.Effect<void> = Effect.gen(function* () {
      stopping = true;
      // 1. Intake first, so that the drain below can end and nothing new is claimed only to be
      //    released again. A receive in flight completes; `stopping` makes it release what it got.
      yield* Fiber.interrupt(poller);
      // 2. Let the handlers that are running finish on their own, up to the deadline.
      const drained = yield* Effect.interruptible(FiberSet.awaitEmpty(calls)).pipe(
        Effect.timeoutTo({
          duration: config.shutdownTimeout,
          onSuccess: () =>
            true,
          onTimeout: () =>
            false,
        }),
      );
      // 3. Interrupt the rest: each call's lease then settles from an interrupted Exit, which
      //    releases the message (visible at once, receive not counted). Interrupt them all at
      //    once and wait for all, so their releases run concurrently.
      let interrupted = 0;
      if (!drained) {
        const left = Array.from(calls);
        interrupted = left.length;
        yield* Effect.logWarning(
          `shutdown deadline passed; interrupting ${interrupted} running handler call(s)`,
        );
        yield* Fiber.interruptAll(left);
      }
      // 4. Only now report: every lease above has been settled. `Stopped` is the last event;
      //    the PubSub is not shut down, since that would discard events its subscribers have
      //    not taken yet. Streams end at `Stopped` instead, and later subscribers get only it.
      const last: StoppedEvent = { _tag: "Stopped", queue: name, interrupted };
      yield* Effect.suspend(() => {
        stoppedEvent = last;
        return PubSub.publish(pubsub, last);
      });
      yield* Effect.logInfo("consumer stopped");
      yield* Deferred.succeed(stopped, undefined);
    }).pipe(Effect.annotateLogs({ ...LOG_ANNOTATIONS, queue: name }), Effect.uninterruptible);

    const stop: Effect.Effect<void> = Effect.suspend(() => {
      if (stopStarted) return Deferred.await(stopped);
      stopStarted = true;
      // The shutdown runs in its own fiber, so that a handler that calls `stop` (and is then
      // awaited by the drain) cannot deadlock it: its wait is interruptible, the shutdown is not.
      return Effect.zipRight(Effect.forkDaemon(shutdown), Deferred.await(stopped));
    });

    // Finalizer order: scope finalizers run in reverse order of registration. This one is
    // registered after FiberSet.make (whose finalizer interrupts every fiber in the set at
    // once) and after the poller's fork, so it runs first: the graceful shutdown above stops
    // the poller and drains the set before those blunt finalizers find anything left to do.
    yield* Effect.addFinalizer(() => stop);

    const subscribe: Effect.Effect<EffectQueue.Dequeue<ConsumerEvent>, never, Scope.Scope> = Effect
      .suspend(() => {
        const last = stoppedEvent;
        return last === undefined
          ? PubSub.subscribe(pubsub)
          : Effect.tap(EffectQueue.unbounded<ConsumerEvent>(), (q) => EffectQueue.offer(q, last));
      });

    return {
      queue: name,
      events: Stream.unwrapScoped(
        Effect.map(
          subscribe,
          (dequeue) =>
            Stream.fromQueue(dequeue).pipe(Stream.takeUntil((e) => e._tag === "Stopped")),
        ),
      ),
      subscribe,
      inFlight: Effect.sync(() => inFlight),
      stop,
      awaitStopped: Deferred.await(stopped),
    };
  });

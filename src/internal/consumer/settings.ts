/**
 * Decodes and checks a consumer's options into the `Settings` the other modules read.
 *
 * Invariants: every option is checked before the consumer claims anything, and a bad one fails
 * with `InvalidOptions` on the typed channel, as `Queue.make` does (docs/consumer.md, "Options").
 * Durations are kept as `Duration`s or plain milliseconds; nothing here reads the clock. Makes no
 * Queue or DynamoDB calls (it reads only the queue's default visibility timeout).
 */
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Option from "effect/Option";
import { InvalidOptions } from "../../Errors.ts";
import { durationInputProblem, MAX_DURATION_MILLIS } from "../queue/options.ts";
import type { ConsumerOptions, Outcome } from "../../services/Consumer.ts";
import type { Queue } from "../../services/Queue.ts";

/** The checked options of one consumer. */
export interface Settings<E> {
  readonly concurrency: number;
  /** `undefined` for one message per call. */
  readonly batchSize: number | undefined;
  readonly visibilityMillis: number;
  /** Passed to `receive` only when the caller overrides the queue's timeout. */
  readonly visibilityOverride: Duration.Duration | undefined;
  /** `undefined`: no heartbeat. */
  readonly heartbeatMillis: number | undefined;
  readonly timeout: Duration.Duration | undefined;
  readonly backoffBaseMillis: number;
  readonly backoffMaxMillis: number;
  readonly pollMinMillis: number;
  readonly pollMaxMillis: number;
  readonly shutdownTimeout: Duration.Duration;
  readonly classify: ((error: E) => Outcome) | undefined;
}

const invalid = (
  operation: string,
  option: string,
  detail: string,
): Effect.Effect<never, InvalidOptions> =>
  Effect.fail(new InvalidOptions({ operation, option, detail }));

const decodeDuration = (
  operation: string,
  option: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration,
  positive: boolean,
): Effect.Effect<Duration.Duration, InvalidOptions> => {
  if (input === undefined) return Effect.succeed(fallback);
  // NaN and negative inputs would decode to 0: refused, as is anything over 100 years.
  const problem = durationInputProblem(input);
  if (problem !== undefined) return invalid(operation, option, problem);
  const decoded = Duration.decodeUnknown(input);
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value)) {
    return invalid(operation, option, `not a finite duration: ${String(input)}`);
  }
  if (Duration.toMillis(decoded.value) > MAX_DURATION_MILLIS) {
    return invalid(operation, option, `at most 100 years (${MAX_DURATION_MILLIS} ms)`);
  }
  if (positive && Duration.toMillis(decoded.value) <= 0) {
    return invalid(operation, option, "must be positive");
  }
  return Effect.succeed(decoded.value);
};

/** Checks the options of `operation` (`Consumer.run`, `Consumer.runBatch`). */
export const settings = <A, E>(
  queue: Queue<A>,
  options: ConsumerOptions<E> | undefined,
  operation: string,
  batchSize: number | undefined,
): Effect.Effect<Settings<E>, InvalidOptions> =>
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

/**
 * Settling: writes one message's `Outcome` to the queue once its handler call is over.
 *
 * Invariants: `settle` never fails; a write that cannot be done is retried on transient errors
 * only (`SETTLE_RETRIES` times, jittered), then reported (`SettleFailed`, an error log) and left
 * to the lease's expiry, so the message is received again. A lost lease writes nothing and is
 * reported as `LeaseLost`. A retry of a message at the queue's `maxReceives` dead-letters it at
 * once. Events and metrics are emitted only after the write succeeded.
 *
 * Queue calls: `ack`, `nack`, `release` and `deadLetter` (each one conditional DynamoDB write
 * fenced by the lease token).
 */
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Metric from "effect/Metric";
import * as Schedule from "effect/Schedule";
import type { DynamoDBError, InvalidOptions, LeaseLost } from "../../Errors.ts";
import { fullJitter } from "../backoff.ts";
import type { ReceivedMessage } from "../../schema/Message.ts";
import type { Outcome } from "../../services/Consumer.ts";
import type { FailureInfo } from "../../services/Queue.ts";
import { withSpan } from "../span.ts";
import { updateMetrics } from "./metrics.ts";
import { retryDelay } from "./outcome.ts";
import { type Env, isTransient, type Lease } from "./state.ts";

/** How often a settle write is retried on a transient error before the message is left to expire. */
const SETTLE_RETRIES = 4;

/** What is recorded for an outcome that came without a reason (`explain` normally fills it). */
const unexplained = (tag: string): FailureInfo => ({ tag, message: "no reason given" });

/**
 * Retries a settle write on transient errors only; anything else fails at once. The retry
 * schedule is built only once a first attempt has failed transiently (a write that succeeds,
 * almost every one, pays nothing for it); that failure then counts as the schedule's first, so
 * the delays and the number of attempts are those of `Effect.retry(write, …)`.
 */
const withSettleRetries = <Y, F extends { readonly _tag: string }>(
  write: Effect.Effect<Y, F>,
): Effect.Effect<Y, F> =>
  Effect.catchIf(write, isTransient, (first) => {
    let replayed = false;
    const again = Effect.suspend(() => {
      if (replayed) return write;
      replayed = true;
      return Effect.fail(first);
    });
    return Effect.retry(again, {
      schedule: Schedule.exponential("100 millis", 2).pipe(
        Schedule.jittered,
        Schedule.intersect(Schedule.recurs(SETTLE_RETRIES)),
      ),
      while: isTransient,
    });
  });

const onLeaseLost = <A, E>(
  env: Env<A, E>,
  message: ReceivedMessage<A>,
  operation: string,
): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(env.metrics.leaseLost),
    env.emit({ _tag: "LeaseLost", queue: env.name, messageId: message.id, operation }),
  ).pipe(
    Effect.zipRight(
      Effect.logWarning(
        `lease of message ${message.id} lost (${operation}); another receive holds it now`,
      ),
    ),
  );

/** Writes the outcome for one message. Never fails: a write that cannot be done is logged. */
export const settle = <A, E>(
  env: Env<A, E>,
  lease: Lease<A>,
  outcome: Outcome,
  durationMillis: number,
): Effect.Effect<void> => {
  const { queue, name, metrics, emit } = env;
  const message = lease.message;
  if (lease.lost !== undefined) {
    // The heartbeat saw another receive take the message: writing anything now would be
    // refused by the lease fence anyway, and the new holder owns its fate.
    return onLeaseLost(env, message, lease.lost.operation);
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
          error._tag === "LeaseLost" ? onLeaseLost(env, message, operation) : Effect.zipRight(
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
      withSpan("DynamoMQ.settle", {
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
  switch (outcome._tag) {
    case "Ack":
      return write(
        "ack",
        queue.ack(message),
        Effect.zipRight(
          updateMetrics((update) => update(metrics.succeeded, 1)),
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
      return Effect.zipRight(
        Metric.increment(metrics.failed),
        deadLetterNow(outcome.reason ?? unexplained("DeadLetter")),
      );
    case "Retry": {
      const failure = outcome.error ?? unexplained("Retry");
      const delay = retryDelay(outcome.delay);
      return Effect.zipRight(
        Metric.increment(metrics.failed),
        // At the limit the next receive would dead-letter it anyway: do it now, without making
        // the message wait out a retry delay first.
        message.receives >= queue.maxReceives ? deadLetterNow(failure) : Effect.flatMap(
          delay === undefined
            ? Effect.map(
              fullJitter(
                env.settings.backoffBaseMillis,
                env.settings.backoffMaxMillis,
                message.receives,
              ),
              Duration.millis,
            )
            : Effect.succeed(delay),
          (delay) =>
            write(
              "nack",
              queue.nack(message, { delay, error: failure }),
              Effect.zipRight(
                Metric.increment(metrics.retried),
                emit({
                  _tag: "Retried",
                  queue: name,
                  messageId: message.id,
                  receives: message.receives,
                  delay,
                  error: failure,
                }),
              ),
            ),
        ),
      );
    }
  }
};

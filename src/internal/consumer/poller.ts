/**
 * The poller: claims messages for idle handler slots and hands them to handler calls.
 *
 * Invariants: it claims only for idle capacity (it waits on the `capacity` latch, and asks for
 * at most the free slots), so no message waits in a buffer while its lease runs out. The receive
 * itself is interruptible, so a shutdown never waits on a request that does not return: an
 * interrupted receive releases (uncounted) every claim it may hold. Once it has returned, the
 * hand-over of its messages is uninterruptible: a message claimed in DynamoDB always gets a
 * handler call that will settle it, or is released (when the intake closed while the receive was
 * in flight). Receive errors never end the loop: it backs off, reports `PollFailed`, and polls
 * again. It runs outside the caller's span.
 *
 * Queue calls: `receive` (a query of the ready index, then one conditional claim per message;
 * messages at `maxReceives` or undecodable are dead-lettered by it), and `release` through
 * `settle` for messages claimed after the intake closed.
 */
import * as Clock from "effect/Clock";
import * as Context from "effect/Context";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as FiberSet from "effect/FiberSet";
import * as Metric from "effect/Metric";
import * as Tracer from "effect/Tracer";
import type { DynamoDBError, InvalidOptions } from "../../Errors.ts";
import { equalJitter } from "../backoff.ts";
import { call, type Shape } from "./call.ts";
import { updateMetrics } from "./metrics.ts";
import { RELEASE } from "./outcome.ts";
import { settle } from "./settle.ts";
import { type Env, freeSlot, isTransient, LOG_ANNOTATIONS, takeSlot } from "./state.ts";

/** Receive errors that retrying cannot fix (missing table, no permission) back off at least this far. */
const FATAL_POLL_BACKOFF_MILLIS = 60_000;

/** What one receive came to. About a poll, not a message: see `Outcome` for those. */
type PollResult =
  | { readonly _tag: "Failed"; readonly error: DynamoDBError | InvalidOptions }
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Claimed" };

const CLAIMED: PollResult = { _tag: "Claimed" };
const EMPTY: PollResult = { _tag: "Empty" };

/**
 * One receive and the hand-over of its messages to handler calls. The receive is interruptible
 * (it then releases what it claimed); the hand-over is not: interrupting the poller waits for it.
 */
const claimOnce = <A, X, E, R>(
  env: Env<A, E>,
  shape: Shape<A, X, E, R>,
  max: number,
): Effect.Effect<PollResult, never, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const { name, metrics, emit, settings } = env;
      const result = yield* Effect.either(
        restore(env.queue.receive(
          settings.visibilityOverride === undefined
            ? { max }
            : { max, visibilityTimeout: settings.visibilityOverride },
        )),
      );
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
      if (messages.length === 0) return deadLettered.length === 0 ? EMPTY : CLAIMED;
      const now = yield* Clock.currentTimeMillis;
      const lags = messages.map((message) => Math.max(0, now - message.sentAt));
      yield* updateMetrics((update) => {
        for (const lagMillis of lags) {
          update(metrics.received, 1);
          update(metrics.queueLag, lagMillis);
        }
      });
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        yield* emit({
          _tag: "Received",
          queue: name,
          messageId: message.id,
          receives: message.receives,
          lagMillis: lags[i]!,
        });
      }
      if (env.state.intake === "closed") {
        // Stop was requested while this receive was in flight: hand the messages straight back
        // (receive not counted) instead of starting work the shutdown would interrupt.
        yield* Effect.forEach(
          messages,
          (message) => settle(env, { message, lost: undefined }, RELEASE, 0),
          { concurrency: "unbounded", discard: true },
        );
        return CLAIMED;
      }
      const groups = settings.batchSize === undefined ? messages.map((m) => [m]) : [messages];
      for (const group of groups) {
        takeSlot(env, group.length);
        yield* FiberSet.run(
          env.calls,
          call(env, shape, group).pipe(
            Effect.ensuring(Effect.sync(() => freeSlot(env, group.length))),
          ),
        );
      }
      return CLAIMED;
    })
  );

const pollLoop = <A, X, E, R>(
  env: Env<A, E>,
  shape: Shape<A, X, E, R>,
): Effect.Effect<never, never, R> =>
  Effect.gen(function* () {
    const config = env.settings;
    let idlePolls = 0;
    let failures = 0;
    while (true) {
      // Claim only for idle capacity: never hold a message that no handler is free to take, its
      // visibility timeout would run out in a buffer.
      yield* env.capacity.await;
      const free = config.concurrency - env.state.busy;
      const max = config.batchSize ?? Math.min(100, free);
      const result = yield* claimOnce(env, shape, max);
      switch (result._tag) {
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
          const error = result.error;
          const retryable = isTransient(error);
          const cap = retryable
            ? config.pollMaxMillis
            : Math.max(config.pollMaxMillis, FATAL_POLL_BACKOFF_MILLIS);
          const delay = yield* equalJitter(config.pollMinMillis, cap, failures);
          yield* Metric.increment(env.metrics.pollFailed);
          yield* env.emit({
            _tag: "PollFailed",
            queue: env.name,
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

/**
 * The poll loop as a background process, interruptible between receives: its receive spans must
 * not hang under whatever span happened to be current where the consumer was started.
 */
export const poller = <A, X, E, R>(
  env: Env<A, E>,
  shape: Shape<A, X, E, R>,
): Effect.Effect<never, never, R> =>
  Effect.mapInputContext(
    Effect.interruptible(pollLoop(env, shape)),
    (context: Context.Context<R>) => Context.omit(Tracer.ParentSpan)(context) as Context.Context<R>,
  ).pipe(Effect.annotateLogs({ ...LOG_ANNOTATIONS, queue: env.name }));

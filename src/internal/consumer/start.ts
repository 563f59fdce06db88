/**
 * Starts a consumer: builds its state and environment, forks the poller into the caller's scope,
 * and registers the graceful shutdown as that scope's finalizer.
 *
 * Invariants: the shutdown runs once, however often `stop` is called or the scope closes. It
 * closes the intake and stops the poller first, then lets running calls finish up to
 * `shutdownTimeout`, then interrupts the rest (whose messages are released); only then is
 * `Stopped` published (the last event) and `awaitStopped` released. Events go to a sliding
 * PubSub, so a slow subscriber loses old events rather than holding up the consumer.
 *
 * Queue calls: none of its own; the poller receives and the handler calls settle.
 */
import * as Deferred from "effect/Deferred";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Fiber from "effect/Fiber";
import * as FiberSet from "effect/FiberSet";
import * as PubSub from "effect/PubSub";
import * as EffectQueue from "effect/Queue";
import type * as Scope from "effect/Scope";
import * as Stream from "effect/Stream";
import type { InvalidOptions } from "../../Errors.ts";
import type {
  Consumer,
  ConsumerEvent,
  ConsumerOptions,
  StoppedEvent,
} from "../../services/Consumer.ts";
import type { Queue } from "../../services/Queue.ts";
import type { Shape } from "./call.ts";
import { makeHeartbeats } from "./heartbeat.ts";
import { forQueue } from "./metrics.ts";
import { poller } from "./poller.ts";
import { settings } from "./settings.ts";
import { type Env, LOG_ANNOTATIONS, makeState } from "./state.ts";

const EVENT_BUFFER = 4096;

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`;

export const start = <A, X, E, R>(
  queue: Queue<A>,
  options: ConsumerOptions<E> | undefined,
  shape: Shape<A, X, E, R>,
): Effect.Effect<Consumer, InvalidOptions, R | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* settings(queue, options, shape.operation, shape.batchSize);
    const name = queue.name;
    const scope = yield* Effect.scope;
    // Sliding: a slow subscriber loses old events instead of holding up the consumer.
    const pubsub = yield* PubSub.sliding<ConsumerEvent>(EVENT_BUFFER);
    const stopped = yield* Deferred.make<void>();
    const state = makeState();
    const env: Env<A, E> = {
      queue,
      name,
      settings: config,
      metrics: forQueue(name),
      state,
      capacity: yield* Effect.makeLatch(true),
      calls: yield* FiberSet.make<void, never>(),
      heartbeats: config.heartbeatMillis === undefined
        ? undefined
        : makeHeartbeats(queue, config.visibilityMillis, config.heartbeatMillis),
      emit: (event) => Effect.asVoid(PubSub.publish(pubsub, event)),
    };

    // Forked before the shutdown finalizer is registered, so it is interrupted only after the
    // shutdown has settled every call (finalizers run in reverse order).
    if (env.heartbeats !== undefined) {
      yield* Effect.forkIn(Effect.interruptible(env.heartbeats.run), scope);
    }
    const pollFiber = yield* Effect.forkIn(poller(env, shape), scope);

    const shutdown: Effect.Effect<void> = Effect.gen(function* () {
      // 1. Intake first, so that the drain below can end and nothing new is claimed only to be
      //    released again. A receive in flight completes; the closed intake makes it release
      //    what it got.
      yield* Fiber.interrupt(pollFiber);
      // Said once, before the wait, so that an operator watching a slow shutdown knows what it
      // is waiting for and for how long at most.
      yield* Effect.log(
        `shutdown: waiting for ${plural(state.busy, "handler")} (up to ${
          Duration.format(config.shutdownTimeout)
        })`,
      );
      // 2. Let the handlers that are running finish on their own, up to the deadline.
      const drained = yield* Effect.interruptible(FiberSet.awaitEmpty(env.calls)).pipe(
        Effect.timeoutTo({
          duration: config.shutdownTimeout,
          onSuccess: () => true,
          onTimeout: () => false,
        }),
      );
      // 3. Interrupt the rest: each call's lease then settles from an interrupted Exit, which
      //    releases the message (visible at once, receive not counted). Interrupt them all at
      //    once and wait for all, so their releases run concurrently.
      let interrupted = 0;
      if (!drained) {
        const left = Array.from(env.calls);
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
        state.stopped = last;
        return PubSub.publish(pubsub, last);
      });
      yield* Effect.logInfo("consumer stopped");
      yield* Deferred.succeed(stopped, undefined);
    }).pipe(Effect.annotateLogs({ ...LOG_ANNOTATIONS, queue: name }), Effect.uninterruptible);

    const stop: Effect.Effect<void> = Effect.suspend(() => {
      if (state.intake === "closed") return Deferred.await(stopped);
      state.intake = "closed";
      // The shutdown runs in its own fiber, so that a handler that calls `stop` (and is then
      // awaited by the drain) cannot deadlock it: its wait is interruptible, the shutdown is not.
      return Effect.zipRight(Effect.forkDaemon(shutdown), Deferred.await(stopped));
    });

    // Finalizer order: scope finalizers run in reverse order of registration. This one is
    // registered after FiberSet.make (whose finalizer interrupts every fiber in the set at once)
    // and after the poller's fork, so it runs first: the graceful shutdown above stops the
    // poller and drains the set before those blunt finalizers find anything left to do.
    yield* Effect.addFinalizer(() => stop);

    const subscribe: Effect.Effect<EffectQueue.Dequeue<ConsumerEvent>, never, Scope.Scope> = Effect
      .suspend(() => {
        const last = state.stopped;
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
      inFlight: Effect.sync(() => state.inFlight),
      stop,
      awaitStopped: Deferred.await(stopped),
    };
  });

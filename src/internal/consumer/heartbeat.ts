/**
 * The heartbeat: keeps every lease alive while its handler runs, with one fiber per consumer.
 *
 * Each handler call registers its leases when it starts (`Heartbeats.add`) and removes them
 * before it settles (`Heartbeats.remove`); a registration is a few field writes, no fiber. The
 * heartbeat fiber sleeps until the earliest lease is due, then extends every lease that is due,
 * each in its own short-lived fiber (only when an extension is actually written, once per
 * interval per lease), so that a slow extension holds up no other lease.
 *
 * Invariants, per lease, as before with one fiber per lease: the first extension is due one
 * interval after the call started, the next one interval after the previous one ended.
 * Transient errors are retried within one interval (the lease is still good for two more);
 * other errors are logged and tried again at the next interval. A `LeaseLost` marks the lease
 * lost, runs its `onLost`, and ends its heartbeat. `remove` interrupts an extension in flight
 * and returns once it has ended, so no extension races the settle write.
 *
 * Queue calls: `changeVisibility` every interval per lease (one conditional DynamoDB update
 * fenced by the lease token).
 */
import * as Clock from "effect/Clock";
import * as Context from "effect/Context";
import * as Deferred from "effect/Deferred";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Fiber from "effect/Fiber";
import * as FiberId from "effect/FiberId";
import * as Option from "effect/Option";
import * as Tracer from "effect/Tracer";
import type { Queue } from "../../services/Queue.ts";
import { equalJitter } from "../backoff.ts";
import { isTransient, type Lease } from "./state.ts";

const HEARTBEAT_RETRY_BASE_MILLIS = 100;

/** One lease's heartbeat. */
interface Beat<A> {
  readonly lease: Lease<A>;
  readonly onLost: Effect.Effect<void>;
  /** The handler call's span, as the parent of its extensions' spans. */
  readonly span: Option.Option<Tracer.AnySpan>;
  /** When the next extension is due (clock millis); `Infinity` while one is in flight. */
  due: number;
  /** Failed attempts in a row. */
  attempt: number;
  /** Set while an extension is in flight: done when it has ended. */
  done: Deferred.Deferred<void> | undefined;
  /** The extension's fiber, once forked. */
  fiber: Fiber.RuntimeFiber<void> | undefined;
}

/** The heartbeats of one consumer. */
export interface Heartbeats<A> {
  /** Starts the heartbeat of `lease` (called when its handler call starts, at clock `now`). */
  readonly add: (lease: Lease<A>, now: number, onLost: Effect.Effect<void>) => Effect.Effect<void>;
  /** Stops the heartbeat of `lease`, waiting for an extension in flight to end. */
  readonly remove: (lease: Lease<A>) => Effect.Effect<void>;
  /** The heartbeat fiber: fork it into the consumer's scope. Runs until interrupted. */
  readonly run: Effect.Effect<never>;
}

/** The heartbeats of a consumer whose leases are extended every `interval` ms. */
export const makeHeartbeats = <A>(
  queue: Queue<A>,
  visibilityMillis: number,
  interval: number,
): Heartbeats<A> => {
  const visibility = Duration.millis(visibilityMillis);
  const beats = new Map<Lease<A>, Beat<A>>();
  // While the heartbeat fiber waits: until when, and how to wake it earlier.
  let wake: Deferred.Deferred<void> | undefined;
  let sleepingUntil = Infinity;
  /** Wakes the heartbeat fiber if `due` comes before the end of its wait. */
  const signal = (due: number) => {
    const w = wake;
    if (w === undefined || due >= sleepingUntil) return;
    wake = undefined;
    Deferred.unsafeDone(w, Exit.void);
  };

  /** One extension of `beat`'s lease; sets its next due time, or ends it. */
  const extend = (beat: Beat<A>, done: Deferred.Deferred<void>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const lease = beat.lease;
      // Removed between the scan and now: its call is settling, write nothing.
      if (!beats.has(lease)) return Effect.void;
      return Effect.gen(function* () {
        const result = yield* Effect.either(
          Option.isSome(beat.span)
            ? Effect.withParentSpan(
              queue.changeVisibility(lease.message, visibility),
              beat.span.value,
            )
            : queue.changeVisibility(lease.message, visibility),
        );
        const now = yield* Clock.currentTimeMillis;
        if (Either.isRight(result)) {
          beat.attempt = 0;
          beat.due = now + interval;
          return;
        }
        const error = result.left;
        if (error._tag === "LeaseLost") {
          lease.lost = error;
          beats.delete(lease);
          return yield* beat.onLost;
        }
        beat.attempt += 1;
        const transient = isTransient(error);
        const delay = transient
          ? Math.min(
            interval,
            yield* equalJitter(HEARTBEAT_RETRY_BASE_MILLIS, interval, beat.attempt),
          )
          : interval;
        const log = transient ? Effect.logWarning : Effect.logError;
        yield* log(
          `heartbeat of message ${lease.message.id} failed (attempt ${beat.attempt}), retrying in ${delay} ms: ${error.message}`,
        ).pipe(Effect.annotateLogs({ messageId: lease.message.id }));
        beat.due = now + delay;
      });
    }).pipe(
      Effect.ensuring(Effect.sync(() => {
        beat.done = undefined;
        beat.fiber = undefined;
        Deferred.unsafeDone(done, Exit.void);
        // Its next due time may be the earliest now.
        if (beats.has(beat.lease)) signal(beat.due);
      })),
    );

  /**
   * One synchronous step: the beats due now (marked in flight) and, for the rest, the earliest
   * due time; the wait's wake-up is set in the same step, so no signal is missed.
   */
  const scan = (now: number) => {
    const due: Array<readonly [Beat<A>, Deferred.Deferred<void>]> = [];
    let earliest = Infinity;
    for (const beat of beats.values()) {
      if (beat.done !== undefined) continue;
      if (beat.due <= now) {
        beat.due = Infinity;
        const done = Deferred.unsafeMake<void>(FiberId.none);
        beat.done = done;
        due.push([beat, done]);
      } else if (beat.due < earliest) earliest = beat.due;
    }
    const w = Deferred.unsafeMake<void>(FiberId.none);
    wake = w;
    sleepingUntil = earliest;
    return { due, earliest, wake: w };
  };

  const run: Effect.Effect<never> = Effect.gen(function* () {
    while (true) {
      const now = yield* Clock.currentTimeMillis;
      const next = scan(now);
      for (const [beat, done] of next.due) {
        const fiber = yield* Effect.fork(Effect.interruptible(extend(beat, done)));
        if (beat.done === done) beat.fiber = fiber;
      }
      // Sleep until the earliest due time, or until a lease or an extension's next try comes
      // due before it.
      yield* next.earliest === Infinity ? Deferred.await(next.wake) : Effect.race(
        Deferred.await(next.wake),
        Effect.sleep(Duration.millis(next.earliest - now)),
      );
      wake = undefined;
      sleepingUntil = Infinity;
    }
  }).pipe(
    // Its extensions' spans hang under their handler calls' spans, never under whatever span
    // was current where the consumer was started.
    Effect.mapInputContext((context: Context.Context<never>) =>
      Context.omit(Tracer.ParentSpan)(context) as Context.Context<never>
    ),
  );

  return {
    add: (lease, now, onLost) =>
      // The current span as `Effect.currentSpan` finds it, read straight from the fiber.
      Effect.withFiberRuntime((fiber) => {
        const current = fiber.currentSpan;
        const span = current?._tag === "Span" ? Option.some(current) : Option.none();
        beats.set(lease, {
          lease,
          onLost,
          span,
          due: now + interval,
          attempt: 0,
          done: undefined,
          fiber: undefined,
        });
        // Usually due after every lease already waiting: then the fiber sleeps on.
        signal(now + interval);
        return Effect.void;
      }),
    remove: (lease) =>
      Effect.suspend(() => {
        const beat = beats.get(lease);
        if (beat === undefined) return Effect.void;
        beats.delete(lease);
        // An extension in flight: interrupt it (or, not started yet, let it see the lease gone)
        // and wait for it to end, so that it cannot race the settle write.
        if (beat.fiber !== undefined) return Effect.asVoid(Fiber.interrupt(beat.fiber));
        return beat.done === undefined ? Effect.void : Deferred.await(beat.done);
      }),
    run,
  };
};

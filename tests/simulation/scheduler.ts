/**
 * The deterministic scheduler of the simulation: one virtual clock and one baton.
 *
 * What it guarantees (and so what every other module relies on): at most one simulated thread
 * runs at a time, and every point where a thread could interleave with another — a DynamoDB
 * call, a sleep on the clock, the start of an actor's next operation — is a *waiter* the
 * scheduler chooses to release, from a seeded PRNG. Time only moves when the scheduler moves it.
 * The same seed therefore makes the same choices in the same states: runs repeat byte for byte.
 *
 * Why not `TestClock`: `TestClock.adjust` wakes every due sleeper itself and then waits for the
 * fibers to settle with real `setTimeout(0)` polls, so several threads run at once and each
 * adjust costs real milliseconds. This clock plays the same role (it is the `Clock` service of
 * every fiber of the run, so the queue's visibility, delays, backoff and the fault layer's
 * timeouts and stalls all read it), but a sleep is a waiter the scheduler releases like any
 * other, which keeps one thread at a time and costs nothing.
 */
import * as Clock from "effect/Clock";
import * as Deferred from "effect/Deferred";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as FiberId from "effect/FiberId";
import * as FiberRef from "effect/FiberRef";

/** The simulated thread (an actor incarnation, e.g. `c1.2`) a fiber belongs to; forks inherit it. */
export const currentThread: FiberRef.FiberRef<string> = FiberRef.unsafeMake("main");

/** What a waiter waits for: to make a DynamoDB call, for the clock, or to start its next step. */
export type WaitKind = "call" | "sleep" | "idle";

/** A thread parked at a scheduling point. */
export interface Waiter {
  readonly id: number;
  readonly thread: string;
  readonly kind: WaitKind;
  readonly label: string;
  /** For sleeps: the time it wakes at. */
  readonly until: number;
  readonly wake: Deferred.Deferred<void>;
}

/** The virtual clock and the baton. */
export class Scheduler {
  now: number;
  /** Bumped by every event (a park, a call returning, a thread ending): settling watches it. */
  epoch = 0;
  /** Threads that crashed: their fibers may not reach the table any more. */
  readonly dead: Set<string> = new Set();
  readonly waiters: Map<number, Waiter> = new Map();
  /**
   * Free-running mode (the final drain): calls go straight through and sleeps move the clock
   * at once, with nobody choosing.
   */
  free = false;
  private nextId = 0;
  private signal: Deferred.Deferred<void> | undefined = undefined;

  constructor(start: number) {
    this.now = start;
  }

  /** Records that something happened, waking the scheduler if it waits for that. */
  bump(): void {
    this.epoch++;
    const s = this.signal;
    if (s !== undefined) {
      this.signal = undefined;
      Deferred.unsafeDone(s, Exit.void);
    }
  }

  /** Parks the calling fiber until the scheduler releases it. A crashed thread is interrupted. */
  park(kind: WaitKind, label: string, until = 0): Effect.Effect<void> {
    return Effect.flatMap(FiberRef.get(currentThread), (thread) =>
      Effect.suspend(() => {
        if (this.dead.has(thread)) return Effect.interrupt;
        if (this.free && kind !== "idle") return Effect.void;
        const wake = Deferred.unsafeMake<void>(FiberId.none);
        const w: Waiter = { id: this.nextId++, thread, kind, label, until, wake };
        this.waiters.set(w.id, w);
        this.bump();
        return Deferred.await(wake).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              this.waiters.delete(w.id);
              this.bump();
            })
          ),
        );
      }));
  }

  /** Waiters that may run now, in the order they parked. */
  runnable(): ReadonlyArray<Waiter> {
    const out: Array<Waiter> = [];
    for (const w of this.waiters.values()) {
      if (w.kind !== "sleep" || w.until <= this.now) out.push(w);
    }
    return out;
  }

  /** The earliest time a sleeping waiter wakes, if any sleeps. */
  nextWake(): number | undefined {
    let t: number | undefined = undefined;
    for (const w of this.waiters.values()) {
      if (w.kind === "sleep" && (t === undefined || w.until < t)) t = w.until;
    }
    return t;
  }

  /**
   * Releases one waiter and returns once the system is quiet again: the released thread (and
   * whatever it woke) has parked again or ended.
   */
  release(w: Waiter): Effect.Effect<void> {
    return Effect.suspend(() => {
      const signal = Deferred.unsafeMake<void>(FiberId.none);
      this.signal = signal;
      this.waiters.delete(w.id);
      Deferred.unsafeDone(w.wake, Exit.void);
      return Effect.zipRight(Deferred.await(signal), this.settle);
    });
  }

  /**
   * Yields until no event happened for a few rounds of the fiber scheduler. Every thread runs
   * only in-memory code between its scheduling points, so this is deterministic.
   */
  readonly settle: Effect.Effect<void> = Effect.suspend(() => {
    let last = this.epoch;
    let quiet = 0;
    return Effect.whileLoop({
      while: () => quiet < 3,
      body: () => Effect.yieldNow(),
      step: () => {
        if (this.epoch === last) quiet++;
        else {
          last = this.epoch;
          quiet = 0;
        }
      },
    });
  });

  /** The `Clock` of every fiber of the run. */
  readonly clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => this.now,
    currentTimeMillis: Effect.sync(() => this.now),
    unsafeCurrentTimeNanos: () => BigInt(this.now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(this.now) * 1_000_000n),
    sleep: (duration: Duration.Duration): Effect.Effect<void> =>
      Effect.suspend(() => {
        const ms = Math.max(0, Math.ceil(Duration.toMillis(duration)));
        if (ms === 0) return Effect.void;
        if (this.free) {
          this.now += ms;
          return Effect.void;
        }
        return Effect.zipRight(
          this.park("sleep", `sleep ${ms}ms`, this.now + ms),
          Effect.sync(() => this.bump()),
        );
      }),
  };
}

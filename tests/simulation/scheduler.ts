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

/** The defect a scheduling point dies with once the run has passed its budget. */
export class Exhausted extends Error {
  constructor(readonly budget: number) {
    super(`the run passed ${budget} scheduling points: taken for hung`);
  }
}

/** The defect of a run whose released thread waits for something the scheduler cannot give. */
export class Deadlock extends Error {
  constructor(readonly waiter: Waiter) {
    super(`${waiter.thread} was released at ${waiter.label} and never parked again nor ended`);
  }
}

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
  /**
   * Scheduling points passed so far: parks (every DynamoDB call, sleep and step start, also in
   * free-running mode) and free-running sleeps. A run that passes {@linkcode budget} is taken
   * for hung (a livelock, an endless retry loop): from then on every scheduling point dies with
   * {@linkcode Exhausted}, so the run ends deterministically and reports it.
   */
  work = 0;
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
  /** The waiter released last. */
  private released: Waiter | undefined = undefined;

  constructor(start: number, readonly budget: number = Number.POSITIVE_INFINITY) {
    this.now = start;
  }

  /** Whether the run has used up its budget of scheduling points. */
  get exhausted(): boolean {
    return this.work > this.budget;
  }

  /** Counts one scheduling point; past the budget, the calling fiber dies with `Exhausted`. */
  private spend(): Effect.Effect<void> {
    return ++this.work > this.budget ? Effect.die(new Exhausted(this.budget)) : Effect.void;
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
        if (++this.work > this.budget) return Effect.die(new Exhausted(this.budget));
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
          // Woken because its thread crashed (see `kill`): it never reaches the table.
          Effect.zipRight(
            Effect.suspend(() => this.dead.has(thread) ? Effect.interrupt : Effect.void),
          ),
        );
      }));
  }

  /**
   * A thread crashes: it may not reach the table any more. Its parked fibers are woken to find
   * that out and stop — also those that interruption cannot reach (a receive's release of its
   * claims runs uninterruptibly, as a finalizer, and would otherwise stay parked for good, and
   * the run could never end).
   */
  kill(thread: string): void {
    this.dead.add(thread);
    for (const w of [...this.waiters.values()]) {
      if (w.thread !== thread) continue;
      this.waiters.delete(w.id);
      Deferred.unsafeDone(w.wake, Exit.void);
    }
    this.bump();
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
      this.released = w;
      this.waiters.delete(w.id);
      Deferred.unsafeDone(w.wake, Exit.void);
      return Effect.zipRight(Deferred.await(signal), this.settle);
    });
  }

  /**
   * Called from a real timer (runner.ts): a run is all microtasks (no I/O, no real timers), so
   * the event loop gets to run a timer only when nothing can happen any more. If a released
   * thread has then neither parked again nor ended, it waits for something outside the
   * scheduler, and the run dies with `Deadlock` instead of never settling. Returns whether it
   * found one.
   */
  checkDeadlock(): boolean {
    const s = this.signal;
    if (s === undefined || this.released === undefined) return false;
    this.signal = undefined;
    Deferred.unsafeDone(s, Exit.die(new Deadlock(this.released)));
    return true;
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
          return this.spend();
        }
        return Effect.zipRight(
          this.park("sleep", `sleep ${ms}ms`, this.now + ms),
          Effect.sync(() => this.bump()),
        );
      }),
  };
}

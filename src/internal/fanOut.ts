/**
 * A cheap `Effect.forEach(items, f, { concurrency: "unbounded" })` for the hot path.
 *
 * Effect's unbounded `forEach` costs tens of microseconds of bookkeeping per call even for one
 * item (a fiber, a deferred, a ref and a join per item, a fiber for a single item too). This one
 * forks one fiber for each item but the first, runs the first in the calling fiber meanwhile,
 * then awaits the others in order: nothing more (no fiber at all for a single item).
 *
 * The same guarantees as `forEach` where the callers rely on them: every item starts before any
 * is awaited; results in order; interrupted, it interrupts every fiber it started and returns
 * only once they have all ended; when an item fails or dies, the items still running are
 * interrupted and awaited before the failure is returned, so no item's effect is still running
 * when the caller sees the outcome. Unlike `forEach` it notices a failure only when it awaits
 * that item (in order), not at once: it is for items that do not fail (receive's claims are each
 * an `Effect.either`, so only a defect fails one).
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Fiber from "effect/Fiber";

/** Runs `f` on every item at once; the results in order. */
export const forEachConcurrent = <A, B, E, R>(
  items: ReadonlyArray<A>,
  f: (item: A) => Effect.Effect<B, E, R>,
): Effect.Effect<Array<B>, E, R> => {
  if (items.length === 0) return Effect.succeed([]);
  if (items.length === 1) return Effect.map(f(items[0]!), (b) => [b]);
  return Effect.suspend(() => {
    const fibers: Array<Fiber.RuntimeFiber<B, E>> = [];
    const run = Effect.gen(function* () {
      for (let i = 1; i < items.length; i++) fibers.push(yield* Effect.fork(f(items[i]!)));
      const first = yield* Effect.exit(f(items[0]!));
      if (Exit.isFailure(first)) {
        yield* Fiber.interruptAll(fibers);
        return yield* Effect.failCause(first.cause);
      }
      const out: Array<B> = [first.value];
      for (const fiber of fibers) {
        const exit = yield* Fiber.await(fiber);
        if (Exit.isFailure(exit)) {
          yield* Fiber.interruptAll(fibers);
          return yield* Effect.failCause(exit.cause);
        }
        out.push(exit.value);
      }
      return out;
    });
    return Effect.onInterrupt(run, () => Fiber.interruptAll(fibers));
  });
};

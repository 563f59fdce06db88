/**
 * `forEachConcurrent` (src/internal/fanOut.ts) keeps what receive relies on from
 * `Effect.forEach(…, { concurrency: "unbounded" })`: every item runs at once, results in order,
 * and neither a failure nor an interruption returns while an item is still running.
 */
import assert from "node:assert/strict";
import { Cause, Deferred, Effect, Exit, Fiber, Option, TestClock } from "effect";
import { forEachConcurrent } from "../src/internal/fanOut.ts";
import { runTest } from "./_effect.ts";

/**
 * Runs `effect` as the consumer's poller runs a receive: interruptible, in a fiber that goes on
 * after it. What `snapshot()` sees when `effect` has returned is then not helped by the end of
 * the fiber, which would interrupt and await its children anyway.
 */
const returnedIn = <A, E, S>(effect: Effect.Effect<A, E>, snapshot: () => S) =>
  Effect.gen(function* () {
    const returned = yield* Deferred.make<readonly [Exit.Exit<A, E>, S]>();
    const fiber = yield* Effect.fork(
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          Effect.exit(restore(effect)),
          (exit) => Deferred.succeed(returned, [exit, snapshot()]),
        )
      ).pipe(Effect.zipRight(Effect.never)),
    );
    return { returned, fiber };
  });

Deno.test("forEachConcurrent: every item runs at once; the results in order", () =>
  runTest(Effect.gen(function* () {
    assert.deepEqual(yield* forEachConcurrent([], () => Effect.succeed(1)), []);
    assert.deepEqual(yield* forEachConcurrent([7], (n) => Effect.succeed(n * 2)), [14]);
    // Each item waits for all of them to have started: only concurrent runs can finish.
    const started = yield* Deferred.make<void>();
    let count = 0;
    const items = [3, 1, 2, 5];
    const fiber = yield* Effect.fork(forEachConcurrent(items, (n) =>
      Effect.gen(function* () {
        if (++count === items.length) yield* Deferred.succeed(started, undefined);
        yield* Deferred.await(started);
        yield* Effect.sleep(`${n} millis`);
        return n * 10;
      })));
    yield* TestClock.adjust("10 millis");
    assert.deepEqual(yield* Fiber.join(fiber), [30, 10, 20, 50]);
  })));

Deno.test("forEachConcurrent: a failure returns only once the items still running were interrupted", () =>
  runTest(Effect.gen(function* () {
    for (const failing of [0, 1]) {
      const ended: Array<string> = [];
      // Item 0 ends after 5 ms, item 1 after 1 ms, item 2 never.
      const { returned } = yield* returnedIn(
        forEachConcurrent([0, 1, 2], (n) =>
          (n === 2 ? Effect.never : Effect.zipRight(
            Effect.sleep(`${n === 0 ? 5 : 1} millis`),
            n === failing ? Effect.fail(`boom ${n}`) : Effect.succeed(n),
          )).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() =>
                void ended.push(`${n} ${Exit.isInterrupted(exit) ? "interrupted" : "ended"}`)
              )
            ),
          )),
        () => [...ended].sort(),
      );
      yield* TestClock.adjust("5 millis");
      const [exit, seen] = yield* Deferred.await(returned);
      assert.ok(Exit.isFailure(exit));
      assert.deepEqual(Cause.failureOption(exit.cause), Option.some(`boom ${failing}`));
      // Every item had ended (item 0 may have been interrupted, as forEach does on a failure).
      assert.deepEqual(seen.map((e) => e.split(" ")[0]), ["0", "1", "2"]);
      assert.ok(seen.includes("2 interrupted"));
    }
  })));

Deno.test("forEachConcurrent: interrupted, it returns only once every item has ended", () =>
  runTest(Effect.gen(function* () {
    const ended: Array<number> = [];
    const { returned, fiber } = yield* returnedIn(
      // Item 0 ends at once (then the fan-out is waiting on the others), 1 and 2 never.
      forEachConcurrent([0, 1, 2], (n) =>
        n === 0 ? Effect.succeed(n) : Effect.never.pipe(
          Effect.onInterrupt(() =>
            // A slow finalizer: the interruption must wait for it.
            Effect.zipRight(Effect.sleep("5 millis"), Effect.sync(() => void ended.push(n)))
          ),
        )),
      () => [...ended].sort(),
    );
    yield* TestClock.adjust("1 millis");
    yield* Effect.fork(Fiber.interrupt(fiber));
    yield* TestClock.adjust("10 millis");
    const [exit, seen] = yield* Deferred.await(returned);
    assert.ok(Exit.isInterrupted(exit));
    assert.deepEqual(seen, [1, 2]);
  })));

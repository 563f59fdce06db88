/**
 * `@effect/experimental`'s PersistedQueue on the DynamoDB store, on every backend: the scenarios
 * of upstream's `packages/experimental/test/PersistedQueue.test.ts` (v3), which its memory and
 * Redis stores pass ("offer + take", "interrupt", "failure", "idempotent offer"), plus the
 * store's own promises: interruption does not count an attempt, `maxAttempts` dead-letters, the
 * heartbeat keeps a long take's lease.
 */
import assert from "node:assert/strict";
import * as PersistedQueue from "@effect/experimental/PersistedQueue";
import { Effect, Exit, Fiber, Layer, Option, Schema, TestClock, TestServices } from "effect";
import * as PersistedQueueStore from "../src/layers/PersistedQueueStore.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import { queueTest } from "./_queue.ts";
import { hangGuard } from "./_timing.ts";

const Item = Schema.Struct({ n: Schema.BigInt });

const POLL = "1 second";

/** `PersistedQueue.make` on the store over this test's table. */
const makeQueue = (table: string, db: DynamoDB, name: string) =>
  PersistedQueue.make({ name, schema: Item }).pipe(
    Effect.provide(
      PersistedQueueStore.layerFactory({ table, pollInterval: POLL }).pipe(
        Layer.provide(Layer.succeed(DynamoDB, db)),
      ),
    ),
  );

/** Lets real time pass, so fibers waiting on I/O (live backends) get to run. */
const realSleep = (millis: number) => Effect.sleep(millis).pipe(TestServices.provideLive);

/**
 * A real-time bound for the requests of a live backend: a hang guard (10 s on an idle machine,
 * scaled by `DYNAMOMQ_TIME_SCALE`), never a limit a busy machine's slow requests can reach.
 */
const realDeadline = () => Date.now() + hangGuard(10_000);

/**
 * Joins a fiber that polls on the TestClock: moves the clock one poll interval at a time, with a
 * little real time for its requests, until the fiber is done (or the hang guard runs out).
 */
const joinPolling = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function* () {
    const deadline = realDeadline();
    while (Date.now() < deadline) {
      const exit = fiber.unsafePoll();
      if (exit !== null) return yield* exit;
      yield* TestClock.adjust(POLL);
      yield* realSleep(25);
    }
    return yield* Effect.dieMessage("the taker never got the element");
  });

queueTest("PersistedQueue: offer + take", ({ table, db }) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue(table, db, "test-queue-a");
    yield* queue.offer({ n: 42n });
    const seen = yield* queue.take((value, { attempts }) => Effect.succeed([value.n, attempts]));
    assert.deepEqual(seen, [42n, 0]);
    // Done means gone.
    const orders = yield* Queue.make({ table, name: "test-queue-a", schema: Schema.Unknown })
      .pipe(Effect.provideService(DynamoDB, db));
    assert.deepEqual(yield* orders.stats, {
      ready: 0,
      delayed: 0,
      inflight: 0,
      dead: 0,
      oldestReadyAge: 0,
    });
  }));

queueTest("PersistedQueue: interrupt hands the element back without counting an attempt", ({
  table,
  db,
}) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue(table, db, "test-queue-b");
    yield* queue.offer({ n: 42n });

    const latch = Effect.unsafeMakeLatch();
    const fiber = yield* queue.take(() => Effect.zipRight(latch.open, Effect.never)).pipe(
      Effect.fork,
    );
    yield* latch.await;
    const fiber2 = yield* queue.take((value, { attempts }) => Effect.succeed([value.n, attempts]))
      .pipe(Effect.fork);

    // The second taker really waits: it polls and finds nothing while the first holds the lease.
    yield* TestClock.adjust(POLL);
    yield* realSleep(500);
    assert.equal(fiber2.unsafePoll(), null);

    yield* Fiber.interrupt(fiber);
    assert.deepEqual(yield* joinPolling(fiber2), [42n, 0]);
  }));

queueTest(
  "PersistedQueue: failure counts an attempt and retries",
  ({ table, db }) =>
    Effect.gen(function* () {
      const queue = yield* makeQueue(table, db, "test-queue-c");
      yield* queue.offer({ n: 42n });

      const error = yield* queue.take(() => Effect.fail("boom")).pipe(Effect.flip);
      assert.equal(error, "boom");

      const value = yield* queue.take((val, { attempts }) => {
        assert.equal(attempts, 1);
        return Effect.succeed(val);
      });
      assert.equal(value.n, 42n);
    }),
);

queueTest("PersistedQueue: idempotent offer", ({ table, db }) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue(table, db, "idempotent-offer");
    assert.equal(yield* queue.offer({ n: 42n }, { id: "custom-id" }), "custom-id");
    yield* queue.offer({ n: 42n }, { id: "custom-id" });
    const ids: Array<string> = [];
    yield* queue.take((value, { id }) => Effect.sync(() => ids.push(`${id}:${value.n}`)));
    assert.deepEqual(ids, ["custom-id:42"]);

    const fiber = yield* queue.take(() => Effect.void).pipe(Effect.fork);
    yield* TestClock.adjust(POLL);
    yield* realSleep(500);
    assert.equal(fiber.unsafePoll(), null);
    // Still remembered after the first was processed.
    yield* queue.offer({ n: 7n }, { id: "custom-id" });
    yield* TestClock.adjust(POLL);
    yield* realSleep(500);
    assert.equal(fiber.unsafePoll(), null);
    yield* Fiber.interrupt(fiber);
  }));

queueTest("PersistedQueue: maxAttempts moves the element to the dead-letter queue", ({
  table,
  db,
}) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue(table, db, "test-queue-d");
    const id = yield* queue.offer({ n: 1n });
    for (const expected of [0, 1]) {
      const attempts = yield* queue.take((_, { attempts }) => Effect.fail(attempts), {
        maxAttempts: 2,
      }).pipe(Effect.flip);
      assert.equal(attempts, expected);
    }
    const raw = yield* Queue.make({ table, name: "test-queue-d", schema: Schema.Unknown }).pipe(
      Effect.provideService(DynamoDB, db),
    );
    const stats = yield* raw.stats;
    assert.equal(stats.dead, 1);
    assert.equal(stats.ready + stats.delayed + stats.inflight, 0);
    const page = yield* raw.list({ state: "dead" });
    assert.equal(page.messages.length, 1);
    assert.deepEqual(
      Option.getOrThrow(Option.getRight(page.messages[0]!.body)),
      { id, element: { n: "1" } },
    );
    assert.equal(page.messages[0]!.deadReason?.tag, "MaxAttemptsExceeded");
  }));

queueTest(
  "PersistedQueue: the heartbeat keeps a long take's lease",
  ({ table, db }) =>
    Effect.gen(function* () {
      const queue = yield* makeQueue(table, db, "test-queue-e");
      const id = yield* queue.offer({ n: 5n });
      const latch = Effect.unsafeMakeLatch();
      const release = Effect.unsafeMakeLatch();
      const fiber = yield* queue.take(() => Effect.zipRight(latch.open, release.await)).pipe(
        Effect.fork,
      );
      yield* latch.await;
      const raw = yield* Queue.make({ table, name: "test-queue-e", schema: Schema.Unknown }).pipe(
        Effect.provideService(DynamoDB, db),
      );
      const visibleAt = raw.list({ state: "inflight" }).pipe(
        Effect.map((page) => page.messages[0]?.visibleAt ?? 0),
      );
      // Three heartbeats (every 10 s of a 30 s lease): 60 s later the lease still holds.
      for (let beat = 0; beat < 6; beat++) {
        const before = yield* visibleAt;
        yield* TestClock.adjust("10 seconds");
        // The heartbeat's write is real I/O: wait for it (bounded by a hang guard only).
        const deadline = realDeadline();
        while (Date.now() < deadline && (yield* visibleAt) === before) yield* realSleep(10);
        assert.notEqual(yield* visibleAt, before);
      }
      assert.deepEqual((yield* raw.receive()).messages, []);
      yield* release.open;
      assert.ok(Exit.isSuccess(yield* Fiber.await(fiber)));
      assert.equal(Option.isNone(yield* raw.get(id)), true);
    }),
);

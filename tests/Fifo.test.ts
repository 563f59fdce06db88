/**
 * FIFO message groups: strict order within a group, at most one message of a group in flight,
 * parallel groups, a failing message blocking only its own group — on every backend, plus the
 * crash cases of the protocol (docs/design.md) and a randomized interleaving model test.
 */
import assert from "node:assert/strict";
import { Effect, Either, Layer, Option, TestClock } from "effect";
import { RetryAfter } from "../src/Errors.ts";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import type { ReceivedMessage } from "../src/schema/Message.ts";
import * as Consumer from "../src/services/Consumer.ts";
import { runWith } from "./_effect.ts";
import { type Order, Order as OrderSchema, queueTest, T0 } from "./_queue.ts";
import { seededRandom } from "../src/internal/seededRandom.ts";

const fail = <E>(eff: Effect.Effect<unknown, E>) => Effect.flip(eff);

/** Sends `n` messages to each group, in order; body ids are `<group>-<n>`. */
const sendGroups = (q: Queue.Queue<Order>, groups: ReadonlyArray<string>, n: number) =>
  Effect.forEach(
    groups,
    (g) =>
      Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => q.send({ id: `${g}-${i}`, total: i }, { group: g }),
      ),
    { concurrency: "unbounded" },
  );

const bodies = (ms: ReadonlyArray<ReceivedMessage<Order>>) => ms.map((m) => m.body.id).sort();

queueTest(
  "FIFO: strict order per group, one in flight per group, groups in parallel",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendGroups(q, ["A", "B"], 3);
      const first = yield* q.receive({ max: 10 });
      assert.deepEqual(bodies(first.messages), ["A-0", "B-0"]);
      assert.equal(first.messages[0]!.group !== undefined, true);
      // Nothing more while both heads are in flight.
      assert.deepEqual((yield* q.receive({ max: 10 })).messages, []);
      const a0 = first.messages.find((m) => m.group === "A")!;
      yield* q.ack(a0);
      assert.deepEqual(bodies((yield* q.receive({ max: 10 })).messages), ["A-1"]);
      const stats = yield* q.stats;
      assert.deepEqual(stats, { ready: 3, delayed: 0, inflight: 2, dead: 0, oldestReadyAge: 0 });
    }),
);

queueTest(
  "FIFO: a failing message blocks only its own group until it is retried",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendGroups(q, ["A", "B"], 2);
      const { messages } = yield* q.receive({ max: 10 });
      const a0 = messages.find((m) => m.group === "A")!;
      const b0 = messages.find((m) => m.group === "B")!;
      yield* q.nack(a0, { delay: "10 seconds", error: { tag: "Boom", message: "x" } });
      yield* q.ack(b0);
      // B moves on; A waits for its failed head.
      assert.deepEqual(bodies((yield* q.receive({ max: 10 })).messages), ["B-1"]);
      yield* TestClock.adjust("10 seconds");
      const again = (yield* q.receive({ max: 10 })).messages;
      assert.deepEqual(bodies(again), ["A-0"]);
      assert.equal(again[0]!.receives, 2);
      assert.deepEqual(again[0]!.attempts.map((a) => a.tag), ["Boom"]);
    }),
);

queueTest(
  "FIFO: at maxReceives the head is dead-lettered and the group moves on; redrive puts it back",
  ({ backend, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ maxReceives: 1 });
      const [a0id, a1id] = (yield* sendGroups(q, ["A"], 2))[0]!.map((r) => r.id);
      const m = (yield* q.receive()).messages[0]!;
      assert.equal(m.id, a0id);
      yield* q.nack(m);
      const r = yield* q.receive();
      assert.deepEqual(r.deadLettered.map((e) => [e._tag, e.messageId]), [[
        "MaxReceivesExceeded",
        a0id,
      ]]);
      assert.deepEqual(r.messages.map((x) => x.id), [a1id]);
      const dead = Option.getOrThrow(yield* q.get(a0id!));
      assert.equal(dead.state, "dead");
      assert.equal(dead.group, "A");
      assert.equal((yield* q.stats).dead, 1);
      yield* q.ack(r.messages[0]!);
      if (!backend.transactions) {
        // A grouped redrive is one transaction: refused (typed) where there are none.
        const refused = yield* fail(q.redrive(a0id!));
        assert.equal(refused._tag === "DynamoDBError" && refused.reason, "Unsupported");
        assert.equal(Option.getOrThrow(yield* q.get(a0id!)).state, "dead");
        return;
      }
      yield* q.redrive(a0id!);
      const back = (yield* q.receive()).messages[0]!;
      assert.equal(back.id, a0id);
      assert.equal(back.receives, 1);
      yield* q.ack(back);
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });
    }),
);

queueTest(
  "FIFO: an expired group lease redelivers the same head; the stale holder is fenced",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendGroups(q, ["A"], 2);
      const first = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust("29 seconds");
      assert.deepEqual((yield* q.receive()).messages, []);
      yield* TestClock.adjust("1 second");
      const second = (yield* q.receive()).messages[0]!;
      assert.equal(second.id, first.id);
      assert.equal(second.receives, 2);
      assert.equal((yield* fail(q.ack(first)))._tag, "LeaseLost");
      assert.equal((yield* fail(q.changeVisibility(first, "1 minute")))._tag, "LeaseLost");
      yield* q.ack(second);
      assert.equal((yield* q.receive()).messages[0]!.body.id, "A-1");
    }),
);

queueTest(
  "FIFO: changeVisibility extends the group's lease; release makes the head visible now",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendGroups(q, ["A"], 2);
      const m = (yield* q.receive()).messages[0]!;
      yield* q.changeVisibility(m, "2 minutes");
      yield* TestClock.adjust("90 seconds");
      assert.deepEqual((yield* q.receive()).messages, []);
      yield* q.release(m);
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.id, m.id);
      assert.equal(again.receives, 1);
      yield* q.deadLetter(again, { tag: "Fatal", message: "no" });
      assert.equal((yield* q.receive()).messages[0]!.body.id, "A-1");
      assert.equal(Option.getOrThrow(yield* q.get(m.id)).deadReason?.tag, "Fatal");
    }),
);

queueTest(
  "FIFO: delayed messages hold their group; list, stats, purge and admin ops see grouped messages",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const d = yield* q.send({ id: "A-0", total: 0 }, { group: "A", delay: "1 minute" });
      yield* q.send({ id: "A-1", total: 1 }, { group: "A" });
      assert.deepEqual((yield* q.receive()).messages, []);
      assert.equal((yield* q.list({ state: "delayed" })).messages[0]?.id, d.id);
      assert.deepEqual((yield* q.list({ state: "ready" })).messages.map((m) => m.body), [
        Either.right({ id: "A-1", total: 1 }),
      ]);
      yield* q.reschedule(d.id, { delay: 0 });
      assert.equal((yield* q.receive()).messages[0]?.id, d.id);
      // Admin operations find grouped messages by id.
      assert.equal(
        (yield* q.get(d.id)).pipe(Option.map((m) => m.state), Option.getOrThrow),
        "inflight",
      );
      assert.equal((yield* fail(q.moveToDeadLetter(d.id)))._tag, "InvalidState");
      assert.equal(yield* q.purge(), 2);
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });
      // The group works again after a purge.
      yield* q.send({ id: "A-2", total: 2 }, { group: "A" });
      assert.equal((yield* q.receive()).messages[0]?.body.id, "A-2");
      // Grouped messages take no id or deduplication key; ids of that form are reserved.
      assert.equal(
        (yield* fail(q.send({ id: "x", total: 0 }, { group: "A", id: "x" })))._tag,
        "InvalidOptions",
      );
      assert.equal(
        (yield* fail(q.send({ id: "x", total: 0 }, { group: "bad group" })))._tag,
        "InvalidOptions",
      );
      assert.equal(
        (yield* fail(q.send({ id: "x", total: 0 }, { id: "0000000000000001.A" })))._tag,
        "InvalidOptions",
      );
    }),
);

queueTest(
  "FIFO crash: a sequence number taken but never written does not block the group",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "A-0", total: 0 }, { group: "A" });
      // A sender takes the next number and dies before its put.
      yield* db.update(table, { pk: "orders#g#A", sk: "group" }, { add: { next: 1 } });
      yield* q.send({ id: "A-2", total: 2 }, { group: "A" });
      const got: Array<string> = [];
      for (let i = 0; i < 2; i++) {
        const m = (yield* q.receive()).messages[0]!;
        got.push(m.body.id);
        yield* q.ack(m);
      }
      assert.deepEqual(got, ["A-0", "A-2"]);
      // The empty group waits for the missing number a while, then gives it up and leaves the index.
      const group = () => db.get(table, { pk: "orders#g#A", sk: "group" });
      assert.notEqual((yield* group())!.gpk, undefined);
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust("1 minute");
        yield* q.receive();
      }
      assert.equal((yield* group())!.gpk, undefined);
      // A late message is still delivered.
      yield* q.send({ id: "A-3", total: 3 }, { group: "A" });
      assert.equal((yield* q.receive()).messages[0]?.body.id, "A-3");
    }),
);

queueTest(
  "FIFO crash: a consumer dying between its delete and the group release delays, loses nothing",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendGroups(q, ["A"], 2);
      const m = (yield* q.receive()).messages[0]!;
      // The ack's first write (the delete) lands, the consumer dies before releasing the group.
      yield* db.delete(table, { pk: "orders#g#A", sk: "m#0000000000000000" });
      assert.deepEqual((yield* q.receive()).messages, []);
      yield* TestClock.adjust("30 seconds");
      const next = (yield* q.receive()).messages[0]!;
      assert.equal(next.body.id, "A-1");
      assert.notEqual(next.id, m.id);
    }),
);

queueTest(
  "FIFO crash: a sender dying after its put but before counting it does not strand the message",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "A-0", total: 0 }, { group: "A" });
      const m = (yield* q.receive()).messages[0]!;
      // A second sender takes number 1 and writes its message, then dies before `written += 1`.
      const { lease: _lease, ...raw } = (yield* db.get(table, {
        pk: "orders#g#A",
        sk: "m#0000000000000000",
      }))!;
      yield* db.update(table, { pk: "orders#g#A", sk: "group" }, { add: { next: 1 } });
      yield* db.put(table, {
        ...raw,
        sk: "m#0000000000000001",
        id: "0000000000000001.A",
        seq: 1,
        state: "ready",
        visibleAt: T0,
        receives: 0,
        payload: JSON.stringify({ id: "A-1", total: 1 }),
      });
      yield* q.ack(m);
      assert.equal((yield* q.receive()).messages[0]?.body.id, "A-1");
    }),
);

queueTest(
  "FIFO with many consumers: every group in order, never two of a group at once",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const groups = ["g0", "g1", "g2", "g3", "g4"];
      yield* sendGroups(q, groups, 6);
      const done = new Map<string, Array<number>>(groups.map((g) => [g, []]));
      const inFlight = new Set<string>();
      let violations = 0;
      let handled = 0;
      const consumer = Effect.gen(function* () {
        for (let i = 0; i < 200 && handled < 30; i++) {
          const { messages } = yield* q.receive({ max: 3 });
          yield* Effect.forEach(messages, (m) =>
            Effect.gen(function* () {
              if (inFlight.has(m.group!)) violations++;
              inFlight.add(m.group!);
              yield* Effect.yieldNow();
              inFlight.delete(m.group!);
              done.get(m.group!)!.push(m.body.total);
              handled++;
              yield* q.ack(m);
            }), { concurrency: "unbounded" });
        }
      });
      yield* Effect.all([consumer, consumer, consumer, consumer], { concurrency: "unbounded" });
      assert.equal(violations, 0);
      for (const g of groups) assert.deepEqual(done.get(g), [0, 1, 2, 3, 4, 5], g);
    }),
);

// --- randomized interleavings on the memory layer ---------------------------------------------

/** Wraps the memory layer so every request yields to other fibers a random number of times first. */
const interleaving = (random: () => number): Layer.Layer<DynamoDB> =>
  Layer.effect(
    DynamoDB,
    Effect.map(DynamoDB, (db) => {
      const jitter = <X, E>(eff: Effect.Effect<X, E>): Effect.Effect<X, E> =>
        Effect.zipRight(
          Effect.forEach(Array.from({ length: Math.floor(random() * 4) }), () => Effect.yieldNow()),
          eff,
        );
      const wrapped: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(db)) {
        wrapped[k] = (...args: Array<unknown>) =>
          jitter((f as (...a: Array<unknown>) => Effect.Effect<unknown, unknown>)(...args));
      }
      return wrapped as unknown as DynamoDB;
    }),
  ).pipe(Layer.provide(layerMemory));

/**
 * One randomized run: senders fill 3 groups while 3 consumers receive, fail (nack), crash
 * (abandon the lease) or ack at random. Checks that each group's messages finish (acked or
 * dead-lettered) in send order, that no group ever has two messages in a handler, and that every
 * message finishes.
 */
const scenario = (seed: number) => {
  const random = seededRandom(seed);
  return runWith(
    interleaving(random),
    Effect.gen(function* () {
      yield* TestClock.setTime(T0);
      yield* Table.create("fifo-model");
      const q = yield* Queue.make({
        table: "fifo-model",
        name: "m",
        schema: OrderSchema,
        maxReceives: 4,
      });
      const groups = ["a", "b", "c"];
      const perGroup = 5;
      const total = groups.length * perGroup;
      const finished = new Map<string, Array<number>>(groups.map((g) => [g, []]));
      const inHandler = new Set<string>();
      let finishedCount = 0;
      let stopped = false;
      const senders = Effect.forEach(
        groups,
        (g) =>
          Effect.forEach(
            Array.from({ length: perGroup }, (_, i) => i),
            (i) => q.send({ id: g, total: i }, { group: g }),
            { discard: true },
          ),
        { concurrency: "unbounded" },
      );
      const consumer = Effect.gen(function* () {
        while (finishedCount < total && !stopped) {
          const { messages, deadLettered } = yield* q.receive({ max: 2 });
          for (const e of deadLettered) {
            const info = Option.getOrThrow(yield* q.get(e.messageId));
            const body = Either.getOrThrow(info.body);
            finished.get(body.id)!.push(body.total);
            finishedCount++;
          }
          if (messages.length === 0) {
            // Idle: wait for the clock to move (abandoned leases run out).
            yield* Effect.sleep("1 second");
            continue;
          }
          for (const m of messages) {
            if (inHandler.has(m.group!)) {
              throw new Error(`seed ${seed}: two messages of ${m.group} in flight`);
            }
            inHandler.add(m.group!);
            yield* Effect.yieldNow();
            inHandler.delete(m.group!);
            const r = random();
            if (r < 0.15) {
              yield* Effect.ignore(q.nack(m, { error: { tag: "Random", message: "fail" } }));
            } else if (r < 0.2) {
              continue; // crash: the lease is abandoned and runs out
            } else {
              const acked = yield* Effect.either(q.ack(m));
              if (Either.isRight(acked)) {
                finished.get(m.group!)!.push(m.body.total);
                finishedCount++;
              }
            }
          }
        }
      });
      // Abandoned leases run out while the consumers keep going.
      const clock = Effect.gen(function* () {
        for (let i = 0; i < 200 && finishedCount < total; i++) {
          yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow());
          yield* TestClock.adjust("31 seconds");
        }
        stopped = true;
        yield* TestClock.adjust("1 second");
      });
      yield* Effect.all([senders, consumer, consumer, consumer, clock], {
        concurrency: "unbounded",
      });
      assert.equal(
        finishedCount,
        total,
        `seed ${seed}: not every message finished: ${JSON.stringify([...finished])} ${
          JSON.stringify(yield* q.stats)
        }`,
      );
      for (const g of groups) {
        assert.deepEqual(finished.get(g), [0, 1, 2, 3, 4], `seed ${seed}: group ${g} out of order`);
      }
    }),
  );
};

Deno.test("memory: FIFO model test over randomized interleavings", async () => {
  // Each run is one random interleaving of 3 senders, 3 consumers and the clock; runs are
  // independent, so batches of them run side by side. DYNAMOMQ_FIFO_RUNS changes the count.
  const runs = Number(Deno.env.get("DYNAMOMQ_FIFO_RUNS") ?? "2000");
  const batch = 50;
  for (let first = 1; first <= runs; first += batch) {
    const seeds = Array.from({ length: Math.min(batch, runs - first + 1) }, (_, i) => first + i);
    await Promise.all(seeds.map(scenario));
  }
});

Deno.test("memory: Consumer over FIFO groups keeps each group in order under concurrency, retrying in place", () =>
  // On the TestClock, driven in small steps until all 40 are handled: a count of steps, not real
  // time, bounds the wait, so a busy machine cannot fail it.
  runWith(
    layerMemory,
    Effect.gen(function* () {
      yield* TestClock.setTime(T0);
      yield* Table.create("fifo-consumer");
      const q = yield* Queue.make({ table: "fifo-consumer", name: "c", schema: OrderSchema });
      const groups = ["a", "b", "c", "d"];
      yield* sendGroups(q, groups, 10);
      const handled = new Map<string, Array<number>>(groups.map((g) => [g, []]));
      const failedOnce = new Set<string>();
      const inHandler = new Set<string>();
      let overlaps = 0;
      let maxParallel = 0;
      yield* Consumer.run(q, (m) =>
        Effect.gen(function* () {
          if (inHandler.has(m.group!)) overlaps++;
          inHandler.add(m.group!);
          maxParallel = Math.max(maxParallel, inHandler.size);
          yield* Effect.sleep("2 millis");
          inHandler.delete(m.group!);
          // Every third message fails once: it must be retried before its group moves on.
          if (m.body.total % 3 === 0 && !failedOnce.has(m.id)) {
            failedOnce.add(m.id);
            return yield* new RetryAfter({ delay: "5 millis", reason: "first try fails" });
          }
          handled.get(m.group!)!.push(m.body.total);
        }), { concurrency: 8, poll: { min: "1 millis", max: "20 millis" } });
      const handledCount = () => [...handled.values()].flat().length;
      for (let step = 0; step < 100_000 && handledCount() < 40; step++) {
        yield* TestClock.adjust("1 millis");
      }
      assert.equal(handledCount(), 40, `handled: ${JSON.stringify([...handled])}`);
      assert.equal(overlaps, 0);
      assert.ok(maxParallel > 1, "groups run in parallel");
      for (const g of groups) assert.deepEqual(handled.get(g), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], g);
    }),
  ));

/**
 * The queue catalog on every backend: a handle registers its queue with its shape on its first
 * send or receive (once per handle), the catalog lists the table's queues by name, and its items
 * never show up as messages. A failed registration never fails the send.
 */
import assert from "node:assert/strict";
import { Effect, Schema, TestClock } from "effect";
import { DynamoDBError } from "../src/Errors.ts";
import * as Catalog from "../src/services/Catalog.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import { queueTest, T0 } from "./_queue.ts";

/** The port with every catalog put counted, and failed when `fail` says so. */
const watchCatalog = (db: DynamoDB, fail: () => boolean) => {
  const seen = { registers: 0, reports: 0 };
  const watched: DynamoDB = {
    ...db,
    update: (table, key, update, options) => {
      if (key.pk !== "#queues") return db.update(table, key, update, options);
      if (update.add?.completed !== undefined) seen.reports++;
      else seen.registers++;
      return fail()
        ? Effect.fail(
          new DynamoDBError({
            operation: "update",
            reason: "AccessDenied",
            retryable: false,
            detail: "not allowed",
          }),
        )
        : db.update(table, key, update, options);
    },
  };
  return { seen, watched };
};

queueTest(
  "the first send registers the queue with its shape; list is sorted by name",
  (ctx) =>
    Effect.gen(function* () {
      assert.deepEqual(yield* Catalog.list(ctx.table), []);
      const orders = yield* ctx.makeQueue({ shards: 4, priorities: 3, maxReceives: 7 });
      const audit = yield* ctx.makeQueue({ name: "audit", visibilityTimeout: "90 seconds" });
      yield* orders.send({ id: "o1", total: 1 });
      yield* audit.sendBatch([{ body: { id: "a1", total: 1 } }]);
      const queues = yield* Catalog.list(ctx.table);
      assert.deepEqual(queues, [
        {
          name: "audit",
          shards: 1,
          priorities: 1,
          maxReceives: 5,
          visibilityTimeoutMillis: 90_000,
          registeredAt: T0,
          completed: 0,
        },
        {
          name: "orders",
          shards: 4,
          priorities: 3,
          maxReceives: 7,
          visibilityTimeoutMillis: 30_000,
          registeredAt: T0,
          completed: 0,
        },
      ]);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a handle registers once, and a receive registers a queue too",
  (ctx) =>
    Effect.gen(function* () {
      const { seen, watched } = watchCatalog(ctx.db, () => false);
      const make = (name: string) =>
        Queue.make({ table: ctx.table, name, schema: Schema.Unknown }).pipe(
          Effect.provideService(DynamoDB, watched),
        );
      const producer = yield* make("orders");
      for (let i = 0; i < 5; i++) yield* producer.send({ i });
      assert.equal(seen.registers, 1);
      const consumer = yield* make("consumer-only");
      yield* consumer.receive();
      yield* consumer.receive();
      assert.equal(seen.registers, 2);
      const names = (yield* Catalog.list(ctx.table)).map((q) => q.name);
      assert.deepEqual(names, ["consumer-only", "orders"]);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a failed registration does not fail the send and is not retried by that handle",
  (ctx) =>
    Effect.gen(function* () {
      const { seen, watched } = watchCatalog(ctx.db, () => true);
      const queue = yield* Queue.make({ table: ctx.table, name: "orders", schema: Schema.Unknown })
        .pipe(Effect.provideService(DynamoDB, watched));
      yield* queue.send({ n: 1 });
      yield* queue.send({ n: 2 });
      assert.equal(seen.registers, 1);
      assert.equal((yield* queue.stats).ready, 2);
      assert.deepEqual(yield* Catalog.list(ctx.table), []);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "catalog items are not messages: stats, list and purge leave them alone",
  (ctx) =>
    Effect.gen(function* () {
      const queue = yield* ctx.makeQueue();
      yield* queue.send({ id: "o1", total: 1 });
      assert.deepEqual(yield* queue.stats, {
        ready: 1,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });
      assert.equal((yield* queue.list({ state: "ready" })).messages.length, 1);
      assert.equal(yield* queue.purge(), 1);
      assert.deepEqual((yield* Catalog.list(ctx.table)).map((q) => q.name), ["orders"]);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "items in the catalog partition that are not valid descriptors are skipped",
  (ctx) =>
    Effect.gen(function* () {
      yield* ctx.db.put(ctx.table, { pk: "#queues", sk: "bad name!", shards: 1 });
      yield* ctx.db.put(ctx.table, { pk: "#queues", sk: "no-shape" });
      yield* Catalog.register(ctx.table, {
        name: "good",
        shards: 2,
        priorities: 1,
        maxReceives: 5,
        visibilityTimeoutMillis: 1000,
        registeredAt: 5,
      });
      assert.deepEqual((yield* Catalog.list(ctx.table)).map((q) => q.name), ["good"]);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "acks are added to the catalog's completed count every 10 s, beside later requests",
  (ctx) =>
    Effect.gen(function* () {
      let failing = false;
      const { seen, watched } = watchCatalog(ctx.db, () => failing);
      const queue = yield* Queue.make({ table: ctx.table, name: "orders", schema: Schema.Unknown })
        .pipe(Effect.provideService(DynamoDB, watched));
      const completed = Effect.map(Catalog.list(ctx.table), (qs) => qs[0]!.completed);
      const ackAll = Effect.gen(function* () {
        const { messages } = yield* queue.receive({ max: 10 });
        yield* queue.ackBatch(messages);
        return messages.length;
      });
      for (let i = 0; i < 3; i++) yield* queue.send({ i });
      assert.equal(yield* ackAll, 3);
      // Counted, not yet reported: the first report waits for its 10 s window.
      assert.equal(seen.reports, 0);
      assert.equal(yield* completed, 0);
      yield* TestClock.adjust("10 seconds");
      yield* queue.receive();
      assert.equal(seen.reports, 1);
      assert.equal(yield* completed, 3);
      // A failed report keeps its count for the next one; a new handle's register keeps the count.
      yield* queue.send({ i: 3 });
      yield* ackAll;
      yield* TestClock.adjust("10 seconds");
      failing = true;
      yield* queue.receive();
      failing = false;
      assert.equal(yield* completed, 3);
      yield* TestClock.adjust("10 seconds");
      yield* queue.receive();
      assert.equal(yield* completed, 4);
      const again = yield* ctx.makeQueue();
      yield* again.receive();
      assert.equal(yield* completed, 4);
      // Transactional batches count too (where the backend has transactions).
      if (ctx.backend.transactions) {
        for (let i = 0; i < 2; i++) yield* queue.send({ i });
        const { messages } = yield* queue.receive({ max: 10 });
        yield* queue.ackBatch(messages, { transaction: true });
        yield* TestClock.adjust("10 seconds");
        yield* queue.receive();
        assert.equal(yield* completed, 6);
      }
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

/**
 * The queue catalog on every backend: the first handle of a queue writes its definition (once),
 * the catalog lists the table's queues by name, and its items never show up as messages. A
 * definition that cannot be written fails `Queue.make`.
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

/** The shape fields of a descriptor (what the tests compare). */
const shapeOf = (d: Catalog.QueueDescriptor) => ({
  name: d.name,
  version: d.version,
  shards: d.shards,
  priorities: d.priorities,
  maxReceives: d.maxReceives,
  visibilityTimeoutMillis: d.visibilityTimeoutMillis,
  registeredAt: d.registeredAt,
  completed: d.completed,
});

queueTest(
  "Queue.make defines the queue with its shape; list is sorted by name",
  (ctx) =>
    Effect.gen(function* () {
      assert.deepEqual(yield* Catalog.list(ctx.table), []);
      yield* ctx.makeQueue({ shards: 4, priorities: 3, maxReceives: 7 });
      yield* ctx.makeQueue({ name: "audit", visibilityTimeout: "90 seconds" });
      const queues = yield* Catalog.list(ctx.table);
      assert.deepEqual(queues.map(shapeOf), [
        {
          name: "audit",
          version: 1,
          shards: 1,
          priorities: 1,
          maxReceives: 5,
          visibilityTimeoutMillis: 90_000,
          registeredAt: T0,
          completed: 0,
        },
        {
          name: "orders",
          version: 1,
          shards: 4,
          priorities: 3,
          maxReceives: 7,
          visibilityTimeoutMillis: 30_000,
          registeredAt: T0,
          completed: 0,
        },
      ]);
      assert.equal(queues[1]!.deduplicationWindowMillis, 300_000);
      assert.equal(queues[1]!.compressAbove, 4096);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "the definition is written once; later handles and requests only read it",
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
      const consumer = yield* make("orders");
      yield* consumer.receive();
      yield* make("consumer-only");
      assert.equal(seen.registers, 2);
      const names = (yield* Catalog.list(ctx.table)).map((q) => q.name);
      assert.deepEqual(names, ["consumer-only", "orders"]);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a definition that cannot be written fails Queue.make: no handle runs with a guessed shape",
  (ctx) =>
    Effect.gen(function* () {
      const { seen, watched } = watchCatalog(ctx.db, () => true);
      const made = yield* Effect.either(
        Queue.make({ table: ctx.table, name: "orders", schema: Schema.Unknown })
          .pipe(Effect.provideService(DynamoDB, watched)),
      );
      assert.ok(made._tag === "Left" && made.left._tag === "DynamoDBError");
      assert.equal(seen.registers, 1);
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
      // A catalog item of an earlier release (no version) is listed, as version 0.
      yield* ctx.db.put(ctx.table, {
        pk: "#queues",
        sk: "good",
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

/**
 * Declared queues (issue #15) on every backend: a queue's shape and settings are stored in the
 * table once, with a version; every handle runs with them, adopts what its options leave out,
 * and fails with `QueueDefinitionConflict` on what they contradict. Changes are explicit
 * (`Queue.update`) and reach running handles within `Queue.definitionRefreshMillis`.
 */
import assert from "node:assert/strict";
import {
  Chunk,
  Clock,
  Effect,
  Either,
  Option,
  Queue as EffectQueue,
  Schema,
  TestClock,
} from "effect";
import * as Consumer from "../src/services/Consumer.ts";
import * as Catalog from "../src/services/Catalog.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import { Order, queueTest, sendMany, T0 } from "./_queue.ts";

const conflictSettings = (e: unknown): Array<string> => {
  const error = e as { _tag: string; conflicts: ReadonlyArray<{ setting: string }> };
  assert.equal(error._tag, "QueueDefinitionConflict");
  return error.conflicts.map((c) => c.setting);
};

queueTest(
  "a default handle counts and purges every message of a 4-shard queue",
  (ctx) =>
    Effect.gen(function* () {
      const app = yield* ctx.makeQueue({ shards: 4 });
      yield* sendMany(app, 20);
      const tool = yield* ctx.makeQueue();
      assert.equal(tool.shards, 4);
      assert.equal((yield* tool.stats).ready, 20);
      assert.equal(yield* tool.purge(), 20);
      assert.equal((yield* app.stats).ready, 0);
    }),
);

queueTest(
  "a default handle receives all 8 messages of a priorities: 3, shards: 4 producer",
  (ctx) =>
    Effect.gen(function* () {
      const producer = yield* ctx.makeQueue({ priorities: 3, shards: 4 });
      for (let i = 0; i < 8; i++) {
        yield* producer.send({ id: `o${i}`, total: i }, { priority: i % 3 });
      }
      const consumer = yield* ctx.makeQueue();
      const { messages } = yield* consumer.receive({ max: 20 });
      assert.equal(messages.length, 8);
    }),
);

queueTest(
  "a default handle keeps the producer's maxReceives: 20 (no dead-letter at 5)",
  (ctx) =>
    Effect.gen(function* () {
      const producer = yield* ctx.makeQueue({ maxReceives: 20 });
      yield* producer.send({ id: "o1", total: 1 });
      const consumer = yield* ctx.makeQueue();
      assert.equal(consumer.maxReceives, 20);
      for (let i = 0; i < 8; i++) {
        const r = yield* consumer.receive();
        assert.equal(r.deadLettered.length, 0, `receive ${i + 1}`);
        assert.equal(r.messages.length, 1, `receive ${i + 1}`);
        yield* consumer.nack(r.messages[0]!);
      }
      assert.equal((yield* consumer.stats).dead, 0);
    }),
);

queueTest(
  "options that contradict the definition fail with a conflict naming each setting",
  (ctx) =>
    Effect.gen(function* () {
      yield* ctx.makeQueue({ shards: 4, maxReceives: 20 });
      const made = yield* Effect.either(
        ctx.makeQueue({ shards: 1, maxReceives: 20, visibilityTimeout: "1 minute" }),
      );
      assert.ok(Either.isLeft(made));
      assert.deepEqual(conflictSettings(made.left), ["visibilityTimeoutMillis", "shards"]);
      assert.match(String((made.left as Error).message), /shards is 4 in the table, 1 requested/);
    }),
);

queueTest(
  "two first handles with contradictory options: one defines, the other fails",
  (ctx) =>
    Effect.gen(function* () {
      const [a, b] = yield* Effect.all([
        Effect.either(ctx.makeQueue({ shards: 2 })),
        Effect.either(ctx.makeQueue({ shards: 3 })),
      ], { concurrency: 2 });
      assert.equal([a, b].filter(Either.isRight).length, 1);
      const failed = [a, b].find(Either.isLeft)!;
      assert.deepEqual(conflictSettings(failed.left), ["shards"]);
      const d = Option.getOrThrow(yield* Queue.describe(ctx.table, "orders"));
      assert.equal(d.version, 1);
      assert.equal(d.shards, Either.isRight(a) ? 2 : 3);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a live update of visibilityTimeout and maxReceives reaches a running handle",
  (ctx) =>
    Effect.gen(function* () {
      const consumer = yield* ctx.makeQueue({ maxReceives: 10 });
      yield* consumer.send({ id: "o1", total: 1 });
      const first = (yield* consumer.receive()).messages[0]!;
      assert.equal(first.visibleAt, T0 + 30_000);
      yield* consumer.nack(first);
      const updated = yield* Queue.update(ctx.table, "orders", {
        visibilityTimeout: "5 seconds",
        maxReceives: 2,
      });
      assert.equal(updated.version, 2);
      // Within the bound: the next request after `definitionRefreshMillis` reads the new version.
      yield* TestClock.adjust(Queue.definitionRefreshMillis);
      yield* consumer.stats; // admin reads do not refresh
      assert.equal(consumer.maxReceives, 10);
      const second = (yield* consumer.receive()).messages[0]!; // carries the refresh
      yield* consumer.nack(second);
      assert.equal(consumer.maxReceives, 2);
      assert.equal(consumer.visibilityTimeoutMillis, 5_000);
      const t = T0 + Queue.definitionRefreshMillis;
      const third = yield* consumer.receive();
      // Received twice already: at the new maxReceives of 2 it is dead-lettered.
      assert.equal(third.messages.length, 0);
      assert.equal(third.deadLettered.length, 1);
      yield* consumer.send({ id: "o2", total: 2 });
      const fresh = (yield* consumer.receive()).messages[0]!;
      assert.equal(fresh.visibleAt, t + 5_000);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "updates are versioned; shards and priorities cannot change",
  (ctx) =>
    Effect.gen(function* () {
      const missing = yield* Effect.either(Queue.update(ctx.table, "orders", { maxReceives: 3 }));
      assert.ok(Either.isLeft(missing) && missing.left._tag === "QueueNotFound");
      yield* Queue.define({ table: ctx.table, name: "orders", shards: 2 });
      const shards = yield* Effect.either(Queue.update(ctx.table, "orders", { shards: 4 }));
      assert.ok(Either.isLeft(shards) && shards.left._tag === "InvalidOptions");
      assert.equal((shards.left as { option: string }).option, "shards");
      const same = yield* Queue.update(ctx.table, "orders", { shards: 2, maxReceives: 3 });
      assert.equal(same.version, 2);
      const stale = yield* Effect.either(
        Queue.update(ctx.table, "orders", { maxReceives: 4, expectedVersion: 1 }),
      );
      assert.ok(Either.isLeft(stale));
      assert.deepEqual(conflictSettings(stale.left), ["version"]);
      const next = yield* Queue.update(ctx.table, "orders", { maxReceives: 4, expectedVersion: 2 });
      assert.equal(next.version, 3);
      assert.equal(next.maxReceives, 4);
      // A new handle now runs with the update; one that asks for the old value is refused.
      assert.equal((yield* ctx.makeQueue()).maxReceives, 4);
      const old = yield* Effect.either(ctx.makeQueue({ maxReceives: 3 }));
      assert.ok(Either.isLeft(old));
      assert.deepEqual(conflictSettings(old.left), ["maxReceives"]);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "define, describe, delete: a non-empty queue needs force, which removes its items",
  (ctx) =>
    Effect.gen(function* () {
      assert.ok(Option.isNone(yield* Queue.describe(ctx.table, "orders")));
      const defined = yield* Queue.define({ table: ctx.table, name: "orders", priorities: 2 });
      assert.equal(defined.priorities, 2);
      assert.equal(defined.shards, 1);
      // Defining again with agreeing (or no) options is a no-op; a contradiction is refused.
      yield* Queue.define({ table: ctx.table, name: "orders" });
      const again = yield* Effect.either(
        Queue.define({ table: ctx.table, name: "orders", priorities: 3 }),
      );
      assert.ok(Either.isLeft(again));
      const q = yield* ctx.makeQueue();
      yield* sendMany(q, 3);
      yield* q.send({ id: "g", total: 0 }, { group: "customer-1" });
      const refused = yield* Effect.either(Queue.delete(ctx.table, "orders"));
      assert.ok(Either.isLeft(refused) && refused.left._tag === "QueueNotEmpty");
      assert.equal((refused.left as { messages: number }).messages, 4);
      const { messages } = yield* Queue.delete(ctx.table, "orders", { force: true });
      assert.equal(messages, 4);
      assert.ok(Option.isNone(yield* Queue.describe(ctx.table, "orders")));
      assert.deepEqual(yield* Catalog.list(ctx.table), []);
      const left = yield* ctx.db.query(ctx.table, {
        partition: { attribute: "pk", value: "orders#g#customer-1" },
        consistent: true,
      });
      assert.equal(left.items.length, 0);
      const gone = yield* Effect.either(Queue.delete(ctx.table, "orders"));
      assert.ok(Either.isLeft(gone) && gone.left._tag === "QueueNotFound");
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a table without definitions keeps working: the first handle writes one",
  (ctx) =>
    Effect.gen(function* () {
      // A catalog item of an earlier release: the last registrant's shape, no version.
      yield* ctx.db.put(ctx.table, {
        pk: "#queues",
        sk: "orders",
        shards: 4,
        priorities: 1,
        maxReceives: 9,
        visibilityTimeoutMillis: 30_000,
        registeredAt: 1,
        completed: 7,
      });
      const before = Option.getOrThrow(yield* Queue.describe(ctx.table, "orders"));
      assert.equal(before.version, 0);
      const q = yield* Queue.make({ table: ctx.table, name: "orders", schema: Order });
      assert.equal(q.shards, 4);
      assert.equal(q.maxReceives, 9);
      const after = Option.getOrThrow(yield* Queue.describe(ctx.table, "orders"));
      assert.equal(after.version, 1);
      assert.equal(after.shards, 4);
      assert.equal(after.completed, 7);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a handle on a deleted queue keeps its settings and warns",
  (ctx) =>
    Effect.gen(function* () {
      const q = yield* ctx.makeQueue({ shards: 2 });
      yield* Queue.delete(ctx.table, "orders");
      yield* TestClock.adjust(Queue.definitionRefreshMillis);
      yield* q.send({ id: "o1", total: 1 });
      assert.equal(q.shards, 2);
      assert.equal((yield* q.stats).ready, 1);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "Schema bodies still round-trip through an adopted definition",
  (ctx) =>
    Effect.gen(function* () {
      yield* Queue.define({ table: ctx.table, name: "raw", compressAbove: false });
      const raw = yield* Queue.make({ table: ctx.table, name: "raw", schema: Schema.String });
      yield* raw.send("x".repeat(10_000));
      const { messages } = yield* raw.receive();
      assert.equal(messages[0]!.body.length, 10_000);
    }).pipe(Effect.provideService(DynamoDB, ctx.db)),
);

queueTest(
  "a live update of maxReceives reaches a running Consumer within the refresh bound",
  (ctx) =>
    Effect.gen(function* () {
      const q = yield* ctx.makeQueue({ maxReceives: 50 });
      yield* q.send({ id: "c1", total: 1 }, { id: "c1" });
      const receives: Array<number> = [];
      const consumer = yield* Consumer.run(
        q,
        (m) =>
          Effect.sync(() => receives.push(m.receives)).pipe(Effect.zipRight(Effect.fail("boom"))),
        {
          concurrency: 1,
          backoff: { base: "1 second", max: "1 second" },
          poll: { min: "100 millis", max: "1 second" },
        },
      );
      const events = yield* consumer.subscribe;
      for (let i = 0; i < 60 && receives.length < 3; i++) yield* TestClock.adjust("1 second");
      assert.ok(receives.length >= 3, `received ${receives.length} times`);
      yield* Queue.update(ctx.table, "orders", { maxReceives: 2 });
      const updatedAt = yield* Clock.currentTimeMillis;
      let dead: Consumer.ConsumerEvent | undefined = undefined;
      // The refresh bound (definitionRefreshMillis) plus a few polls and backoffs.
      for (let i = 0; i < Queue.definitionRefreshMillis / 1000 + 20 && dead === undefined; i++) {
        yield* TestClock.adjust("1 second");
        const seen = Chunk.toReadonlyArray(yield* EffectQueue.takeAll(events));
        dead = seen.find((e) => e._tag === "DeadLettered");
      }
      assert.ok(dead !== undefined, `not dead-lettered; received ${receives.length} times`);
      // Dead-lettered at the new limit, long before the old one of 50, and within the refresh
      // bound of the update (plus a backoff and a poll of at most a second each, and the
      // loop's one-second steps). Counted in Clock time, not receives: the retry backoff is
      // jittered, so how many receives fit in that time is random.
      assert.ok(receives.length < 50, `received ${receives.length} times`);
      const took = (yield* Clock.currentTimeMillis) - updatedAt;
      assert.ok(took <= Queue.definitionRefreshMillis + 5_000, `dead-lettered ${took} ms after`);
      const info = yield* q.get("c1");
      assert.equal(Option.isSome(info) && info.value.state, "dead");
      yield* consumer.stop;
    }).pipe(Effect.scoped, Effect.provideService(DynamoDB, ctx.db)),
);

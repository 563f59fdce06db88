/**
 * The features past the Go library's roadmap that live in `Queue`: deduplication, batches,
 * compression, scheduling, priorities and transactional enqueue — on every backend.
 */
import assert from "node:assert/strict";
import { Effect, Either, Layer, Option, Random, TestClock } from "effect";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import { DynamoDB, eq } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { runLiveWith } from "./_effect.ts";
import type { BatchEntry } from "../src/services/Queue.ts";
import { Order, queueTest, sendMany, T0 } from "./_queue.ts";

const fail = <E>(eff: Effect.Effect<unknown, E>) => Effect.flip(eff);

/** Random characters that gzip cannot shrink much. */
const incompressible = (bytes: number): string => {
  const raw = new Uint8Array(Math.ceil(bytes * 0.75));
  for (let i = 0; i < raw.length; i += 65536) crypto.getRandomValues(raw.subarray(i, i + 65536));
  let s = "";
  for (let i = 0; i < raw.length; i += 8192) s += String.fromCharCode(...raw.subarray(i, i + 8192));
  return btoa(s).slice(0, bytes);
};

queueTest(
  "deduplication by id: a resend in the window writes nothing and returns the original",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ deduplicationWindow: "10 minutes" });
      const first = yield* q.send({ id: "a", total: 1 }, { deduplicationId: "order-1" });
      assert.equal(first.duplicate, false);
      yield* TestClock.adjust("1 minute");
      const again = yield* q.send({ id: "changed", total: 2 }, { deduplicationId: "order-1" });
      assert.deepEqual(again, { id: first.id, visibleAt: T0, duplicate: true });
      assert.equal((yield* q.stats).ready, 1);
      // Also after the original was acked: the tombstone keeps the key until the window ends.
      const m = (yield* q.receive()).messages[0]!;
      assert.deepEqual(m.body, { id: "a", total: 1 });
      assert.deepEqual(m.deduplication, { id: "order-1", until: T0 + 600_000 });
      // The live message carries no TTL (DynamoDB would delete it while still queued) …
      const key = { pk: `orders#${first.id}`, sk: "msg" };
      assert.equal((yield* db.get(table, key))!.ttl, undefined);
      yield* q.ack(m);
      assert.ok(Option.isNone(yield* q.get(first.id)));
      // … the tombstone does: payload-less, out of the index, expiring with the window.
      const tombstone = (yield* db.get(table, key))!;
      assert.deepEqual(
        [tombstone.state, tombstone.ttl, tombstone.payload, tombstone.gpk],
        ["done", Math.ceil((T0 + 600_000) / 1000), undefined, undefined],
      );
      assert.equal(
        (yield* q.send({ id: "b", total: 3 }, { deduplicationId: "order-1" })).duplicate,
        true,
      );
      assert.equal((yield* q.stats).ready, 0);
      // Once the window has passed, the same key is a new message.
      yield* TestClock.adjust("9 minutes");
      yield* TestClock.adjust(1);
      const later = yield* q.send({ id: "c", total: 4 }, { deduplicationId: "order-1" });
      assert.equal(later.duplicate, false);
      assert.equal(later.id, first.id);
      assert.deepEqual((yield* q.receive()).messages[0]!.body, { id: "c", total: 4 });
      // An explicit id and a deduplication key together are refused.
      assert.equal(
        (yield* fail(q.send({ id: "x", total: 0 }, { id: "x", deduplicationId: "k" })))._tag,
        "InvalidOptions",
      );
    }),
);

queueTest(
  "content-based deduplication uses the SHA-256 of the encoded payload",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({
        contentBasedDeduplication: true,
        deduplicationWindow: "2 days",
      });
      const a = yield* q.send({ id: "same", total: 1 });
      const b = yield* q.send({ id: "same", total: 1 });
      const c = yield* q.send({ id: "same", total: 2 });
      assert.equal(b.duplicate, true);
      assert.equal(b.id, a.id);
      assert.equal(c.duplicate, false);
      assert.equal((yield* q.stats).ready, 2);
      // A long window survives acks for days.
      const { messages } = yield* q.receive({ max: 10 });
      yield* Effect.forEach(messages, q.ack);
      yield* TestClock.adjust("47 hours");
      assert.equal((yield* q.send({ id: "same", total: 1 })).duplicate, true);
    }),
);

queueTest(
  "sendBatch: any size, a result per entry, duplicates and bad entries isolated",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "taken", total: 0 }, { id: "taken" });
      const entries: ReadonlyArray<BatchEntry<Order>> = [
        ...Array.from({ length: 60 }, (_, i) => ({ body: { id: `b${i}`, total: i } })),
        { body: { id: "dup", total: 0 }, options: { id: "taken" } },
        { body: { id: "dd", total: 1 }, options: { deduplicationId: "k1" } },
        { body: { id: "dd", total: 1 }, options: { deduplicationId: "k1" } },
        // deno-lint-ignore no-explicit-any
        { body: { id: 1, total: "no" } as any },
        { body: { id: "late", total: 0 }, options: { delay: "1 hour" } },
      ];
      const results = yield* q.sendBatch(entries);
      assert.equal(results.length, entries.length);
      assert.ok(results.slice(0, 60).every(Either.isRight));
      assert.equal(Either.isLeft(results[60]!) && results[60].left._tag, "DuplicateMessage");
      const [d1, d2] = [results[61]!, results[62]!];
      assert.ok(Either.isRight(d1) && Either.isRight(d2));
      if (Either.isRight(d1) && Either.isRight(d2)) {
        assert.deepEqual([d1.right.duplicate, d2.right.duplicate].sort(), [false, true]);
        assert.equal(d1.right.id, d2.right.id);
      }
      assert.equal(Either.isLeft(results[63]!) && results[63].left._tag, "ParseError");
      assert.ok(Either.isRight(results[64]!));
      assert.deepEqual(yield* q.stats, {
        ready: 62,
        delayed: 1,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });
    }),
);

queueTest(
  "batch ack, nack and changeVisibility are fenced per message",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendMany(q, 6);
      const { messages } = yield* q.receive({ max: 6 });
      const [a, b, c, d, e, f] = messages.map((m) => m);
      assert.equal(messages.length, 6);
      const vis = yield* q.changeVisibilityBatch([a!, b!], "2 minutes");
      assert.ok(vis.every((r) => Either.isRight(r) && r.right === T0 + 6 + 120_000));
      yield* q.ack(c!);
      // c is gone: acking it again succeeds (as an ack whose first response was lost does).
      const acked = yield* q.ackBatch([a!, c!]);
      assert.deepEqual(acked.map(Either.isRight), [true, true]);
      const nacked = yield* q.nackBatch([d!, e!, f!], {
        delay: "1 second",
        error: { tag: "T", message: "m" },
      });
      assert.ok(nacked.every(Either.isRight));
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 3,
        inflight: 1,
        dead: 0,
        oldestReadyAge: 0,
      });
    }),
);

queueTest(
  "compression: large payloads are stored gzip-compressed and read back transparently",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ compressAbove: 1024 });
      const big = { id: "x".repeat(300_000), total: 1 };
      const { id } = yield* q.send(big);
      const small = yield* q.send({ id: "small", total: 2 });
      const raw = (yield* db.get(table, { pk: `orders#${id}`, sk: "msg" }))!;
      assert.equal(raw.enc, "gzip");
      assert.ok(raw.payload instanceof Uint8Array);
      assert.ok((raw.payload as Uint8Array).length < 10_000);
      const rawSmall = (yield* db.get(table, { pk: `orders#${small.id}`, sk: "msg" }))!;
      assert.equal(rawSmall.enc, "json");
      const info = Option.getOrThrow(yield* q.get(id));
      assert.deepEqual(info.body, Either.right(big));
      const { messages } = yield* q.receive({ max: 2 });
      assert.deepEqual(messages.map((m) => m.body), [big, { id: "small", total: 2 }]);
      // Still over 400 KB after compression: a typed error before any write.
      const e = yield* fail(q.send({ id: incompressible(600_000), total: 3 }));
      assert.equal(e._tag, "PayloadTooLarge");
      // A corrupt compressed payload is dead-lettered at receive, not delivered.
      yield* q.send(big, { id: "corrupt" });
      yield* db.update(table, { pk: "orders#corrupt", sk: "msg" }, {
        set: { payload: new Uint8Array([31, 139, 8, 0, 1, 2, 3]) },
      });
      const r = yield* q.receive();
      assert.equal(r.deadLettered[0]?._tag, "UndecodableMessage");
    }),
);

queueTest(
  "reschedule and cancel a pending message by id",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 }, { id: "later", delay: "1 hour" });
      yield* q.send({ id: "b", total: 2 }, { id: "never", delay: "1 hour" });
      assert.equal(yield* q.reschedule("later", { delay: "1 minute" }), T0 + 60_000);
      yield* q.cancel("never");
      assert.ok(Option.isNone(yield* q.get("never")));
      yield* TestClock.adjust("1 minute");
      const m = (yield* q.receive()).messages[0]!;
      assert.equal(m.id, "later");
      // In flight: neither applies.
      assert.equal((yield* fail(q.reschedule("later", { at: T0 })))._tag, "InvalidState");
      assert.equal((yield* fail(q.cancel("later")))._tag, "InvalidState");
      assert.equal((yield* fail(q.cancel("nope")))._tag, "MessageNotFound");
      yield* q.release(m);
      assert.equal(yield* q.reschedule("later", { at: new Date(T0 + 3_600_000) }), T0 + 3_600_000);
      assert.equal((yield* q.stats).delayed, 1);
    }),
);

queueTest(
  "priorities: higher bands first, lower bands not starved",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ priorities: 3 });
      yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => q.send({ id: `p${i % 3}-${i}`, total: i }, { priority: i % 3 }),
      );
      const firstBands: Array<number> = [];
      for (let i = 0; i < 30; i++) {
        const m = (yield* q.receive()).messages[0]!;
        firstBands.push(m.priority);
        assert.equal(m.body.id.startsWith(`p${m.priority}-`), true);
      }
      // The first ten receives mostly take band 2; every band is served in the end.
      assert.ok(firstBands.slice(0, 10).filter((b) => b === 2).length >= 5, String(firstBands));
      assert.deepEqual([...new Set(firstBands)].sort(), [0, 1, 2]);
      assert.equal(
        (yield* fail(q.send({ id: "x", total: 0 }, { priority: 3 })))._tag,
        "InvalidOptions",
      );
      // Stats, list and purge cover every band.
      yield* q.send({ id: "x", total: 0 }, { priority: 1 });
      assert.equal((yield* q.stats).ready, 1);
      assert.equal((yield* q.list({ state: "inflight" })).messages.length, 30);
      assert.equal(yield* q.purge(), 31);
      // The band draw comes from Effect's Random: seeded, the test sees the same draws each run.
    }).pipe(Effect.withRandom(Random.make("priorities"))),
);

queueTest(
  "transactional enqueue: the message commits with the caller's own write, or not at all",
  ({ makeQueue, db, table, backend }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const prepared = yield* q.transactItem({ id: "T-1", total: 10 });
      const business = {
        _tag: "Put" as const,
        table,
        item: { pk: "account#1", sk: "balance", amount: 90 },
      };
      if (!backend.transactions) {
        // dynalite has no TransactWriteItems: the port says so with a typed error.
        const e = yield* fail(db.transactWrite([business, prepared.item]));
        assert.equal(e._tag === "DynamoDBError" && e.reason, "Unsupported");
        return;
      }
      yield* db.transactWrite([business, prepared.item]);
      assert.deepEqual((yield* q.receive()).messages.map((m) => m.id), [prepared.id]);
      // A failed business condition rolls the message back too.
      const second = yield* q.transactItem({ id: "T-2", total: 20 });
      const e = yield* fail(db.transactWrite([
        {
          _tag: "ConditionCheck",
          table,
          key: { pk: "account#1", sk: "balance" },
          condition: eq("amount", 0),
        },
        second.item,
      ]));
      assert.equal(e._tag, "ConditionFailed");
      assert.ok(Option.isNone(yield* q.get(second.id)));
    }),
);

/** The memory layer, except that each BatchWriteItem leaves its second half unprocessed, as a throttled table does. */
const halfProcessed: Layer.Layer<DynamoDB> = Layer.effect(
  DynamoDB,
  Effect.map(DynamoDB, (db): DynamoDB => ({
    ...db,
    batchWrite: (table, requests) => {
      const done = requests.slice(0, Math.ceil(requests.length / 2));
      return Effect.as(db.batchWrite(table, done), { unprocessed: requests.slice(done.length) });
    },
  })),
).pipe(Layer.provide(layerMemory));

Deno.test("memory: sendBatch retries unprocessed entries until every one is written", () =>
  runLiveWith(
    halfProcessed,
    Effect.gen(function* () {
      yield* Table.create("unprocessed");
      const q = yield* Queue.make({ table: "unprocessed", name: "u", schema: Order });
      const results = yield* q.sendBatch(
        Array.from({ length: 40 }, (_, i) => ({ body: { id: `u${i}`, total: i } })),
      );
      assert.ok(results.every(Either.isRight));
      assert.equal((yield* q.stats).ready, 40);
      // purge's batch deletes go through the same retry.
      assert.equal(yield* q.purge(), 40);
      assert.equal((yield* q.stats).ready, 0);
    }),
  ));

queueTest(
  "ackBatch in transactions: one request per 100 acks, falling back per message",
  ({ db, table, backend }) =>
    Effect.gen(function* () {
      // Count the requests the queue sends.
      let transactions = 0;
      // Acks one message at a time: deletes, or tombstone updates while a message is young.
      let single = 0;
      const counted: typeof db = {
        ...db,
        transactWrite: (items) =>
          Effect.zipRight(Effect.sync(() => void transactions++), db.transactWrite(items)),
        delete: (t, key, options) =>
          Effect.zipRight(Effect.sync(() => void single++), db.delete(t, key, options)),
        update: (t, key, update, options) =>
          Effect.zipRight(
            Effect.sync(() => void (update.set?.state === "done" && single++)),
            db.update(t, key, update, options),
          ),
      };
      const q = yield* Queue.make({ table, name: "tx", schema: Order }).pipe(
        Effect.provideService(DynamoDB, counted),
      );
      yield* sendMany(q, 30);
      yield* q.send({ id: "dd", total: 0 }, { deduplicationId: "k" });
      const { messages } = yield* q.receive({ max: 31 });
      assert.equal(messages.length, 31);
      const results = yield* q.ackBatch(messages, { transaction: true });
      assert.ok(results.every(Either.isRight));
      assert.equal((yield* q.stats).inflight, 0);
      if (backend.transactions) {
        assert.deepEqual([transactions, single], [1, 0]);
      } else {
        // dynalite: the transaction is refused, each message is acked on its own.
        assert.deepEqual([transactions, single], [1, 31]);
      }
      // The deduplicated one left its tombstone either way.
      assert.equal(
        (yield* q.send({ id: "dd", total: 0 }, { deduplicationId: "k" })).duplicate,
        true,
      );
      // One lost lease in the chunk: the others are still acked, the lost one says so.
      yield* sendMany(q, 3, "again");
      const held = (yield* q.receive({ max: 3 })).messages;
      yield* q.release(held[1]!);
      const mixed = yield* q.ackBatch(held, { transaction: true });
      assert.deepEqual(mixed.map((r) => Either.isLeft(r) ? r.left._tag : "ok"), [
        "ok",
        "LeaseLost",
        "ok",
      ]);
      assert.equal((yield* q.stats).ready, 1);
    }),
);

/**
 * The Queue conformance suite: every operation, its error paths, the Go library's test
 * scenarios (upstream-dynamomq.md §7) and regressions for its bugs (§8), on every backend.
 */
import assert from "node:assert/strict";
import { Effect, Either, Option, TestClock } from "effect";
import { DuplicateMessage } from "../src/Errors.ts";
import type { ListPage } from "../src/services/Queue.ts";
import { type Order, queueTest, sendMany, T0 } from "./_queue.ts";

const fail = <E>(eff: Effect.Effect<unknown, E>) => Effect.flip(eff);

queueTest("send, receive and ack one message", ({ makeQueue }) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    const sent = yield* q.send({ id: "A-101", total: 42 });
    assert.equal(sent.visibleAt, T0);
    const { messages, deadLettered } = yield* q.receive();
    assert.equal(messages.length, 1);
    assert.equal(deadLettered.length, 0);
    const m = messages[0]!;
    assert.deepEqual(m.body, { id: "A-101", total: 42 });
    assert.equal(m.id, sent.id);
    assert.equal(m.receives, 1);
    assert.equal(m.sentAt, T0);
    assert.equal(m.visibleAt, T0 + 30_000);
    assert.match(m.lease, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual((yield* q.receive()).messages, []);
    yield* q.ack(m);
    assert.ok(Option.isNone(yield* q.get(m.id)));
    assert.deepEqual(yield* q.stats, {
      ready: 0,
      delayed: 0,
      inflight: 0,
      dead: 0,
      oldestReadyAge: 0,
    });
  }));

queueTest(
  "generated ids are unique and sort by send time",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const ids = yield* sendMany(q, 20);
      assert.equal(new Set(ids).size, 20);
      assert.deepEqual([...ids].sort(), ids);
    }),
);

queueTest(
  "B7: a duplicate id is rejected atomically and never overwrites",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "first", total: 1 }, { id: "A-101" });
      const e = yield* fail(q.send({ id: "second", total: 2 }, { id: "A-101" }));
      assert.ok(e instanceof DuplicateMessage);
      const info = yield* q.get("A-101");
      assert.deepEqual(Option.getOrThrow(info).body, Either.right({ id: "first", total: 1 }));
      // Ten concurrent senders of one id: exactly one wins.
      const results = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        (i) => Effect.either(q.send({ id: `c${i}`, total: i }, { id: "B-202" })),
        { concurrency: "unbounded" },
      );
      assert.equal(results.filter(Either.isRight).length, 1);
    }),
);

queueTest("B3: a delay really delays, for any length", ({ makeQueue }) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.send({ id: "d", total: 1 }, { delay: "10 seconds" });
    yield* q.send({ id: "month", total: 2 }, { delay: "30 days" });
    yield* q.send({ id: "at", total: 3 }, { at: new Date(T0 + 20_000) });
    const receiveAndAck = Effect.gen(function* () {
      const { messages } = yield* q.receive({ max: 10 });
      yield* Effect.forEach(messages, q.ack);
      return messages.map((m) => m.body.id);
    });
    assert.deepEqual(yield* receiveAndAck, []);
    yield* TestClock.adjust(9_999);
    assert.deepEqual(yield* receiveAndAck, []);
    yield* TestClock.adjust(1);
    assert.deepEqual(yield* receiveAndAck, ["d"]);
    yield* TestClock.adjust(10_000);
    assert.deepEqual(yield* receiveAndAck, ["at"]);
    assert.equal((yield* q.stats).delayed, 1);
    yield* TestClock.adjust("30 days");
    assert.deepEqual(yield* receiveAndAck, ["month"]);
  }));

queueTest(
  "upstream: messages come out oldest first; B8: fixed-width time keys",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      // 999 ms then 1,000 ms later: a trimmed timestamp string would sort these wrongly.
      yield* TestClock.setTime(T0 + 999);
      yield* q.send({ id: "A-303", total: 3 }, { id: "A-303" });
      yield* TestClock.setTime(T0 + 1_000);
      yield* q.send({ id: "A-202", total: 2 }, { id: "A-202" });
      yield* TestClock.setTime(T0 + 10_000);
      yield* q.send({ id: "A-101", total: 1 }, { id: "A-101" });
      const order: Array<string> = [];
      for (let i = 0; i < 3; i++) order.push(...(yield* q.receive()).messages.map((m) => m.id));
      assert.deepEqual(order, ["A-303", "A-202", "A-101"]);
    }),
);

queueTest(
  "upstream: in-flight and dead-lettered messages are not received",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 }, { id: "inflight" });
      yield* TestClock.adjust(1);
      yield* q.send({ id: "b", total: 2 }, { id: "dead" });
      assert.equal((yield* q.receive()).messages[0]!.id, "inflight");
      yield* q.moveToDeadLetter("dead");
      assert.deepEqual(yield* q.receive(), { messages: [], deadLettered: [] });
    }),
);

queueTest(
  "B5: visibility timeout, redelivery, and fencing of the stale lease",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 });
      const first = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust(29_999);
      assert.equal((yield* q.receive()).messages.length, 0);
      yield* TestClock.adjust(1);
      const second = (yield* q.receive()).messages[0]!;
      assert.equal(second.id, first.id);
      assert.equal(second.receives, 2);
      assert.notEqual(second.lease, first.lease);
      for (
        const op of [
          q.ack(first),
          q.nack(first),
          q.changeVisibility(first, "1 minute"),
          q.release(first),
          q.deadLetter(first, { tag: "X", message: "x" }),
        ]
      ) {
        const e = yield* fail(op);
        assert.equal(e._tag, "LeaseLost");
      }
      // The second holder is unaffected.
      yield* q.ack(second);
      // Acking again finds the message gone: an ack that applied (its response lost) looks the same.
      yield* q.ack(second);
    }),
);

queueTest("receive claims up to max messages", ({ makeQueue }) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* sendMany(q, 10);
    const r = yield* q.receive({ max: 4 });
    assert.deepEqual(r.messages.map((m) => m.body.id), ["o0", "o1", "o2", "o3"]);
    assert.equal((yield* q.receive({ max: 100 })).messages.length, 6);
    assert.equal((yield* fail(q.receive({ max: 0 })))._tag, "InvalidOptions");
  }));

queueTest(
  "nack with a delay records the failure and counts the receive",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 });
      const m = (yield* q.receive()).messages[0]!;
      yield* q.nack(m, { delay: "5 seconds", error: { tag: "Boom", message: "it broke" } });
      yield* TestClock.adjust(4_999);
      assert.equal((yield* q.receive()).messages.length, 0);
      yield* TestClock.adjust(1);
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.receives, 2);
      assert.deepEqual(again.attempts, [{ at: T0, receive: 1, tag: "Boom", message: "it broke" }]);
    }),
);

queueTest(
  "changeVisibility extends a lease, or makes the message visible now",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 });
      const m = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust(20_000);
      assert.equal(yield* q.changeVisibility(m, "1 minute"), T0 + 80_000);
      yield* TestClock.adjust(59_999);
      assert.equal((yield* q.receive()).messages.length, 0);
      assert.equal(yield* q.changeVisibility(m, 0), T0 + 79_999);
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.receives, 2);
    }),
);

queueTest(
  "release makes a message visible now without counting the receive",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 });
      const m = (yield* q.receive()).messages[0]!;
      yield* q.release(m);
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.receives, 1);
      assert.deepEqual(again.attempts, []);
    }),
);

queueTest(
  "B10: at maxReceives a receive dead-letters instead of delivering",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ maxReceives: 2 });
      const { id } = yield* q.send({ id: "poison", total: 0 });
      for (let i = 1; i <= 2; i++) {
        const m = (yield* q.receive()).messages[0]!;
        assert.equal(m.receives, i);
        // A crash: the lease simply runs out, no nack.
        yield* TestClock.adjust(30_000);
      }
      const r = yield* q.receive();
      assert.deepEqual(r.messages, []);
      assert.equal(r.deadLettered.length, 1);
      const e = r.deadLettered[0]!;
      assert.equal(e._tag, "MaxReceivesExceeded");
      assert.deepEqual(
        { id: e.messageId, receives: e._tag === "MaxReceivesExceeded" ? e.receives : -1 },
        { id, receives: 2 },
      );
      const info = Option.getOrThrow(yield* q.get(id));
      assert.equal(info.state, "dead");
      assert.equal(info.deadReason?.tag, "MaxReceivesExceeded");
      assert.equal((yield* q.stats).dead, 1);
    }),
);

queueTest("the default maxReceives is finite (5)", ({ makeQueue }) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    assert.equal(q.maxReceives, 5);
  }));

queueTest(
  "B6: redrive resets the receive count and keeps the attempt history",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ maxReceives: 1 });
      const { id } = yield* q.send({ id: "a", total: 1 });
      const m = (yield* q.receive()).messages[0]!;
      yield* q.nack(m, { error: { tag: "Boom", message: "first" } });
      assert.equal((yield* q.receive()).deadLettered.length, 1);
      yield* TestClock.adjust(1_000);
      yield* q.redrive(id);
      const info = Option.getOrThrow(yield* q.get(id));
      assert.equal(info.state, "ready");
      assert.equal(info.receives, 0);
      assert.equal(info.attempts.length, 1);
      assert.equal(info.deadReason, undefined);
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.receives, 1);
      // Redriving a message that is not dead, or one that does not exist, is refused.
      assert.equal((yield* fail(q.redrive(id)))._tag, "InvalidState");
      assert.equal((yield* fail(q.redrive("nope")))._tag, "MessageNotFound");
    }),
);

queueTest(
  "redriveAll redrives every dead message matching a filter",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const ids = yield* sendMany(q, 5);
      yield* q.moveToDeadLetter(ids[0]!, { tag: "Timeout", message: "t" });
      yield* q.moveToDeadLetter(ids[1]!, { tag: "Timeout", message: "t" });
      yield* q.moveToDeadLetter(ids[2]!, { tag: "Invalid", message: "i" });
      assert.equal(yield* q.redriveAll({ reasonTag: "Timeout" }), 2);
      assert.equal((yield* q.stats).dead, 1);
      assert.equal(yield* q.redriveAll({ where: (m) => m.id === "none" }), 0);
      assert.equal(yield* q.redriveAll(), 1);
      assert.deepEqual(yield* q.stats, {
        ready: 5,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 5,
      });
    }),
);

queueTest(
  "moveToDeadLetter: ready and delayed move, in-flight is refused, dead is a no-op",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 }, { id: "ready" });
      yield* q.send({ id: "b", total: 2 }, { id: "delayed", delay: "1 hour" });
      yield* q.send({ id: "c", total: 3 }, { id: "inflight" });
      yield* q.moveToDeadLetter("ready");
      const held = (yield* q.receive()).messages[0]!;
      assert.equal(held.id, "inflight");
      yield* q.moveToDeadLetter("delayed", { tag: "Ops", message: "by hand" });
      const e = yield* fail(q.moveToDeadLetter("inflight"));
      assert.equal(e._tag, "InvalidState");
      yield* q.moveToDeadLetter("ready");
      assert.equal((yield* fail(q.moveToDeadLetter("nope")))._tag, "MessageNotFound");
      const dead = yield* q.list({ state: "dead" });
      assert.deepEqual(dead.messages.map((m) => [m.id, m.deadReason?.tag]).sort(), [
        ["delayed", "Ops"],
        ["ready", "Manual"],
      ]);
    }),
);

queueTest(
  "deadLetter moves a received message with its reason",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const { id } = yield* q.send({ id: "a", total: 1 });
      const m = (yield* q.receive()).messages[0]!;
      yield* q.deadLetter(m, { tag: "Fatal", message: "cannot process" });
      const info = Option.getOrThrow(yield* q.get(id));
      assert.equal(info.state, "dead");
      assert.deepEqual(info.deadReason, { tag: "Fatal", message: "cannot process" });
      assert.deepEqual(info.attempts.map((a) => a.tag), ["Fatal"]);
    }),
);

queueTest(
  "delete removes a message in any state; an unknown id is MessageNotFound",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a", total: 1 }, { id: "x" });
      yield* q.delete("x");
      assert.ok(Option.isNone(yield* q.get("x")));
      assert.equal((yield* fail(q.delete("x")))._tag, "MessageNotFound");
    }),
);

queueTest("get shows the derived state of a message", ({ makeQueue }) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.send({ id: "a", total: 1 }, { id: "m" });
    const state = () => Effect.map(q.get("m"), (o) => Option.getOrThrow(o).state);
    assert.equal(yield* state(), "ready");
    yield* q.receive();
    assert.equal(yield* state(), "inflight");
    yield* TestClock.adjust(30_000);
    assert.equal(yield* state(), "ready");
    const m = (yield* q.receive()).messages[0]!;
    yield* q.nack(m, { delay: "1 minute" });
    assert.equal(yield* state(), "delayed");
    assert.ok(Option.isNone(yield* q.get("unknown")));
  }));

queueTest(
  "list pages through each state without receiving",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const ids = yield* sendMany(q, 7);
      yield* q.send({ id: "d1", total: 0 }, { delay: "1 hour" });
      yield* q.send({ id: "d2", total: 0 }, { delay: "2 hours" });
      const seen: Array<string> = [];
      let cursor: string | undefined = undefined;
      let pages = 0;
      do {
        const page: ListPage<Order> = yield* q.list({ state: "ready", limit: 3, cursor });
        assert.ok(page.messages.length <= 3);
        seen.push(...page.messages.map((m) => m.id));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      assert.deepEqual(seen, ids);
      assert.ok(pages >= 3);
      assert.deepEqual((yield* q.list({ state: "delayed" })).messages.map((m) => m.body), [
        Either.right({ id: "d1", total: 0 }),
        Either.right({ id: "d2", total: 0 }),
      ]);
      yield* q.receive({ max: 2 });
      assert.equal((yield* q.list({ state: "inflight" })).messages.length, 2);
      assert.equal((yield* q.list({ state: "ready" })).messages.length, 5);
      assert.equal(
        (yield* fail(q.list({ state: "ready", cursor: "garbage" })))._tag,
        "InvalidOptions",
      );
      // Nothing was received by listing.
      assert.equal((yield* q.stats).inflight, 2);
    }),
);

queueTest(
  "upstream: stats count every state and the age of the oldest ready message",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });
      yield* sendMany(q, 4);
      yield* q.send({ id: "later", total: 0 }, { delay: "1 minute" });
      yield* q.receive({ max: 2 });
      yield* TestClock.adjust(1_000);
      const ids = (yield* q.list({ state: "ready" })).messages.map((m) => m.id);
      yield* q.moveToDeadLetter(ids[0]!);
      assert.deepEqual(yield* q.stats, {
        ready: 1,
        delayed: 1,
        inflight: 2,
        dead: 1,
        oldestReadyAge: 1_001,
      });
    }),
);

queueTest(
  "B12: purge deletes everything, across pages and batches",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* Effect.forEach(
        Array.from({ length: 130 }, (_, i) => i),
        (i) => q.send({ id: `p${i}`, total: i }, { delay: i % 3 === 0 ? "1 hour" : 0 }),
        { concurrency: 16 },
      );
      yield* q.receive({ max: 10 });
      yield* q.moveToDeadLetter((yield* q.list({ state: "ready", limit: 1 })).messages[0]!.id);
      assert.equal(yield* q.purge(), 130);
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });
    }),
);

queueTest("purge by state deletes only that state", ({ makeQueue }) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* sendMany(q, 3);
    yield* q.send({ id: "d", total: 0 }, { delay: "1 hour" });
    assert.equal(yield* q.purge({ state: "delayed" }), 1);
    assert.equal(yield* q.purge({ state: "dead" }), 0);
    assert.equal((yield* q.stats).ready, 3);
  }));

queueTest(
  "a payload that fails its schema at send is a ParseError and nothing is written",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      // deno-lint-ignore no-explicit-any
      const e = yield* fail(q.send({ id: 7, total: "x" } as any));
      assert.equal(e._tag, "ParseError");
      assert.equal((yield* q.stats).ready, 0);
    }),
);

queueTest(
  "a payload over the item limit is PayloadTooLarge and nothing is written",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ compressAbove: false });
      const e = yield* fail(q.send({ id: "x".repeat(410 * 1024), total: 1 }));
      assert.equal(e._tag, "PayloadTooLarge");
      assert.equal((yield* q.stats).ready, 0);
      // Just under the limit (400 KB less the headroom for a lease, attempts and a reason) is fine.
      yield* q.send({ id: "x".repeat(375 * 1024), total: 1 });
      assert.equal((yield* q.receive()).messages[0]!.body.id.length, 375 * 1024);
    }),
);

queueTest(
  "a payload that does not decode at receive goes to the DLQ with the parse error",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const { id } = yield* q.send({ id: "ok", total: 1 });
      // Another producer (or an older schema) wrote a body this schema rejects.
      yield* db.update(table, { pk: `orders#${id}`, sk: "msg" }, { set: { payload: '{"id":1}' } });
      const r = yield* q.receive();
      assert.deepEqual(r.messages, []);
      assert.equal(r.deadLettered[0]?._tag, "UndecodableMessage");
      const info = Option.getOrThrow(yield* q.get(id));
      assert.equal(info.state, "dead");
      assert.equal(info.deadReason?.tag, "UndecodableMessage");
      assert.match(info.deadReason?.message ?? "", /total/);
      assert.ok(Either.isLeft(info.body));
    }),
);

queueTest(
  "an item this library did not write is quarantined, not delivered",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* db.put(table, {
        pk: "orders#alien",
        sk: "msg",
        gpk: "orders#0",
        gsk: "0000000000000#alien",
      });
      yield* q.send({ id: "real", total: 1 });
      const r = yield* q.receive({ max: 5 });
      assert.deepEqual(r.messages.map((m) => m.body.id), ["real"]);
      assert.deepEqual(r.deadLettered.map((e) => [e._tag, e.messageId]), [[
        "UndecodableMessage",
        "alien",
      ]]);
    }),
);

queueTest(
  "invalid options are typed errors and nothing is written",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      for (
        const bad of [
          { name: "bad#name" },
          { name: "" },
          { maxReceives: 0 },
          { shards: 65 },
          { visibilityTimeout: "forever" as never },
          { visibilityTimeout: 0 },
        ]
      ) {
        const e = yield* fail(makeQueue(bad));
        assert.equal((e as { _tag: string })._tag, "InvalidOptions", JSON.stringify(bad));
      }
      const q = yield* makeQueue();
      assert.equal(
        (yield* fail(q.send({ id: "a", total: 1 }, { id: "has#hash" })))._tag,
        "InvalidOptions",
      );
      assert.equal(
        (yield* fail(q.send({ id: "a", total: 1 }, { delay: "soon" as never })))._tag,
        "InvalidOptions",
      );
      assert.equal((yield* q.stats).ready, 0);
    }),
);

queueTest(
  "a missing table is a DynamoDBError with reason TableNotFound",
  ({ makeQueue, db, table }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* db.deleteTable(table);
      const e = yield* fail(q.send({ id: "a", total: 1 }));
      assert.equal(e._tag, "DynamoDBError");
      assert.equal((e as { reason: string }).reason, "TableNotFound");
      assert.match((e as Error).message, /Table\.create/);
      const r = yield* fail(q.receive());
      assert.equal((r as { reason: string }).reason, "TableNotFound");
      yield* Effect.ignore(q.stats);
    }),
);

queueTest("many queues share one table without mixing", ({ makeQueue }) =>
  Effect.gen(function* () {
    const a = yield* makeQueue({ name: "alpha" });
    const b = yield* makeQueue({ name: "beta" });
    yield* sendMany(a, 3);
    yield* sendMany(b, 2);
    assert.equal((yield* a.stats).ready, 3);
    assert.equal((yield* b.receive({ max: 10 })).messages.length, 2);
    assert.equal(yield* b.purge(), 2);
    assert.equal((yield* a.stats).ready, 3);
  }));

queueTest(
  "shards spread messages and receive finds them all",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ shards: 4 });
      const ids = yield* sendMany(q, 40);
      assert.equal((yield* q.stats).ready, 40);
      const got: Array<string> = [];
      for (let i = 0; i < 20 && got.length < 40; i++) {
        got.push(...(yield* q.receive({ max: 7 })).messages.map((m) => m.id));
      }
      assert.deepEqual([...got].sort(), [...ids].sort());
      let listed = 0;
      let cursor: string | undefined = undefined;
      do {
        const page: ListPage<Order> = yield* q.list({
          state: "inflight",
          limit: 6,
          cursor,
        });
        listed += page.messages.length;
        cursor = page.cursor;
      } while (cursor !== undefined);
      assert.equal(listed, 40);
    }),
);

queueTest(
  "B4: concurrent receivers claim every message exactly once, without sleeping",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendMany(q, 40);
      const claimed = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => i),
        () =>
          Effect.gen(function* () {
            const mine: Array<string> = [];
            for (let i = 0; i < 20; i++) {
              const r = yield* q.receive({ max: 3 });
              mine.push(...r.messages.map((m) => m.id));
            }
            return mine;
          }),
        { concurrency: "unbounded" },
      );
      const all = claimed.flat();
      assert.equal(all.length, 40);
      assert.equal(new Set(all).size, 40);
    }),
);

queueTest(
  "B13: the queue's maxReceives is the one applied",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ maxReceives: 1 });
      yield* q.send({ id: "a", total: 1 });
      const m = (yield* q.receive()).messages[0]!;
      yield* q.nack(m);
      assert.equal((yield* q.receive()).deadLettered[0]?._tag, "MaxReceivesExceeded");
    }),
);

queueTest(
  "send carries the sender's trace context to the receiver",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const traceId = yield* Effect.gen(function* () {
        yield* q.send({ id: "t", total: 1 });
        return (yield* Effect.currentSpan).traceId;
      }).pipe(Effect.withSpan("producer"));
      const m = (yield* q.receive()).messages[0]!;
      assert.match(m.traceParent ?? "", new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
    }),
);

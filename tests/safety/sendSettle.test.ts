/**
 * Safety of sending and settling plain messages (issue #14): a write that DynamoDB applied but
 * whose response was lost is retried conditionally and recognised as this caller's own; an item
 * keeps headroom for everything the protocol adds over its life.
 *
 * Each test arms `DynamoDBFaults`' `schedule` so that one chosen call applies and loses its
 * response: `Retried` (the SDK's immediate retry of the same request) or `Fail` after applying
 * (the queue's own retry, or the caller's).
 */
import assert from "node:assert/strict";
import { Effect, Either, Fiber, Option, Schema, type Scope, TestClock } from "effect";
import * as DynamoDBFaults from "../../src/layers/DynamoDBFaults.ts";
import { DynamoDB, type Operation } from "../../src/services/DynamoDB.ts";
import * as Queue from "../../src/services/Queue.ts";
import * as Table from "../../src/services/Table.ts";
import type { ReceivedMessage } from "../../src/schema/Message.ts";
import { type Backend, backends, uniqueTableName } from "../_backends.ts";
import { runWith } from "../_effect.ts";
import { hangGuard } from "../_timing.ts";

const T0 = Date.UTC(2030, 0, 1);

const Body = Schema.Struct({ n: Schema.Number, text: Schema.optional(Schema.String) });
type Body = typeof Body.Type;

interface Ctx {
  readonly backend: Backend;
  readonly table: string;
  /** The table without faults. */
  readonly db: DynamoDB;
  /**
   * The next call of `operation` gets `decision` (the others go through); arming it again queues
   * a decision for the call after.
   */
  readonly arm: (operation: Operation, decision: DynamoDBFaults.FaultDecision) => void;
  /** A queue handle whose calls go through the fault layer. */
  readonly makeQueue: (
    options?: Partial<Omit<Queue.QueueOptions<Body, Body>, "table" | "schema">>,
  ) => Effect.Effect<Queue.Queue<Body>, unknown>;
}

/** The SDK's retry of an applied request whose response was lost. */
const retried: DynamoDBFaults.FaultDecision = { _tag: "Retried", kind: "timeout" };
/** An applied request whose response was lost, reported to the caller as a timeout. */
const lostAfterApplied: DynamoDBFaults.FaultDecision = {
  _tag: "Fail",
  kind: "timeout",
  after: true,
};

const safetyTest = (
  name: string,
  body: (ctx: Ctx) => Effect.Effect<void, unknown, Scope.Scope>,
) => {
  for (const backend of backends) {
    if (backend.name === "dynalite") continue;
    Deno.test(`${backend.name}: ${name}`, () =>
      runWith(
        backend.layer,
        Effect.gen(function* () {
          yield* TestClock.setTime(T0);
          const db = yield* DynamoDB;
          const table = uniqueTableName("safety");
          yield* Table.create(table);
          yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(table)));
          const armed = new Map<Operation, Array<DynamoDBFaults.FaultDecision>>();
          const faulty = yield* DynamoDBFaults.make(db, {
            seed: 1,
            schedule: ({ operation }) => armed.get(operation)?.shift(),
          });
          yield* body({
            backend,
            table,
            db,
            arm: (operation, decision) =>
              void armed.set(operation, [...(armed.get(operation) ?? []), decision]),
            makeQueue: (o) =>
              Queue.make({ table, name: "jobs", schema: Body, ...o }).pipe(
                Effect.provideService(DynamoDB, faulty.service),
              ),
          });
        }),
      ));
  }
};

/**
 * Forks `effect` and returns once it sleeps on the TestClock (a stalled request), so the test
 * can act while the request waits.
 */
const forkUntilAsleep = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const before = (yield* TestClock.sleeps()).length;
    const fiber = yield* Effect.fork(effect);
    while ((yield* TestClock.sleeps()).length === before) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)));
    }
    return fiber;
  });

const receiveOne = (q: Queue.Queue<Body>) =>
  Effect.map(q.receive({ max: 1 }), (r) => {
    assert.equal(r.messages.length, 1);
    return r.messages[0]!;
  });

// ---------------------------------------------------------------------------------------------
// Send: a retry that meets its own applied write succeeds
// ---------------------------------------------------------------------------------------------

safetyTest("send with an id: the SDK's retry meets the applied put, the send succeeds", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    arm("put", retried);
    const r = yield* q.send({ n: 1 }, { id: "order-1" });
    assert.deepEqual(r, { id: "order-1", visibleAt: T0, duplicate: false });
    // A real duplicate is still one.
    const again = yield* Effect.either(q.send({ n: 2 }, { id: "order-1" }));
    assert.ok(Either.isLeft(again) && again.left._tag === "DuplicateMessage");
    const m = yield* receiveOne(q);
    assert.deepEqual(m.body, { n: 1 });
    assert.equal(m.receives, 1);
  }));

safetyTest("send with a generated id: the SDK's retry meets the applied put", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    arm("put", retried);
    const r = yield* q.send({ n: 1 });
    assert.equal(r.duplicate, false);
    assert.equal((yield* receiveOne(q)).id, r.id);
  }));

safetyTest(
  "send: the SDK's retry meets the applied put, which is purged before the send reads it back",
  ({ arm, db, table, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      for (const id of [undefined, "order-1"]) {
        // The put applies and its response is lost; the retry fails its condition; the read-back
        // waits, and meanwhile an admin removes the message.
        arm("put", retried);
        arm("get", { _tag: "Stall", delay: "1 second" });
        const sending = yield* forkUntilAsleep(q.send({ n: 1 }, id === undefined ? {} : { id }));
        const [item] = (yield* q.list({ state: "ready" })).messages;
        yield* db.delete(table, { pk: `jobs#${item!.id}`, sk: "msg" });
        yield* TestClock.adjust("1 second");
        // Before: DuplicateMessage, for a message this very send wrote.
        const r = yield* Fiber.join(sending);
        assert.equal(r.duplicate, false);
        // A generated id was this send's own write, removed since; an explicit id is free again
        // and written anew.
        const left = (yield* q.list({ state: "ready" })).messages.map((m) => m.id);
        assert.deepEqual(left, id === undefined ? [] : [id]);
        if (id !== undefined) yield* q.ack(yield* receiveOne(q));
      }
    }),
);

safetyTest("deduplicated send: the SDK's retry meets its own put, not a duplicate", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    arm("put", retried);
    const r = yield* q.send({ n: 1 }, { deduplicationId: "k1" });
    assert.equal(r.duplicate, false);
    const again = yield* q.send({ n: 1 }, { deduplicationId: "k1" });
    assert.deepEqual(again, { ...r, duplicate: true });
  }));

// ---------------------------------------------------------------------------------------------
// sendBatch: the retry of a batch that may have applied never overwrites (defect 4)
// ---------------------------------------------------------------------------------------------

/** Waits (in real time, for live backends) until a receive returns `n` messages. */
const receiveWhenThere = (q: Queue.Queue<Body>, n: number) =>
  Effect.gen(function* () {
    // A batch's items may become visible one by one (DynamoDB Local): gather them.
    const received: Array<ReceivedMessage<Body>> = [];
    const deadline = Date.now() + hangGuard(10_000);
    while (received.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${received.length} of ${n} arrived`);
      received.push(...(yield* q.receive({ max: 10 })).messages);
      if (received.length < n) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)));
      }
    }
    assert.equal(received.length, n);
    return received;
  });

safetyTest(
  "sendBatch: a batch applied with its response lost is retried without overwriting what a receive did",
  ({ arm, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      // The batch applies and its response is lost; the retry (a put, today) waits for the clock,
      // so that the messages are received and one of them nacked before it.
      arm("batchWrite", lostAfterApplied);
      arm("put", { _tag: "Stall", delay: "1 second" });
      const sending = yield* Effect.fork(
        q.sendBatch([{ body: { n: 1 } }, { body: { n: 2 } }, { body: { n: 3 } }]),
      );
      const received = yield* receiveWhenThere(q, 3);
      const byN = new Map(received.map((m) => [m.body.n, m] as const));
      yield* q.nack(byN.get(2)!, { delay: "1 hour", error: { tag: "E", message: "failed" } });
      yield* TestClock.adjust("10 seconds");
      const results = yield* Fiber.join(sending);
      assert.deepEqual(
        results.map((r) => Either.isRight(r) && !r.right.duplicate),
        [true, true, true],
      );
      assert.deepEqual(
        results.map((r) => Either.getOrThrow(r).id).toSorted(),
        received.map((m) => m.id).toSorted(),
      );
      // The leases held: the in-flight messages are not receivable and their acks succeed.
      assert.equal((yield* q.receive({ max: 10 })).messages.length, 0);
      yield* q.ack(byN.get(1)!);
      yield* q.ack(byN.get(3)!);
      // The nacked message kept its history.
      const nacked = Option.getOrThrow(yield* q.get(byN.get(2)!.id));
      assert.equal(nacked.receives, 1);
      assert.equal(nacked.attempts.length, 1);
      assert.equal(nacked.state, "delayed");
      const stats = yield* q.stats;
      assert.equal(stats.ready + stats.inflight, 0);
    }),
);

// ---------------------------------------------------------------------------------------------
// Settle: a retry that meets the settle's own applied write succeeds
// ---------------------------------------------------------------------------------------------

safetyTest(
  "ack: the SDK's retry meets the applied tombstone write, the ack succeeds",
  ({ arm, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ n: 1 }, { id: "a" });
      const m = yield* receiveOne(q);
      arm("update", retried);
      yield* q.ack(m);
      assert.ok(Option.isNone(yield* q.get("a")));
    }),
);

safetyTest(
  "ack after the resend window: the SDK's retry meets the applied delete, the ack succeeds",
  ({ arm, db, table, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "1 hour" });
      yield* q.send({ n: 1 }, { id: "a" });
      const m = yield* receiveOne(q);
      yield* TestClock.adjust("6 minutes");
      arm("delete", retried);
      yield* q.ack(m);
      // Deleted, not a tombstone: nobody can write it back any more.
      assert.equal(yield* db.get(table, { pk: "jobs#a", sk: "msg" }), undefined);
    }),
);

safetyTest(
  "sendBatch: a batch applied with its response lost, acked before the retry, is not written back",
  ({ arm, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      // The batch applies and its response is lost; the retry waits for the clock, so that the
      // messages are received and acked before it.
      arm("batchWrite", lostAfterApplied);
      arm("put", { _tag: "Stall", delay: "1 second" });
      const sending = yield* Effect.fork(q.sendBatch([{ body: { n: 1 } }, { body: { n: 2 } }]));
      const received = yield* receiveWhenThere(q, 2);
      yield* q.ackBatch(received);
      yield* TestClock.adjust("10 seconds");
      const results = yield* Fiber.join(sending);
      assert.deepEqual(
        results.map((r) => Either.isRight(r) && !r.right.duplicate),
        [true, true],
      );
      // Acked once, and gone: not received again, not counted.
      yield* TestClock.adjust("1 hour");
      assert.equal((yield* q.receive({ max: 10 })).messages.length, 0);
      const stats = yield* q.stats;
      assert.equal(stats.ready + stats.inflight + stats.delayed, 0);
    }),
);

safetyTest(
  "sendBatch: a retry that would start after the resend window reports the ambiguous error",
  ({ db, table }) =>
    Effect.gen(function* () {
      // The batch applies and its connection drops; the first retry times out after two minutes
      // (not applied), so a second retry would start past the resend window: there is none.
      const decisions: { [op in Operation]?: Array<DynamoDBFaults.FaultDecision> } = {
        batchWrite: [{ _tag: "Fail", kind: "dropped", after: true }],
        put: [{ _tag: "Fail", kind: "timeout", after: false }],
      };
      const faulty = yield* DynamoDBFaults.make(db, {
        seed: 1,
        timeoutDelay: "2 minutes",
        schedule: ({ operation }) => decisions[operation]?.shift(),
      });
      const q = yield* Queue.make({ table, name: "jobs", schema: Body }).pipe(
        Effect.provideService(DynamoDB, faulty.service),
      );
      const sending = yield* Effect.fork(q.sendBatch([{ body: { n: 1 } }]));
      while (Option.isNone(yield* Fiber.poll(sending))) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)));
        yield* TestClock.adjust("30 seconds");
      }
      const [result] = yield* Fiber.join(sending);
      assert.ok(result !== undefined && Either.isLeft(result));
      assert.equal(
        result.left._tag === "DynamoDBError" && result.left.detail,
        "injected fault: socket hang up (connection reset) (after the request was applied)",
      );
      assert.equal(decisions.put?.length, 0);
      // The batch did write it: one message, received once.
      assert.equal((yield* q.receive({ max: 10 })).messages.length, 1);
    }),
);

safetyTest("ack within the deduplication window: the retry meets its own tombstone", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.send({ n: 1 }, { deduplicationId: "k" });
    const m = yield* receiveOne(q);
    arm("update", retried);
    yield* q.ack(m);
    assert.equal((yield* q.send({ n: 1 }, { deduplicationId: "k" })).duplicate, true);
  }));

safetyTest(
  "ack: the SDK's retry meets the applied tombstone, replaced by a resend before the read-back",
  ({ arm, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ deduplicationWindow: "1 minute", visibilityTimeout: "1 hour" });
      yield* q.send({ n: 1 }, { deduplicationId: "k" });
      const m = yield* receiveOne(q);
      // Past the deduplication window, within the resend window: the ack leaves a tombstone that
      // a resend with the same key may replace.
      yield* TestClock.adjust("2 minutes");
      arm("update", retried);
      arm("get", { _tag: "Stall", delay: "1 second" });
      const acking = yield* forkUntilAsleep(q.ack(m));
      const resent = yield* q.send({ n: 2 }, { deduplicationId: "k" });
      assert.equal(resent.duplicate, false);
      yield* TestClock.adjust("1 second");
      // Before: LeaseLost, for an ack that applied.
      yield* Fiber.join(acking);
      assert.deepEqual((yield* receiveOne(q)).body, { n: 2 });
    }),
);

safetyTest(
  "ack: a lease taken over is still LeaseLost",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ n: 1 }, { id: "a" });
      const first = (yield* q.receive({ max: 1, visibilityTimeout: "1 second" })).messages[0]!;
      yield* TestClock.adjust("2 seconds");
      const second = yield* receiveOne(q);
      const stale = yield* Effect.either(q.ack(first));
      assert.ok(Either.isLeft(stale) && stale.left._tag === "LeaseLost");
      yield* q.ack(second);
      // Gone under someone else's ack: the stale holder's ack finds nothing of its own either.
      assert.ok(Option.isNone(yield* q.get("a")));
    }),
);

safetyTest("nack: the SDK's retry meets the applied update, the nack succeeds", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.send({ n: 1 }, { id: "a" });
    const m = yield* receiveOne(q);
    arm("update", retried);
    yield* q.nack(m, { error: { tag: "Boom", message: "it broke" } });
    const info = Option.getOrThrow(yield* q.get("a"));
    assert.equal(info.state, "ready");
    assert.deepEqual(info.attempts.map((a) => a.tag), ["Boom"]);
    // Received again at once: the nack's retry still recognises its own attempt.
    assert.equal((yield* receiveOne(q)).receives, 2);
  }));

safetyTest("release: the SDK's retry meets the applied update, the release succeeds", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.send({ n: 1 }, { id: "a" });
    const m = yield* receiveOne(q);
    arm("update", retried);
    yield* q.release(m);
    const info = Option.getOrThrow(yield* q.get("a"));
    assert.equal(info.state, "ready");
    assert.equal(info.receives, 0);
  }));

safetyTest("deadLetter: the SDK's retry meets the applied update, it succeeds", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.send({ n: 1 }, { id: "a" });
    const m = yield* receiveOne(q);
    arm("update", retried);
    yield* q.deadLetter(m, { tag: "Poison", message: "cannot parse" });
    const info = Option.getOrThrow(yield* q.get("a"));
    assert.equal(info.state, "dead");
    assert.equal(info.deadReason?.tag, "Poison");
  }));

safetyTest("ackBatch in a transaction: the retry of an applied transaction reports success", (
  { arm, makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue();
    yield* q.sendBatch([{ body: { n: 1 } }, { body: { n: 2 } }]);
    const ms = (yield* q.receive({ max: 10 })).messages;
    assert.equal(ms.length, 2);
    arm("transactWrite", retried);
    const results = yield* q.ackBatch(ms, { transaction: true });
    assert.deepEqual(results.map(Either.isRight), [true, true]);
    const stats = yield* q.stats;
    assert.equal(stats.ready + stats.inflight + stats.delayed + stats.dead, 0);
  }));

// ---------------------------------------------------------------------------------------------
// Size: an item keeps headroom for everything the protocol adds over its life (defect 5)
// ---------------------------------------------------------------------------------------------

safetyTest("a message that would leave no room for a lease and a history is PayloadTooLarge", (
  { makeQueue },
) =>
  Effect.gen(function* () {
    const q = yield* makeQueue({ compressAbove: false, maxReceives: 50 });
    // Fits in 400 KB as sent, but not with what a receive, nacks and a dead-lettering add.
    const tooBig = yield* Effect.either(q.send({ n: 1, text: "x".repeat(409_000) }));
    assert.ok(Either.isLeft(tooBig) && tooBig.left._tag === "PayloadTooLarge", String(tooBig));
    const { bytes, limit } = tooBig.left;
    assert.ok(limit < 409_600 - 20_000 && bytes > limit, `${bytes} > ${limit}`);
    // The largest message that is accepted lives its whole life: received, nacked with long
    // failures (3-byte characters), received again, dead-lettered with a long reason.
    const text = "x".repeat(409_000 - (bytes - limit));
    yield* q.send({ n: 2, text }, { id: "big" });
    const long = { tag: "€".repeat(5_000), message: "€".repeat(50_000) };
    for (let i = 0; i < 12; i++) {
      const m = yield* receiveOne(q);
      yield* q.nack(m, { error: long });
    }
    const m = yield* receiveOne(q);
    yield* q.deadLetter(m, long);
    const info = Option.getOrThrow(yield* q.get("big"));
    assert.equal(info.state, "dead");
    assert.equal(info.attempts.length, 10);
    assert.equal(info.attempts[0]!.tag.length, 100);
    assert.equal(info.attempts[0]!.message.length, 500);
    assert.equal(info.deadReason?.message.length, 500);
    yield* q.redrive("big");
    assert.equal((yield* receiveOne(q)).body.text?.length, text.length);
  }));

/**
 * The rule for a settle after the visibility timeout, as in SQS: the lease token, not the clock,
 * fences every operation on a received message (`lease = <token> AND state = inflight`). A holder
 * whose visibility timeout has passed may still ack, nack, extend or release the message as long
 * as no receive has taken it since; once another receive has claimed it (or dead-lettered it), the
 * late settle fails with `LeaseLost`.
 */
import assert from "node:assert/strict";
import { Effect, Option, TestClock } from "effect";
import { queueTest } from "./_queue.ts";

const VISIBILITY = 30_000;

queueTest(
  "a late ack succeeds when no receive took the message since",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: VISIBILITY });
      yield* q.send({ id: "a", total: 1 }, { id: "a" });
      const m = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust(VISIBILITY + 60_000);
      // The message is receivable again, but nobody received it: the old lease still holds.
      yield* q.ack(m);
      assert.ok(Option.isNone(yield* q.get("a")));
      assert.deepEqual(yield* q.receive(), { messages: [], deadLettered: [] });
    }),
);

queueTest(
  "a late extend or release works too while no receive took the message",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: VISIBILITY });
      yield* q.send({ id: "a", total: 1 }, { id: "a" });
      const m = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust(VISIBILITY + 1);
      // Extending after the timeout hides the message again…
      yield* q.changeVisibility(m, "1 minute");
      assert.equal((yield* q.receive()).messages.length, 0);
      // … and releasing hands it back at once, without counting the receive.
      yield* q.release(m);
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.id, "a");
      assert.equal(again.receives, 1);
    }),
);

queueTest(
  "a late ack fails with LeaseLost once another receive took the message",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: VISIBILITY });
      yield* q.send({ id: "a", total: 1 }, { id: "a" });
      const first = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust(VISIBILITY);
      const second = (yield* q.receive()).messages[0]!;
      assert.equal(second.id, "a");
      const lost = yield* Effect.flip(q.ack(first));
      assert.equal(lost._tag, "LeaseLost");
      // The message is still there, for its new holder.
      yield* q.ack(second);
      assert.ok(Option.isNone(yield* q.get("a")));
    }),
);

queueTest(
  "a late ack fails with LeaseLost once a receive dead-lettered the message",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: VISIBILITY, maxReceives: 1 });
      yield* q.send({ id: "a", total: 1 }, { id: "a" });
      const m = (yield* q.receive()).messages[0]!;
      yield* TestClock.adjust(VISIBILITY);
      const next = yield* q.receive();
      assert.deepEqual(next.messages, []);
      assert.deepEqual(next.deadLettered.map((e) => e._tag), ["MaxReceivesExceeded"]);
      assert.equal((yield* Effect.flip(q.ack(m)))._tag, "LeaseLost");
    }),
);

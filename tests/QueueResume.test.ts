/**
 * `Queue.resume`: a received message rebuilt from its id and lease token, as another process
 * (the CLI's `ack --lease`) settles it. It reads only; it holds exactly while the lease does.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { queueTest } from "./_queue.ts";

queueTest(
  "resume rebuilds the received message under its lease, and the rebuilt one settles it",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({});
      yield* q.send({ id: "a", total: 7 }, { deduplicationId: "key-a" });
      const m = (yield* q.receive()).messages[0]!;
      const resumed = yield* q.resume(m.id, m.lease);
      assert.deepEqual(
        { ...resumed, traceParent: undefined },
        { ...m, traceParent: undefined },
      );
      yield* q.ack(resumed);
      assert.equal((yield* Effect.flip(q.resume(m.id, m.lease)))._tag, "MessageNotFound");
    }),
);

queueTest(
  "resume refuses a lease that does not hold the message, and a malformed id",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({});
      yield* q.send({ id: "b", total: 1 }, { id: "b" });
      assert.equal((yield* Effect.flip(q.resume("b", "not-a-lease")))._tag, "LeaseLost");
      const m = (yield* q.receive()).messages[0]!;
      assert.equal((yield* Effect.flip(q.resume("b", "not-a-lease")))._tag, "LeaseLost");
      yield* q.release(m);
      assert.equal((yield* Effect.flip(q.resume("b", m.lease)))._tag, "LeaseLost");
      assert.equal((yield* Effect.flip(q.resume("..", m.lease)))._tag, "InvalidOptions");
    }),
);

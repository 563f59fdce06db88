/**
 * Safety of the FIFO message-group protocol (issue #14): each test replays, deterministically,
 * an interleaving or a fault that once lost, duplicated, stranded or double-delivered a grouped
 * message (defects 1, 2, 6, 9, S1, S2 and the split's review), on every backend. Transaction-only
 * paths are gated on `backend.transactions`; dynalite's answer is checked beside them.
 */
import assert from "node:assert/strict";
import { Effect, Either, Exit, Option, TestClock } from "effect";
import { DynamoDBError } from "../../src/Errors.ts";
import { DynamoDB } from "../../src/services/DynamoDB.ts";
import * as Queue from "../../src/services/Queue.ts";
import type { ReceivedMessage } from "../../src/schema/Message.ts";
import { Order, queueTest, T0 } from "../_queue.ts";

type Op = "put" | "update" | "delete" | "transactWrite" | "query" | "get";
const writes: ReadonlySet<Op> = new Set(["put", "update", "delete", "transactWrite"]);

/**
 * The port with every call passed through `around(op, args, call)`, which may run something
 * before or after `call`, run it twice, or fail instead of running it.
 */
// deno-lint-ignore no-explicit-any
type AnyCall = Effect.Effect<any, any>;

const hooked = (
  db: DynamoDB,
  around: (
    op: Op,
    args: ReadonlyArray<unknown>,
    call: AnyCall,
  ) => AnyCall,
): DynamoDB => ({
  ...db,
  get: (...a) => around("get", a, db.get(...a)),
  put: (...a) => around("put", a, db.put(...a)),
  update: (...a) => around("update", a, db.update(...a)),
  delete: (...a) => around("delete", a, db.delete(...a)),
  query: (...a) => around("query", a, db.query(...a)),
  transactWrite: (...a) => around("transactWrite", a, db.transactWrite(...a)),
});

/** Whether a call writes the queue catalog (`Queue.make` registers the queue), not a message. */
const catalog = (op: Op, args: ReadonlyArray<unknown>): boolean =>
  (op === "put" || op === "update" || op === "delete") &&
  (args[1] as { pk?: unknown }).pk === "#queues";

const makeOn = (table: string, db: DynamoDB, o?: Partial<Queue.QueueOptions<Order, Order>>) =>
  Queue.make({ table, name: "orders", schema: Order, ...o }).pipe(
    Effect.provideService(DynamoDB, db),
  );

const transport = new DynamoDBError({
  operation: "test",
  reason: "Transport",
  retryable: true,
  detail: "injected: connection dropped",
});

queueTest(
  "FIFO safety (1): two concurrent moveToDeadLetter of one grouped message never delete it",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const { id } = yield* q.send({ id: "a", total: 1 }, { group: "G" });
      let fired = false;
      // B moves the message completely right after A's first write.
      const a = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          !writes.has(op) || catalog(op, args) || fired ? call : Effect.ensuring(
            call,
            Effect.suspend(() => {
              fired = true;
              return Effect.ignore(q.moveToDeadLetter(id));
            }),
          )),
      );
      yield* Effect.ignore(a.moveToDeadLetter(id));
      const info = Option.getOrThrow(yield* q.get(id));
      assert.equal(info.state, "dead");
      assert.equal((yield* q.stats).dead, 1);
    }),
);

queueTest(
  "FIFO safety (2): a consumer whose group lease expired cannot take the head from the current holder",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "10 seconds" });
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      let second: ReadonlyArray<ReceivedMessage<Order>> = [];
      let fired = false;
      // C1 claims the group, then stalls past its lease while C2 claims the group and its head.
      const c1 = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          op !== "update" || fired || (args[1] as { sk?: string }).sk !== "group"
            ? call
            : Effect.tap(call, () =>
              Effect.gen(function* () {
                fired = true;
                yield* TestClock.adjust("11 seconds");
                second = (yield* q.receive()).messages;
              }))),
        { visibilityTimeout: "10 seconds" },
      );
      const first = (yield* c1.receive()).messages;
      assert.equal(second.length, 1);
      assert.deepEqual(first, []);
      yield* q.ack(second[0]!);
    }),
);

queueTest(
  "FIFO safety (6): a grouped deadLetter failing after its first write is never redelivered",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "10 seconds" });
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.send({ id: "a1", total: 1 }, { group: "G" });
      let applied = 0;
      let failed = false;
      const faulty = yield* makeOn(
        table,
        hooked(db, (op, args, call) => {
          if (!writes.has(op) || catalog(op, args)) return call;
          if (applied > 0 && !failed) {
            failed = true;
            return Effect.fail(transport);
          }
          return Effect.tap(call, () => void applied++);
        }),
        { visibilityTimeout: "10 seconds" },
      );
      const m = (yield* q.receive()).messages[0]!;
      assert.equal(m.body.id, "a0");
      yield* Effect.ignore(faulty.deadLetter(m, { tag: "Fatal", message: "no" }));
      yield* TestClock.adjust("11 seconds");
      const next = (yield* q.receive()).messages;
      assert.deepEqual(next.map((x) => x.body.id), ["a1"]);
      yield* q.ack(next[0]!);
      assert.equal(Option.getOrThrow(yield* q.get(m.id)).state, "dead");
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 1,
        oldestReadyAge: 0,
      });
    }),
);

queueTest(
  "FIFO safety (6): a grouped redrive failing after its first write leaves it live or dead, not both",
  ({ backend, table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const { id } = yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.moveToDeadLetter(id);
      let applied = 0;
      let failed = false;
      const faulty = yield* makeOn(
        table,
        hooked(db, (op, args, call) => {
          if (!writes.has(op) || catalog(op, args)) return call;
          if (applied > 0 && !failed) {
            failed = true;
            return Effect.fail(transport);
          }
          return Effect.tap(call, () => void applied++);
        }),
      );
      const redriven = yield* Effect.either(faulty.redrive(id));
      if (!backend.transactions) {
        // No safe stepwise redrive of a grouped message: a typed refusal, nothing written.
        assert.equal(redriven._tag, "Left");
        assert.equal((redriven.left as DynamoDBError).reason, "Unsupported");
        assert.equal(Option.getOrThrow(yield* q.get(id)).state, "dead");
        assert.deepEqual((yield* q.receive()).messages, []);
        return;
      }
      const back = (yield* q.receive()).messages;
      assert.deepEqual(back.map((m) => m.id), [id]);
      yield* q.ack(back[0]!);
      assert.equal((yield* q.stats).dead, 0);
      assert.equal(Option.isNone(yield* q.get(id)), true);
    }),
);

queueTest(
  "FIFO safety (9): a late sender's message is received after its group gave up waiting for it",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      let fired = false;
      // The sender stalls between taking its sequence number and writing its message, longer
      // than the group waits for a gap.
      const slow = yield* makeOn(
        table,
        hooked(db, (op, _args, call) =>
          op !== "put" || fired ? call : Effect.zipRight(
            Effect.gen(function* () {
              fired = true;
              assert.deepEqual((yield* q.receive()).messages, []);
              yield* TestClock.adjust("6 minutes");
              assert.deepEqual((yield* q.receive()).messages, []);
            }),
            call,
          )),
      );
      yield* slow.send({ id: "late", total: 0 }, { group: "G" });
      const got = (yield* q.receive()).messages;
      assert.deepEqual(got.map((m) => m.body.id), ["late"]);
    }),
);

queueTest(
  "FIFO safety (S1): a grouped send whose put applied but whose response was lost is written once",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      let fired = false;
      // The put applies, its response is lost and the SDK sends it again (ConditionFailed).
      const lossy = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          op !== "put" || fired ? call : Effect.zipRight(
            Effect.sync(() => void (fired = true)),
            Effect.zipRight(call, db.put(...(args as Parameters<DynamoDB["put"]>))),
          )),
      );
      const sent = yield* lossy.send({ id: "once", total: 0 }, { group: "G" });
      const got = (yield* q.receive({ max: 10 })).messages;
      assert.deepEqual(got.map((m) => m.id), [sent.id]);
      yield* q.ack(got[0]!);
      assert.deepEqual((yield* q.receive({ max: 10 })).messages, []);
      const s = yield* q.stats;
      assert.equal(s.ready + s.delayed + s.inflight + s.dead, 0);
    }),
);

queueTest(
  "FIFO safety (S2): a redrive racing a consumer that found the group empty is still received",
  ({ backend, table, db, makeQueue }) =>
    Effect.gen(function* () {
      if (!backend.transactions) return; // grouped redrive needs transactions (tested above)
      const q = yield* makeQueue();
      const { id } = yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.moveToDeadLetter(id);
      let fired = false;
      let heads = 0;
      // The consumer reads the (empty) head a second time, just before it releases the group as
      // empty; the redrive lands in between.
      const c = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          op !== "query" || fired || (args[1] as { index?: string }).index !== undefined ||
            ++heads < 2
            ? call
            : Effect.tap(call, () =>
              Effect.suspend(() => {
                fired = true;
                return q.redrive(id);
              }))),
      );
      assert.deepEqual((yield* c.receive()).messages, []);
      assert.equal(fired, true);
      const got = (yield* q.receive()).messages;
      assert.deepEqual(
        got.map((m) =>
          m.id
        ),
        [id],
      );
    }),
);

queueTest(
  "FIFO safety: deleting an in-flight grouped head frees its group at once",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "30 seconds" });
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.send({ id: "a1", total: 1 }, { group: "G" });
      const m = (yield* q.receive()).messages[0]!;
      yield* q.delete(m.id);
      assert.deepEqual((yield* q.receive()).messages.map((x) => x.body.id), ["a1"]);
    }),
);

queueTest(
  "FIFO safety: a head whose receive count is not a number is quarantined, not stuck",
  ({ db, table, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      const { id } = yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.send({ id: "a1", total: 1 }, { group: "G" });
      const pk = "orders#g#G";
      const sk = `m#${id.split(".")[0]}`;
      yield* db.update(table, { pk, sk }, { set: { receives: "bad" } });
      const r = yield* q.receive();
      assert.deepEqual(r.deadLettered.map((e) => [e._tag, e.messageId]), [[
        "UndecodableMessage",
        id,
      ]]);
      assert.deepEqual(r.messages.map((m) => m.body.id), ["a1"]);
    }),
);

queueTest(
  "FIFO safety: a sender that takes its number as the group leaves the index still wakes it",
  ({ backend, table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      const held = (yield* q.receive()).messages[0]!;
      let updates = 0;
      let put = false;
      // The sender's first update finds the group in the index (held); before its second, the
      // holder acks and takes the empty group out of the index. By the write of its message the
      // allocation alone must have put the group back; after it the sender stops (without
      // transactions its count of the write fails; with them the count is part of that write).
      const sender = yield* makeOn(
        table,
        hooked(db, (op, args, call) => {
          if (!writes.has(op) || catalog(op, args)) return call;
          if (op === "put" || op === "transactWrite") {
            return db.get(table, { pk: "orders#g#G", sk: "group" }).pipe(
              Effect.tap((g) => assert.equal(typeof g?.gpk, "string", "the group is in the index")),
              Effect.zipRight(call),
              Effect.tap(() => void (put = true)),
            );
          }
          if (put) return Effect.fail(transport);
          return ++updates === 1 ? Effect.ensuring(call, Effect.ignore(q.ack(held))) : call;
        }),
      );
      const sent = yield* Effect.either(sender.send({ id: "a1", total: 1 }, { group: "G" }));
      assert.equal(sent._tag, backend.transactions ? "Right" : "Left");
      assert.equal(put, true);
      const got = (yield* q.receive()).messages;
      assert.deepEqual(got.map((m) => m.body.id), ["a1"]);
    }),
);

queueTest(
  "FIFO safety: a consumer that lost its group cannot extend its message while a redriven head is held",
  ({ backend, makeQueue }) =>
    Effect.gen(function* () {
      if (!backend.transactions) return; // grouped redrive needs transactions (tested above)
      const q = yield* makeQueue({ visibilityTimeout: "1 second" });
      const { id: first } = yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.send({ id: "a1", total: 1 }, { group: "G" });
      yield* q.deadLetter((yield* q.receive()).messages[0]!, { tag: "Test", message: "dead" });
      // A holds a1; a0 is redriven ahead of it; A's lease runs out and B takes the group: a0.
      const a = (yield* q.receive()).messages[0]!;
      assert.equal(a.body.id, "a1");
      yield* q.redrive(first);
      yield* TestClock.adjust("2 seconds");
      const b = (yield* q.receive()).messages;
      assert.deepEqual(b.map((m) => m.body.id), ["a0"]);
      // A's heartbeat must neither apply nor leave a1 held beside a0.
      const beat = yield* Effect.either(q.changeVisibility(a, "30 seconds"));
      assert.equal(beat._tag === "Left" && beat.left._tag, "LeaseLost");
      const info = Option.getOrThrow(yield* q.get(a.id));
      assert.notEqual(info.state, "inflight");
    }),
);

queueTest(
  "FIFO safety: a late sender's message written between a consumer's head read and its claim is delivered first",
  ({ backend, table, db, makeQueue }) =>
    Effect.gen(function* () {
      // Without transactions a head claim checks no counters: a late put can still land in that
      // window there (docs/design.md, "Taken but never written").
      if (!backend.transactions) return;
      const q = yield* makeQueue();
      let late: AnyCall | undefined;
      let wrote: Exit.Exit<unknown, unknown> | undefined;
      // C reads its group's head (b), and S1's write of a (sequence 0) lands before C's claim.
      const c = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          op !== "query" || late === undefined ||
            (args[1] as { index?: string }).index !== undefined
            ? call
            : Effect.tap(call, () =>
              Effect.suspend(() => {
                const write = late!;
                late = undefined;
                return Effect.asVoid(write);
              }))),
      );
      // S1 has taken sequence number 0 for a and stalls before writing it, while S2 sends b
      // (sequence 1) and C receives.
      const s1 = yield* makeOn(
        table,
        hooked(db, (op, args, call) => {
          if ((op !== "put" && op !== "transactWrite") || catalog(op, args) || wrote) return call;
          return Effect.gen(function* () {
            wrote = Exit.void;
            late = Effect.tap(Effect.exit(call), (exit) => void (wrote = exit));
            yield* q.send({ id: "b", total: 1 }, { group: "G" });
            const got = (yield* c.receive()).messages;
            assert.deepEqual(got.map((m) => m.body.id), ["a"], "a is ahead of b in its group");
            yield* q.ack(got[0]!);
            if (late !== undefined) yield* late;
            return yield* (wrote as Exit.Exit<unknown, unknown>);
          });
        }),
      );
      yield* s1.send({ id: "a", total: 0 }, { group: "G" });
      const next = (yield* q.receive()).messages;
      assert.deepEqual(next.map((m) => m.body.id), ["b"]);
      yield* q.ack(next[0]!);
      const s = yield* q.stats;
      assert.equal(s.ready + s.delayed + s.inflight + s.dead, 0);
    }),
);

/** Whether a call is the claim of a group's head: its transaction, or (dynalite) its update. */
const headClaim = (op: Op, args: ReadonlyArray<unknown>): boolean =>
  op === "transactWrite"
    ? (args[0] as ReadonlyArray<{ key?: { sk?: string } }>).some((i) =>
      i.key?.sk?.startsWith("m#") === true
    )
    : op === "update" && (args[1] as { sk?: string }).sk?.startsWith("m#") === true;

queueTest(
  "FIFO safety: a head claim whose response was lost is read back and delivered, not left held",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "10 seconds" });
      const { id } = yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      let lost = false;
      const c = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          lost || !headClaim(op, args)
            ? call
            : Effect.zipRight(call, Effect.suspend(() => (lost = true, Effect.fail(transport))))),
        { visibilityTimeout: "10 seconds" },
      );
      const got = (yield* c.receive()).messages;
      assert.equal(lost, true);
      assert.deepEqual(got.map((m) => [m.id, m.receives]), [[id, 1]]);
      yield* q.ack(got[0]!);
      const s = yield* q.stats;
      assert.equal(s.ready + s.delayed + s.inflight + s.dead, 0);
    }),
);

queueTest(
  "FIFO safety: a head claim that cannot be read back is released uncounted",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "10 seconds", maxReceives: 2 });
      const { id } = yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      let lost = false;
      let reads = 0;
      // The claim applies and its response is lost; the read-back fails too (once).
      const c = yield* makeOn(
        table,
        hooked(db, (op, args, call) => {
          if (!lost && headClaim(op, args)) {
            return Effect.zipRight(
              call,
              Effect.suspend(() => (lost = true, Effect.fail(transport))),
            );
          }
          if (lost && op === "get" && reads++ === 0) return Effect.fail(transport);
          return call;
        }),
        { visibilityTimeout: "10 seconds" },
      );
      const r = yield* Effect.either(c.receive());
      assert.equal(lost, true);
      assert.equal(Either.isRight(r) ? r.right.messages.length : 0, 0);
      const info = Option.getOrThrow(yield* q.get(id));
      assert.deepEqual([info.state, info.receives], ["ready", 0]);
      // Once the group's lease ends, the head is delivered as its first receive.
      yield* TestClock.adjust("11 seconds");
      const got = (yield* q.receive()).messages;
      assert.deepEqual(got.map((m) => [m.id, m.receives]), [[id, 1]]);
    }),
);

queueTest(
  "FIFO safety: a head claimed long after its group gets a full lease, and its group is held as long",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "10 seconds" });
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.send({ id: "a1", total: 1 }, { group: "G" });
      let slow = false;
      // Six seconds pass between the claim of the group and the claim of its head.
      const c = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          slow || op !== "update" || (args[1] as { sk?: string }).sk !== "group"
            ? call
            : Effect.tap(call, () => (slow = true, TestClock.adjust("6 seconds")))),
        { visibilityTimeout: "10 seconds" },
      );
      const m = (yield* c.receive()).messages[0]!;
      assert.equal(slow, true);
      assert.equal(m.visibleAt, T0 + 16_000, "the lease runs 10 seconds from the head's claim");
      // Past the group's first lease expiry, but within the head's: the group stays held.
      yield* TestClock.adjust("5 seconds");
      assert.deepEqual((yield* q.receive()).messages, []);
      assert.equal(yield* q.changeVisibility(m, "10 seconds"), T0 + 21_000);
      yield* q.ack(m);
      assert.deepEqual(
        (yield* q.receive()).messages.map((x) =>
          x.body.id
        ),
        ["a1"],
      );
    }),
);

queueTest(
  "FIFO safety: a grouped ack whose delete applied but whose response was lost (the retry met it) succeeds",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      yield* q.send({ id: "a1", total: 1 }, { group: "G" });
      let retried = false;
      // The delete applies, its response is lost and the SDK sends it again: ConditionFailed.
      const c = yield* makeOn(
        table,
        hooked(db, (op, args, call) =>
          op !== "delete" || retried || catalog(op, args) ? call : Effect.zipRight(
            Effect.sync(() =>
              void (retried = true)
            ),
            Effect.zipRight(call, db.delete(...(args as Parameters<DynamoDB["delete"]>))),
          )),
      );
      const m = (yield* c.receive()).messages[0]!;
      assert.equal(m.body.id, "a0");
      yield* c.ack(m);
      assert.equal(retried, true);
      // The group was handed back under the ack's lease: its next message is due at once.
      assert.deepEqual((yield* q.receive()).messages.map((x) => x.body.id), ["a1"]);
    }),
);

queueTest(
  "FIFO safety: a grouped ack of a message dead-lettered meanwhile by another holder is LeaseLost",
  ({ makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ visibilityTimeout: "10 seconds" });
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      const m = (yield* q.receive()).messages[0]!;
      // Its lease runs out; another consumer receives it and dead-letters it (it leaves its group
      // for its own key), then the first one acks.
      yield* TestClock.adjust("11 seconds");
      const again = (yield* q.receive()).messages[0]!;
      assert.equal(again.id, m.id);
      yield* q.deadLetter(again, { tag: "Fatal", message: "no" });
      const acked = yield* Effect.either(q.ack(m));
      assert.equal(Either.isLeft(acked) && acked.left._tag, "LeaseLost");
      assert.equal(Option.getOrThrow(yield* q.get(m.id)).state, "dead");
    }),
);

queueTest(
  "FIFO safety: a grouped send whose group keeps entering and leaving the index gives up, retryable, having taken no number",
  ({ table, db, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* q.send({ id: "a0", total: 0 }, { group: "G" });
      const groupKey = { pk: "orders#g#G", sk: "group" };
      let moves = 0;
      // Before each conditional update of the group item, another party moves the group into
      // the ready index (the update assumed it out) or out of it (the update assumed it in).
      const s = yield* makeOn(
        table,
        hooked(db, (op, args, call) => {
          const key = args[1] as { pk?: unknown; sk?: unknown };
          const attribute = (args[3] as { condition?: { attribute?: unknown } } | undefined)
            ?.condition?.attribute;
          if (op !== "update" || key.pk !== groupKey.pk || attribute !== "gpk") return call;
          moves++;
          const assumedOut = (args[3] as { condition: { _tag: string } }).condition._tag ===
            "NotExists";
          return Effect.zipRight(
            db.update(
              table,
              groupKey,
              assumedOut ? { set: { gpk: "elsewhere", gsk: "0" } } : { remove: ["gpk", "gsk"] },
            ),
            call,
          );
        }),
      );
      const before = yield* db.get(table, groupKey);
      const sent = yield* Effect.either(s.send({ id: "a1", total: 1 }, { group: "G" }));
      assert.ok(Either.isLeft(sent) && sent.left._tag === "DynamoDBError", Deno.inspect(sent));
      assert.equal(sent.left.reason, "TransactionConflict");
      assert.equal(sent.left.retryable, true);
      assert.match(sent.left.message, /could not take a sequence number/);
      assert.equal(moves, 20);
      assert.equal((yield* db.get(table, groupKey))?.next, before?.next);
    }),
);

/**
 * Safety of inspection, input validation and purge (issue #14), on every backend:
 * - every loop over pages makes progress and has a bound, and a cursor `list` did not issue is
 *   `InvalidOptions` (defect 8);
 * - NaN, negative and out-of-range durations and times, and malformed ids, are `InvalidOptions`
 *   with nothing written (defect 11);
 * - `get` reports a failed read as a `DynamoDBError`, not as "not found";
 * - purge's batch deletes retry a bounded number of times and say what was left.
 */
import assert from "node:assert/strict";
import { type Duration, Effect, Fiber, Option, TestClock } from "effect";
import * as Consumer from "../../src/services/Consumer.ts";
import { DynamoDBError, InvalidOptions } from "../../src/Errors.ts";
import { DynamoDB, type Key } from "../../src/services/DynamoDB.ts";
import * as Queue from "../../src/services/Queue.ts";
import { type Ctx, Order, queueTest, T0 } from "../_queue.ts";

const flip = <E>(eff: Effect.Effect<unknown, E>) => Effect.flip(eff);

const cursorOf = (json: unknown): string =>
  btoa(JSON.stringify(json)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

/** A queue handle over a DynamoDB wrapped by `wrap`, on the test's table. */
const queueOver = (
  ctx: Ctx,
  wrap: (db: DynamoDB) => DynamoDB,
  options: Partial<Omit<Queue.QueueOptions<Order, Order>, "table" | "schema">> = {},
) =>
  Queue.make({ table: ctx.table, name: "orders", schema: Order, ...options }).pipe(
    Effect.provideService(DynamoDB, wrap(ctx.db)),
  );

const assertInvalid = (e: unknown, option: string, label = option) => {
  assert.ok(e instanceof InvalidOptions, `${label}: got ${String(e)}`);
  assert.equal(e.option, option, label);
};

// --- defect 8: cursors and page loops ------------------------------------------------------------

queueTest(
  "list refuses a cursor it did not issue, instead of an endless empty page",
  (ctx) =>
    Effect.gen(function* () {
      const q = yield* ctx.makeQueue();
      yield* q.send({ id: "a", total: 1 });
      yield* q.send({ id: "b", total: 2 });
      const issued = (yield* q.list({ state: "ready", limit: 1 })).cursor!;
      const key = JSON.parse(atob(issued.replaceAll("-", "+").replaceAll("_", "/"))).key;
      const bad = [
        "garbage",
        "x".repeat(5000),
        cursorOf({ partition: 0 }), // the old format, without a state
        cursorOf({ state: "ready", partition: 7 }), // partition out of range
        cursorOf({ state: "ready", partition: -1 }),
        cursorOf({ state: "ready", partition: 0.5 }),
        cursorOf({ state: "ready", partition: 0, extra: 1 }),
        cursorOf({ state: "ready", partition: 0, key: { ...key, pk: "other#a" } }), // another queue
        cursorOf({ state: "ready", partition: 0, key: { ...key, gpk: "orders#dead" } }),
        cursorOf({ state: "ready", partition: 0, key: { ...key, gsk: 5 } }),
        cursorOf({ state: "ready", partition: 0, key: { pk: key.pk, sk: key.sk } }),
      ];
      for (const cursor of bad) {
        assertInvalid(yield* flip(q.list({ state: "ready", cursor })), "cursor", cursor);
      }
      // A cursor of one state is refused by another.
      assertInvalid(yield* flip(q.list({ state: "delayed", cursor: issued })), "cursor");
      assertInvalid(yield* flip(q.list({ state: "dead", cursor: issued })), "cursor");
      // A state that is none of the four.
      assertInvalid(yield* flip(q.list({ state: "nope" as "ready" })), "state");
      // The cursor it issued still works.
      const rest = yield* q.list({ state: "ready", cursor: issued });
      assert.deepEqual(rest.messages.map((m) => m.id).length, 1);
    }),
);

queueTest(
  "a cursor of another shape of queue is refused, a delayed key now due resumes",
  (ctx) =>
    Effect.gen(function* () {
      const wide = yield* ctx.makeQueue({ shards: 2 });
      // Shards are drawn at random: with 40 messages both hold some (all in one: 2 in 2^40).
      const sent = 40;
      for (let i = 0; i < sent; i++) yield* wide.send({ id: `w${i}`, total: i });
      // Walk to a cursor in the second partition.
      let cursor: string | undefined = undefined;
      for (let i = 0; i < sent; i++) {
        const page: Queue.ListPage<Order> = yield* wide.list({ state: "ready", limit: 1, cursor });
        cursor = page.cursor;
        const at = JSON.parse(atob(cursor!.replaceAll("-", "+").replaceAll("_", "/")));
        if (at.partition === 1) break;
      }
      // A queue's shards cannot change (its definition is stored), but a cursor can reach a
      // 1-shard queue: there partition 1 is the grouped partition, and the key is not under it.
      const narrow = yield* ctx.makeQueue({ name: "narrow", shards: 1 });
      assertInvalid(yield* flip(narrow.list({ state: "ready", cursor })), "cursor");

      const q = yield* ctx.makeQueue({ name: "later" });
      yield* q.send({ id: "d1", total: 1 }, { id: "d1", delay: "1 minute" });
      yield* q.send({ id: "d2", total: 2 }, { id: "d2", delay: "2 minutes" });
      yield* q.send({ id: "d3", total: 3 }, { id: "d3", delay: "3 minutes" });
      const first = yield* q.list({ state: "delayed", limit: 1 });
      assert.deepEqual(first.messages.map((m) => m.id), ["d1"]);
      // d1 and d2 become due: the cursor's key is now below the delayed range.
      yield* TestClock.adjust("150 seconds");
      const next = yield* q.list({ state: "delayed", cursor: first.cursor });
      assert.deepEqual(next.messages.map((m) => m.id), ["d3"]);
    }),
);

queueTest(
  "list sends a bounded number of queries per call; the cursors walk to the end",
  (ctx) =>
    Effect.gen(function* () {
      let queries = 0;
      const q = yield* queueOver(ctx, (db) => ({
        ...db,
        query: (table, query) => Effect.suspend(() => (queries++, db.query(table, query))),
      }), { shards: 64 });
      yield* q.send({ id: "only", total: 1 }, { id: "only" });
      let cursor: string | undefined = undefined;
      const seen: Array<string> = [];
      let calls = 0;
      do {
        queries = 0;
        const page: Queue.ListPage<Order> = yield* q.list({ state: "ready", limit: 10, cursor });
        assert.ok(queries <= 32, `one list call sent ${queries} queries`);
        seen.push(...page.messages.map((m) => m.id));
        assert.notEqual(page.cursor, cursor);
        cursor = page.cursor;
        assert.ok(++calls <= 5);
      } while (cursor !== undefined);
      assert.deepEqual(seen, ["only"]);
    }),
);

queueTest(
  "a page that does not move past its start fails instead of looping",
  (ctx) =>
    Effect.gen(function* () {
      const real = yield* ctx.makeQueue();
      for (let i = 0; i < 3; i++) yield* real.send({ id: `s${i}`, total: i });
      // A backend whose pages never move on: the page comes back with its own start key.
      const stuck = yield* queueOver(ctx, (db) => ({
        ...db,
        query: (table, query) =>
          Effect.map(db.query(table, { ...query, limit: 1 }), (page) => ({
            items: page.items,
            lastKey: (query.startKey ?? page.lastKey) as Key,
          })),
      }));
      const stats = yield* flip(stuck.stats);
      assert.ok(stats instanceof DynamoDBError, String(stats));
      assert.match(stats.message, /did not move past its start key/);
      const purged = yield* flip(stuck.purge());
      assert.ok(purged instanceof DynamoDBError, String(purged));
      const cursor = (yield* real.list({ state: "ready", limit: 1 })).cursor;
      const listed = yield* flip(stuck.list({ state: "ready", cursor }));
      assert.ok(listed instanceof DynamoDBError, String(listed));
    }),
);

queueTest(
  "list gives up on keys DynamoDB never processes, after a bound",
  (ctx) =>
    Effect.gen(function* () {
      const real = yield* ctx.makeQueue();
      yield* real.send({ id: "a", total: 1 });
      let gets = 0;
      const stuck = yield* queueOver(ctx, (db) => ({
        ...db,
        batchGet: (_table, keys) => Effect.sync(() => (gets++, { items: [], unprocessed: keys })),
      }));
      const fiber = yield* Effect.fork(Effect.flip(stuck.list({ state: "ready" })));
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("5 seconds");
      const error = yield* Fiber.join(fiber);
      assert.ok(error instanceof DynamoDBError, String(error));
      assert.match(error.message, /1 keys left unprocessed after 8 attempts/);
      assert.equal(gets, 8);
    }),
);

// --- defect 11: input validation -------------------------------------------------------------------

queueTest(
  "NaN, negative and out-of-range durations and times are refused; nothing written",
  (ctx) =>
    Effect.gen(function* () {
      const q = yield* ctx.makeQueue();
      const badDelays: ReadonlyArray<Duration.DurationInput> = [
        NaN,
        -1,
        "-5 seconds",
        [NaN, 0],
        [-1, 0],
        -1n,
        Infinity,
        1e300,
        "40000 days",
      ];
      for (const delay of badDelays) {
        assertInvalid(
          yield* flip(q.send({ id: "x", total: 1 }, { delay })),
          "delay",
          String(delay),
        );
        assertInvalid(
          yield* flip(q.transactItem({ id: "x", total: 1 }, { delay })),
          "delay",
          String(delay),
        );
      }
      for (const at of [NaN, -1, 1e16, 1e300, new Date(NaN)]) {
        assertInvalid(yield* flip(q.send({ id: "x", total: 1 }, { at })), "at", String(at));
      }
      const batch = yield* q.sendBatch([{ body: { id: "x", total: 1 }, options: { delay: -1 } }]);
      assert.ok(batch[0]!._tag === "Left");
      assertInvalid(batch[0]!.left, "delay");
      assert.deepEqual(yield* q.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });

      yield* q.send({ id: "m", total: 1 }, { id: "m" });
      const { messages } = yield* q.receive({ visibilityTimeout: "1 minute" });
      const m = messages[0]!;
      const bad: ReadonlyArray<Duration.DurationInput> = [NaN, -1, "-1 seconds", 1e300];
      for (const delay of bad) {
        assertInvalid(yield* flip(q.nack(m, { delay })), "delay", `nack ${String(delay)}`);
        assertInvalid(yield* flip(q.changeVisibility(m, delay)), "timeout", String(delay));
        assertInvalid(
          yield* flip(q.receive({ visibilityTimeout: delay })),
          "visibilityTimeout",
          String(delay),
        );
      }
      // Still in flight under the same lease, visible when the receive said.
      const info = Option.getOrThrow(yield* q.get("m"));
      assert.equal(info.state, "inflight");
      assert.equal(info.visibleAt, T0 + 60_000);
      yield* q.ack(m);

      yield* q.send({ id: "p", total: 1 }, { id: "p" });
      for (const delay of [NaN, -1, 1e300]) {
        assertInvalid(yield* flip(q.reschedule("p", { delay })), "delay", String(delay));
      }
      for (const at of [NaN, -5, 1e16]) {
        assertInvalid(yield* flip(q.reschedule("p", { at })), "at", String(at));
      }
      assert.equal(Option.getOrThrow(yield* q.get("p")).visibleAt, T0);
      assertInvalid(yield* flip(q.redriveAll({ deadBefore: NaN })), "deadBefore");
      assertInvalid(yield* flip(q.purge({ state: "all" as "ready" })), "state");
      assert.equal((yield* q.stats).ready, 1);
    }),
);

queueTest(
  "Queue.make and Consumer options: NaN and negative durations are refused",
  (ctx) =>
    Effect.gen(function* () {
      const windows: ReadonlyArray<Duration.DurationInput> = [NaN, -1, "-1 minutes", 1e300];
      for (const deduplicationWindow of windows) {
        assertInvalid(
          yield* flip(ctx.makeQueue({ deduplicationWindow })),
          "deduplicationWindow",
          String(deduplicationWindow),
        );
      }
      for (const visibilityTimeout of [NaN, -1]) {
        assertInvalid(yield* flip(ctx.makeQueue({ visibilityTimeout })), "visibilityTimeout");
      }
      for (const name of [".", ".."]) {
        assertInvalid(yield* flip(ctx.makeQueue({ name })), "name", name);
      }
      const q = yield* ctx.makeQueue();
      const cases: Array<[Consumer.ConsumerOptions<never>, string]> = [
        [{ shutdownTimeout: -1 }, "shutdownTimeout"],
        [{ shutdownTimeout: NaN }, "shutdownTimeout"],
        [{ backoff: { base: "1 second", max: NaN } }, "backoff.max"],
        [{ timeout: -5 }, "timeout"],
        [{ visibilityTimeout: [NaN, 0] }, "visibilityTimeout"],
        [{ heartbeat: "-1 seconds" }, "heartbeat"],
        [{ poll: { min: "1 millis", max: 1e300 } }, "poll.max"],
      ];
      for (const [options, option] of cases) {
        const error = yield* Effect.scoped(
          Effect.flip(Consumer.run(q, () => Effect.void, options)),
        );
        assertInvalid(error, option, JSON.stringify(options));
      }
    }),
);

queueTest(
  "ids: malformed, too long, `.` and `..` are refused by every operation",
  (ctx) =>
    Effect.gen(function* () {
      const q = yield* ctx.makeQueue();
      yield* q.send({ id: "keep", total: 1 });
      const ids = ["x".repeat(3000), ".", "..", "", "a/b", "a#b", "é"];
      for (const id of ids) {
        const label = id.slice(0, 10);
        assertInvalid(yield* flip(q.get(id)), "id", `get ${label}`);
        assertInvalid(yield* flip(q.delete(id)), "id", `delete ${label}`);
        assertInvalid(yield* flip(q.redrive(id)), "id", `redrive ${label}`);
        assertInvalid(yield* flip(q.reschedule(id, { delay: 0 })), "id", `reschedule ${label}`);
        assertInvalid(yield* flip(q.cancel(id)), "id", `cancel ${label}`);
        assertInvalid(yield* flip(q.moveToDeadLetter(id)), "id", `moveToDeadLetter ${label}`);
        assertInvalid(yield* flip(q.send({ id: "x", total: 1 }, { id })), "id", `send ${label}`);
      }
      assert.equal((yield* q.stats).ready, 1);
    }),
);

// --- review: get and purge ---------------------------------------------------------------------------

const throttled = (operation: string) =>
  new DynamoDBError({ operation, reason: "Throttled", retryable: true, detail: "slow down" });

queueTest(
  "get reports a failed read as a DynamoDBError, not as not found",
  (ctx) =>
    Effect.gen(function* () {
      // Throttled once the handle is made (making it reads the queue's stored definition).
      const throttling = { on: false };
      const q = yield* queueOver(ctx, (db) => ({
        ...db,
        get: (...args) => throttling.on ? Effect.fail(throttled("get")) : db.get(...args),
      }));
      throttling.on = true;
      const error = yield* flip(q.get("anything"));
      assert.ok(error instanceof DynamoDBError, String(error));
      assert.equal(error.reason, "Throttled");
    }),
);

queueTest(
  "purge retries a throttled batch delete, and gives up after a bound saying what is left",
  (ctx) =>
    Effect.gen(function* () {
      const real = yield* ctx.makeQueue();
      for (let i = 0; i < 30; i++) yield* real.send({ id: `p${i}`, total: i });
      // The first batch write fails retryably: purge retries it and deletes everything.
      let calls = 0;
      const flaky = yield* queueOver(ctx, (db) => ({
        ...db,
        batchWrite: (table, requests) =>
          ++calls === 1 ? Effect.fail(throttled("batchWrite")) : db.batchWrite(table, requests),
      }));
      const fiber = yield* Effect.fork(flaky.purge());
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("5 seconds");
      assert.equal(yield* Fiber.join(fiber), 30);

      for (let i = 0; i < 3; i++) yield* real.send({ id: `q${i}`, total: i });
      // DynamoDB leaves every delete unprocessed, every time: purge stops and says so.
      let writes = 0;
      const stuck = yield* queueOver(ctx, (db) => ({
        ...db,
        batchWrite: (_table, requests) => Effect.sync(() => (writes++, { unprocessed: requests })),
      }));
      const stuckFiber = yield* Effect.fork(Effect.flip(stuck.purge()));
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("5 seconds");
      const error = yield* Fiber.join(stuckFiber);
      assert.ok(error instanceof DynamoDBError, String(error));
      assert.match(error.message, /3 of 3 left/);
      assert.equal(writes, 8);
    }),
);

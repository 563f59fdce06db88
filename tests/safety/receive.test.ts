/**
 * Receive safety (issue #14): what a receive claims is handed over or released uncounted, never
 * dropped — when a later request of the same receive fails, when the receive is interrupted, and
 * when a claim's response is lost (the claim is recognised by its lease token). Each test runs on
 * the memory layer and on DynamoDB Local, through `DynamoDBFaults` with a `schedule` that fails
 * the chosen call.
 */
import assert from "node:assert/strict";
import { Effect, Either, Fiber, Layer, Option, Schema, type Scope, TestClock } from "effect";
import { indexSortKey, readyPartition } from "../../src/internal/keys.ts";
import * as DynamoDBFaults from "../../src/layers/DynamoDBFaults.ts";
import * as Consumer from "../../src/services/Consumer.ts";
import { DynamoDB, type Operation } from "../../src/services/DynamoDB.ts";
import * as Queue from "../../src/services/Queue.ts";
import * as Table from "../../src/services/Table.ts";
import { backends, uniqueTableName } from "../_backends.ts";
import { runWith } from "../_effect.ts";

const T0 = Date.UTC(2030, 0, 1);
const Body = Schema.Struct({ n: Schema.Number });

/** The fault plan of one test: the fate of the `call`-th request of `operation` once armed. */
interface Plan {
  armed: boolean;
  readonly counts: Map<Operation, number>;
  readonly fate: (
    operation: Operation,
    call: number,
  ) => DynamoDBFaults.FaultDecision | undefined;
  /** Set when a decision was returned. */
  hit: number;
}

const planOf = (fate: Plan["fate"]): Plan => ({ armed: false, counts: new Map(), fate, hit: 0 });

interface Ctx {
  readonly db: DynamoDB;
  readonly table: string;
  readonly plan: Plan;
  readonly makeQueue: (
    options?: Partial<Omit<Queue.QueueOptions<typeof Body.Type, typeof Body.Encoded>, "table">>,
  ) => Effect.Effect<Queue.Queue<typeof Body.Type>, unknown>;
}

const safetyTest = (
  name: string,
  fate: Plan["fate"],
  body: (ctx: Ctx) => Effect.Effect<void, unknown, Scope.Scope>,
): void => {
  for (const backend of backends) {
    if (backend.name === "dynalite") continue; // no ALL_OLD on a failed condition
    Deno.test(`${backend.name}: ${name}`, () => {
      const plan = planOf(fate);
      const faulty = DynamoDBFaults.layer({
        seed: 1,
        schedule: ({ operation }) => {
          if (!plan.armed) return undefined;
          const call = plan.counts.get(operation) ?? 0;
          plan.counts.set(operation, call + 1);
          const decision = plan.fate(operation, call);
          if (decision !== undefined) plan.hit += 1;
          return decision;
        },
      }).pipe(Layer.provideMerge(backend.layer));
      return runWith(
        faulty,
        Effect.gen(function* () {
          yield* TestClock.setTime(T0);
          const db = yield* DynamoDB;
          const table = uniqueTableName("rs");
          yield* Table.create(table);
          yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(table)));
          yield* body({
            db,
            table,
            plan,
            makeQueue: (o) =>
              Queue.make({ table, name: "jobs", schema: Body, ...o }).pipe(
                Effect.provideService(DynamoDB, db),
              ),
          });
        }),
      );
    });
  }
};

const sendN = (q: Queue.Queue<typeof Body.Type>, n: number) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), (n) => q.send({ n }), { discard: true });

/** The receive counts of every live message, by body. */
const receivesByBody = (q: Queue.Queue<typeof Body.Type>) =>
  Effect.gen(function* () {
    const out = new Map<number, { receives: number; state: string }>();
    for (const state of ["ready", "inflight"] as const) {
      let cursor: string | undefined = undefined;
      do {
        const page: Queue.ListPage<typeof Body.Type> = yield* q.list({ state, cursor });
        for (const m of page.messages) {
          if (Either.isRight(m.body)) {
            out.set(m.body.right.n, { receives: m.receives, state: m.state });
          }
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return out;
  });

// Defect 3: a query failing after claims applied used to fail the receive and drop the claims.
safetyTest(
  "a query failing mid-receive hands over what was already claimed",
  (operation, call) =>
    operation === "query" && call === 1
      ? { _tag: "Fail", kind: "throttle", after: false }
      : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ shards: 4 });
      yield* sendN(q, 24);
      plan.armed = true;
      const r = yield* q.receive({ max: 100 });
      plan.armed = false;
      assert.equal(plan.hit, 1);
      assert.ok(r.messages.length > 0 && r.messages.length < 24, String(r.messages.length));
      const stats = yield* q.stats;
      // Every message in flight is one the receive handed over.
      assert.equal(stats.inflight, r.messages.length);
      assert.equal(stats.ready, 24 - r.messages.length);
    }),
);

// Defect 3, interruption: claims applied before the interrupt are released uncounted.
safetyTest(
  "an interrupted receive releases what it claimed, uncounted",
  (operation, call) =>
    operation === "query" && call === 1 ? { _tag: "Stall", delay: "1 hour" } : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ shards: 4 });
      yield* sendN(q, 24);
      plan.armed = true;
      const fiber = yield* Effect.fork(q.receive({ max: 100 }));
      // Wait (in real time: the live backends answer in real time) for the stalled query.
      while (plan.hit === 0) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)));
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)));
      yield* Fiber.interrupt(fiber);
      plan.armed = false;
      const stats = yield* q.stats;
      assert.equal(stats.inflight, 0);
      assert.equal(stats.ready, 24);
      for (const [, m] of yield* receivesByBody(q)) assert.equal(m.receives, 0);
    }),
);

// Ambiguity: the claim applied, its response was lost and the SDK-style retry failed its
// condition on our own write. The item (ALL_OLD) carries our lease: delivered.
safetyTest(
  "a claim retried after its response was lost is recognised by its lease",
  (operation, call) =>
    operation === "update" && call === 0 ? { _tag: "Retried", kind: "timeout" } : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendN(q, 1);
      plan.armed = true;
      const r = yield* q.receive({ max: 1 });
      plan.armed = false;
      assert.equal(plan.hit, 1);
      assert.equal(r.messages.length, 1);
      assert.equal(r.messages[0]!.receives, 1);
      yield* q.ack(r.messages[0]!);
      assert.equal((yield* q.stats).inflight, 0);
    }),
);

// Ambiguity: the claim applied and its response was lost (a timeout): one consistent read
// recognises it. Before, the message stayed in flight with no holder and its receive counted.
safetyTest(
  "a claim whose response was lost is read back and delivered",
  (operation, call) =>
    operation === "update" && call === 0
      ? { _tag: "Fail", kind: "timeout", after: true }
      : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendN(q, 1);
      plan.armed = true;
      const r = yield* q.receive({ max: 1 });
      plan.armed = false;
      assert.equal(r.messages.length, 1);
      assert.equal(r.messages[0]!.receives, 1);
      yield* q.ack(r.messages[0]!);
    }),
);

// Ambiguity that cannot be resolved by reading: the claim is released uncounted.
safetyTest(
  "a claim that cannot be confirmed is released uncounted",
  (operation, call) =>
    operation === "update" && call === 0
      ? { _tag: "Fail", kind: "timeout", after: true }
      : operation === "get" && call === 0
      ? { _tag: "Fail", kind: "throttle", after: false }
      : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendN(q, 1);
      plan.armed = true;
      const r = yield* Effect.either(q.receive({ max: 1 }));
      plan.armed = false;
      assert.ok(Either.isLeft(r));
      const stats = yield* q.stats;
      assert.equal(stats.inflight, 0);
      assert.equal(stats.ready, 1);
      for (const [, m] of yield* receivesByBody(q)) assert.equal(m.receives, 0);
    }),
);

safetyTest(
  "a claim whose read-back and first release both fail is read back again, not left counted",
  (operation, call) =>
    operation === "update" && call === 0
      ? { _tag: "Fail", kind: "timeout", after: true }
      : operation === "get" && call === 0
      ? { _tag: "Fail", kind: "throttle", after: false }
      : operation === "update" && call === 1
      ? { _tag: "Fail", kind: "throttle", after: false }
      : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendN(q, 1);
      plan.armed = true;
      const r = yield* q.receive({ max: 1 });
      plan.armed = false;
      assert.equal(plan.hit, 3);
      // The second read shows this receive's lease: the claim is delivered, counted once.
      assert.deepEqual(r.messages.map((m) => [m.body.n, m.receives]), [[0, 1]]);
      yield* q.ack(r.messages[0]!);
      assert.equal((yield* q.stats).inflight, 0);
    }),
);

// The issue's symptom: with maxReceives 2, two receives whose claims' responses were lost used
// to dead-letter the message at the third receive, though no handler ever had it.
safetyTest(
  "lost claim responses never dead-letter a message no handler received",
  (operation) =>
    operation === "update" ? { _tag: "Fail", kind: "dropped", after: true } : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue({ maxReceives: 2, visibilityTimeout: "10 seconds" });
      yield* sendN(q, 1);
      let delivered = 0;
      for (let i = 0; i < 2; i++) {
        plan.armed = true;
        const r = yield* Effect.either(q.receive({ max: 1 }));
        plan.armed = false;
        if (Either.isRight(r)) delivered += r.right.messages.length;
        yield* TestClock.adjust("11 seconds");
      }
      // The third receive, without faults, finds the message at maxReceives.
      const last = yield* q.receive({ max: 1 });
      const dead = last.deadLettered.filter((e) => e._tag === "MaxReceivesExceeded").length;
      assert.ok(dead === 0 || delivered >= 2, `dead-lettered after ${delivered} deliveries`);
      assert.equal(delivered, 2);
    }),
);

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)));

// Defect 7: a claim whose request never returns held the shutdown forever (the receive was
// uninterruptible). The shutdown now interrupts it; nothing it may have claimed stays in flight.
safetyTest(
  "a consumer stops while a claim request stalls",
  (operation, call) =>
    operation === "update" && call === 0 ? { _tag: "Stall", delay: "1 hour" } : undefined,
  ({ makeQueue, plan }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendN(q, 1);
      plan.armed = true;
      const consumer = yield* Consumer.run(q, () => Effect.void, { shutdownTimeout: "5 seconds" });
      while (plan.hit === 0) yield* realSleep(5);
      const stopping = yield* Effect.fork(consumer.stop);
      let stopped = false;
      for (let i = 0; i < 300 && !stopped; i++) {
        stopped = Option.isSome(yield* Fiber.poll(stopping));
        if (!stopped) yield* realSleep(10);
      }
      plan.armed = false;
      if (!stopped) yield* TestClock.adjust("2 hours"); // unblock, so the test can end
      yield* Fiber.join(stopping);
      assert.ok(stopped, "the consumer did not stop while its claim stalled");
      const stats = yield* q.stats;
      assert.equal(stats.inflight, 0);
      assert.equal(stats.ready + stats.delayed, 1);
      for (const [, m] of yield* receivesByBody(q)) assert.equal(m.receives, 0);
    }),
);

// Defect 10: foreign items in a ready partition (another sort key, a forged group state) were
// never quarantined: they counted as ready forever and every receive paged past them.
safetyTest(
  "foreign index entries are dead-lettered on their own key; real messages are untouched",
  () => undefined,
  ({ db, table, makeQueue }) =>
    Effect.gen(function* () {
      const q = yield* makeQueue();
      yield* sendN(q, 1);
      const due = T0 - 1000;
      const entry = (pk: string, sk: string, state: string) => ({
        pk,
        sk,
        state,
        gpk: readyPartition("jobs", 0, 0),
        gsk: indexSortKey(due, pk),
        receives: 0,
        sentAt: due,
      });
      yield* db.put(table, entry("jobs#x1", "other", "ready"));
      yield* db.put(table, entry("jobs#x2", "msg", "group"));
      yield* db.put(table, entry("jobs#g#grp", "other", "group"));
      const r = yield* q.receive({ max: 10 });
      assert.equal(r.messages.length, 1);
      assert.deepEqual(r.deadLettered.map((e) => e._tag).sort(), [
        "UndecodableMessage",
        "UndecodableMessage",
        "UndecodableMessage",
      ]);
      const stats = yield* q.stats;
      assert.deepEqual([stats.ready, stats.inflight, stats.dead], [0, 1, 3]);
      yield* q.ack(r.messages[0]!);
      const again = yield* q.receive({ max: 10 });
      assert.deepEqual([again.messages.length, again.deadLettered.length], [0, 0]);
      // Quarantined on their own keys: nothing was created next to them.
      assert.equal(yield* db.get(table, { pk: "jobs#x1", sk: "msg" }), undefined);
      assert.equal((yield* db.get(table, { pk: "jobs#x2", sk: "msg" }))?.state, "dead");
    }),
);

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
import { type Backend, backends, uniqueTableName } from "../_backends.ts";
import { runWith } from "../_effect.ts";

const T0 = Date.UTC(2030, 0, 1);

const Body = Schema.Struct({ n: Schema.Number, text: Schema.optional(Schema.String) });
type Body = typeof Body.Type;

interface Ctx {
  readonly backend: Backend;
  readonly table: string;
  /** The table without faults. */
  readonly db: DynamoDB;
  /** The next call of `operation` gets `decision` (the others go through). */
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
          const armed = new Map<Operation, DynamoDBFaults.FaultDecision>();
          const faulty = yield* DynamoDBFaults.make(db, {
            seed: 1,
            schedule: ({ operation }) => {
              const decision = armed.get(operation);
              armed.delete(operation);
              return decision;
            },
          });
          yield* body({
            backend,
            table,
            db,
            arm: (operation, decision) => void armed.set(operation, decision),
            makeQueue: (o) =>
              Queue.make({ table, name: "jobs", schema: Body, ...o }).pipe(
                Effect.provideService(DynamoDB, faulty.service),
              ),
          });
        }),
      ));
  }
};

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

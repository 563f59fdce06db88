// Node smoke test of the package as JSR serves it to Node: plain ESM JavaScript, run with
// `node --test` by scripts/node-check.ts inside the compiled build, where `@dynamomq/dynamomq`
// resolves to that build. Not a Deno test (its name does not end in `.test.mjs` on purpose).
//
// Each backend: create the table, send, receive and ack, then a Consumer drains the rest and
// shuts down gracefully. DYNAMOMQ_DDBLOCAL_ENDPOINT selects the DynamoDB Local run. Last, Effect's
// PersistedQueue on the DynamoDB store (the package's @effect/experimental dependency).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as PersistedQueue from "@effect/experimental/PersistedQueue";
import { Consumer, DynamoDBLive, PersistedQueueStore, Queue, Table } from "@dynamomq/dynamomq";
import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
import { Deferred, Effect, Layer, Ref, Schema } from "effect";

const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });

const scenario = Effect.gen(function* () {
  const table = `node-smoke-${crypto.randomUUID()}`;
  yield* Table.create(table);
  const orders = yield* Queue.make({ table, name: "orders", schema: Order });

  // send + receive + ack
  const sent = yield* orders.send({ id: "A-1", total: 42 });
  const { messages } = yield* orders.receive({ max: 10 });
  assert.equal(messages.length, 1);
  assert.equal(messages[0].id, sent.id);
  assert.deepEqual(messages[0].body, { id: "A-1", total: 42 });
  yield* orders.ack(messages[0]);

  // a body that fails its schema is refused at send
  const refused = yield* Effect.flip(orders.send({ id: "A-2", total: "much" }));
  assert.equal(refused._tag, "ParseError");

  // Consumer.run drains the queue; closing its scope (stop) shuts it down
  const ids = ["B-1", "B-2", "B-3", "B-4", "B-5"];
  for (const id of ids) yield* orders.send({ id, total: 1 });
  const seen = yield* Ref.make([]);
  const done = yield* Deferred.make();
  const consumer = yield* Consumer.run(orders, (message) =>
    Effect.gen(function* () {
      const all = yield* Ref.updateAndGet(seen, (xs) => [...xs, message.body.id]);
      if (all.length === ids.length) yield* Deferred.succeed(done, undefined);
    }), { concurrency: 2, poll: { min: "10 millis", max: "100 millis" } });
  yield* Deferred.await(done).pipe(Effect.timeout("30 seconds"));
  yield* consumer.stop;
  yield* consumer.awaitStopped;
  assert.equal(yield* consumer.inFlight, 0);
  assert.deepEqual([...(yield* Ref.get(seen))].sort(), ids);

  const stats = yield* orders.stats;
  assert.equal(stats.ready + stats.delayed + stats.inflight + stats.dead, 0);
}).pipe(Effect.scoped);

test("memory layer: send, receive, consume, shut down", async () => {
  await Effect.runPromise(scenario.pipe(Effect.provide(DynamoDBMemory.layerMemory)));
});

const endpoint = process.env.DYNAMOMQ_DDBLOCAL_ENDPOINT;

test("DynamoDB Local: send, receive, consume, shut down", {
  skip: endpoint ? false : "DYNAMOMQ_DDBLOCAL_ENDPOINT is not set (no java)",
}, async () => {
  const live = DynamoDBLive.layer({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  await Effect.runPromise(scenario.pipe(Effect.provide(live)));
});

test("PersistedQueue on the DynamoDB store (memory layer): offer, take, idempotent offer", async () => {
  const Queues = PersistedQueueStore.layerFactory({ table: "node-smoke" }).pipe(
    Layer.provideMerge(DynamoDBMemory.layerMemory),
  );
  const program = Effect.gen(function* () {
    yield* Table.create("node-smoke");
    const emails = yield* PersistedQueue.make({ name: "emails", schema: Schema.String });
    yield* emails.offer("hello", { id: "greeting" });
    yield* emails.offer("hello again", { id: "greeting" }); // the same id: nothing added
    const failed = yield* Effect.flip(emails.take(() => Effect.fail("boom")));
    assert.equal(failed, "boom");
    const seen = yield* emails.take((value, { id, attempts }) =>
      Effect.succeed(`${id}:${value}:${attempts}`)
    );
    assert.equal(seen, "greeting:hello:1");
  });
  await Effect.runPromise(program.pipe(Effect.provide(Queues)));
});

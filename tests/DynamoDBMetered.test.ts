import assert from "node:assert/strict";
import { Effect, Layer, Schema } from "effect";
import * as DynamoDBMetered from "../src/layers/DynamoDBMetered.ts";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import { DynamoDB, eq, notExists, operations } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { runWith } from "./_effect.ts";

const metered: Layer.Layer<DynamoDB | DynamoDBMetered.DynamoDBMeter> = DynamoDBMetered.layer.pipe(
  Layer.provide(layerMemory),
);

const TABLE = "metered";
const definition = { name: TABLE, partitionKey: "pk", sortKey: "sk", indexes: [] };

Deno.test("DynamoDBMetered counts requests per operation, items read and written", () =>
  runWith(
    metered,
    Effect.gen(function* () {
      const db = yield* DynamoDB;
      const meter = yield* DynamoDBMetered.DynamoDBMeter;
      yield* db.createTable(definition);
      yield* db.put(TABLE, { pk: "a", sk: "1", n: 1 });
      yield* db.put(TABLE, { pk: "a", sk: "2", n: 2 });
      yield* db.get(TABLE, { pk: "a", sk: "1" });
      yield* db.get(TABLE, { pk: "a", sk: "missing" });
      const page = yield* db.query(TABLE, { partition: { attribute: "pk", value: "a" } });
      assert.equal(page.items.length, 2);
      yield* db.update(TABLE, { pk: "a", sk: "1" }, { add: { n: 1 } });
      yield* db.batchWrite(TABLE, [
        { _tag: "Put", item: { pk: "b", sk: "1" } },
        { _tag: "Put", item: { pk: "b", sk: "2" } },
        { _tag: "Delete", key: { pk: "a", sk: "2" } },
      ]);
      const got = yield* db.batchGet(TABLE, [{ pk: "b", sk: "1" }, { pk: "b", sk: "2" }]);
      assert.equal(got.items.length, 2);
      yield* db.delete(TABLE, { pk: "b", sk: "1" });

      const counts = yield* meter.snapshot;
      assert.deepEqual(counts, {
        requests: {
          get: 2,
          put: 2,
          update: 1,
          delete: 1,
          query: 1,
          batchGet: 1,
          batchWrite: 1,
          transactWrite: 0,
          createTable: 1,
          describeTable: 0,
          enableTimeToLive: 0,
          deleteTable: 0,
        },
        total: 10,
        itemsRead: 1 + 2 + 2,
        itemsWritten: 2 + 1 + 3 + 1,
        conditionFailed: 0,
        errors: 0,
      });
      assert.equal(
        DynamoDBMetered.formatRequests(counts),
        "get=2 put=2 update=1 delete=1 query=1 batchGet=1 batchWrite=1 createTable=1",
      );
    }),
  ));

Deno.test("DynamoDBMetered counts failed conditions and errors as requests that wrote nothing", () =>
  runWith(
    metered,
    Effect.gen(function* () {
      const db = yield* DynamoDB;
      const meter = yield* DynamoDBMetered.DynamoDBMeter;
      yield* db.createTable(definition);
      yield* db.put(TABLE, { pk: "a", sk: "1" }, { condition: notExists("pk") });
      const duplicate = yield* Effect.flip(
        db.put(TABLE, { pk: "a", sk: "1" }, { condition: notExists("pk") }),
      );
      assert.equal(duplicate._tag, "ConditionFailed");
      const stale = yield* Effect.flip(
        db.update(TABLE, { pk: "a", sk: "1" }, { set: { v: 2 } }, { condition: eq("v", 1) }),
      );
      assert.equal(stale._tag, "ConditionFailed");
      const missing = yield* Effect.flip(db.describeTable("no-such-table"));
      assert.equal(missing._tag, "DynamoDBError");

      const counts = yield* meter.snapshot;
      assert.equal(counts.requests.put, 2);
      assert.equal(counts.requests.update, 1);
      assert.equal(counts.requests.describeTable, 1);
      assert.equal(counts.total, 5);
      assert.equal(counts.itemsWritten, 1);
      assert.equal(counts.conditionFailed, 2);
      assert.equal(counts.errors, 1);
    }),
  ));

Deno.test("DynamoDBMetered counts the writes of a transaction, not its condition checks", () =>
  runWith(
    metered,
    Effect.gen(function* () {
      const db = yield* DynamoDB;
      const meter = yield* DynamoDBMetered.DynamoDBMeter;
      yield* db.createTable(definition);
      yield* db.put(TABLE, { pk: "c", sk: "1" });
      yield* meter.reset;
      yield* db.transactWrite([
        { _tag: "Put", table: TABLE, item: { pk: "t", sk: "1" } },
        { _tag: "Update", table: TABLE, key: { pk: "t", sk: "2" }, update: { set: { x: 1 } } },
        {
          _tag: "ConditionCheck",
          table: TABLE,
          key: { pk: "c", sk: "1" },
          condition: eq("pk", "c"),
        },
      ]);
      const counts = yield* meter.snapshot;
      assert.equal(counts.requests.transactWrite, 1);
      assert.equal(counts.total, 1);
      assert.equal(counts.itemsWritten, 2);
    }),
  ));

Deno.test("DynamoDBMetered.reset zeroes every count", () =>
  runWith(
    metered,
    Effect.gen(function* () {
      const db = yield* DynamoDB;
      const meter = yield* DynamoDBMetered.DynamoDBMeter;
      yield* db.createTable(definition);
      yield* db.put(TABLE, { pk: "a", sk: "1" });
      yield* Effect.flip(db.put(TABLE, { pk: "a", sk: "1" }, { condition: notExists("pk") }));
      yield* meter.reset;
      const counts = yield* meter.snapshot;
      assert.equal(counts.total, 0);
      assert.ok(operations.every((op) => counts.requests[op] === 0));
      assert.equal(counts.itemsWritten, 0);
      assert.equal(counts.conditionFailed, 0);
      assert.equal(DynamoDBMetered.formatRequests(counts), "");
    }),
  ));

Deno.test("DynamoDBMetered.layer meters what the queue sends through it", () =>
  runWith(
    metered,
    Effect.gen(function* () {
      const meter = yield* DynamoDBMetered.DynamoDBMeter;
      yield* Table.create("queues");
      const queue = yield* Queue.make({ table: "queues", name: "jobs", schema: Schema.String });
      // A handle's first send also writes the queue's catalog item (once per handle).
      yield* queue.send("a");
      yield* meter.reset;
      yield* queue.send("b");
      yield* queue.send("c");
      const counts = yield* meter.snapshot;
      // One conditional put per send, nothing else.
      assert.equal(counts.requests.put, 2);
      assert.equal(counts.total, 2);
      assert.equal(counts.itemsWritten, 2);
    }),
  ));

Deno.test("DynamoDBMetered.make wraps a service without a layer; meters are independent", () =>
  runWith(
    layerMemory,
    Effect.gen(function* () {
      const inner = yield* DynamoDB;
      const a = yield* DynamoDBMetered.make(inner);
      const b = yield* DynamoDBMetered.make(inner);
      yield* a.service.createTable(definition);
      yield* a.service.put(TABLE, { pk: "x", sk: "1" });
      // The wrapped service sees the write made through the metered one.
      assert.deepEqual(yield* inner.get(TABLE, { pk: "x", sk: "1" }), { pk: "x", sk: "1" });
      yield* b.service.get(TABLE, { pk: "x", sk: "1" });
      assert.equal((yield* a.meter.snapshot).total, 2);
      assert.equal((yield* b.meter.snapshot).total, 1);
      assert.equal((yield* b.meter.snapshot).itemsRead, 1);
    }),
  ));

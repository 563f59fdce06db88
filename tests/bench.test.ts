/**
 * The benchmark's own code, exercised on the memory layer so that it is type-checked and run in
 * CI without starting an emulator: the capacity-unit rules, the metering wrapper, the cost and
 * heat scenarios, and the report.
 */
import assert from "node:assert/strict";
import { Effect, Schema } from "effect";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import {
  hottest,
  indexEntry,
  indexWrites,
  meterCapacity,
  readUnits,
  writeUnits,
} from "../bench/capacity.ts";
import { parseOptions } from "../bench/main.ts";
import { markdown, type Results, svgChart, targets } from "../bench/report.ts";
import {
  cost,
  COST_SCENARIOS,
  heat,
  median,
  payloadSizes,
  quantile,
  TABLE,
} from "../bench/scenarios.ts";

const runMemory = <A, E>(effect: Effect.Effect<A, E, DynamoDB>): Promise<A> =>
  Effect.runPromise(
    Effect.zipRight(Table.create(TABLE), effect).pipe(Effect.provide(layerMemory)),
  );

Deno.test("capacity units: 1 WCU per started KB, 1 RCU per started 4 KB, halved when eventual", () => {
  assert.equal(writeUnits(0), 1);
  assert.equal(writeUnits(1024), 1);
  assert.equal(writeUnits(1025), 2);
  assert.equal(writeUnits(16 * 1024 + 300), 17);
  assert.equal(readUnits(0, true), 1);
  assert.equal(readUnits(4096, true), 1);
  assert.equal(readUnits(4097, false), 1);
  assert.equal(readUnits(100, false), 0.5);
});

Deno.test("index writes: a moved key is a delete and a put, an unchanged entry costs nothing", () => {
  const item = {
    pk: "q#1",
    sk: "msg",
    gpk: "q#0",
    gsk: "0000000000001#1",
    state: "ready",
    receives: 0,
    payload: "x".repeat(5000),
  };
  const before = indexEntry(item)!;
  assert.equal(before.partition, "q#0");
  assert.ok(before.bytes < 100, "the payload is not projected");
  assert.equal(indexEntry({ pk: "q#1", sk: "msg", state: "done" }), undefined);
  const moved = indexEntry({ ...item, gsk: "0000000030001#1", state: "inflight", receives: 1 });
  assert.deepEqual(indexWrites(before, moved).map((w) => w.kind), ["delete", "put"]);
  assert.deepEqual(indexWrites(before, indexEntry({ ...item, payload: "y" })), []);
  assert.deepEqual(
    indexWrites(before, indexEntry({ ...item, receives: 3 })).map((w) => w.kind),
    ["update"],
  );
  assert.deepEqual(indexWrites(undefined, before).map((w) => w.kind), ["put"]);
  assert.deepEqual(indexWrites(before, undefined).map((w) => w.kind), ["delete"]);
  assert.deepEqual(hottest(new Map([["a", 3], ["b", 1]])), {
    partition: "a",
    share: 0.75,
    total: 4,
  });
});

Deno.test("meterCapacity prices a message's lifecycle: 3 table writes, 4 index writes", () =>
  runMemory(Effect.gen(function* () {
    const capacity = meterCapacity(yield* DynamoDB);
    const queue = yield* Queue.make({
      table: TABLE,
      name: "priced",
      schema: Schema.String,
      compressAbove: false,
    }).pipe(Effect.provideService(DynamoDB, capacity.service));
    // The handle's one catalog write, out of the way of the per-message figures.
    yield* queue.receive();
    capacity.reset();
    yield* queue.send("small");
    assert.deepEqual(
      { ...capacity.snapshot(), partitions: undefined },
      {
        tableWriteUnits: 1,
        indexWriteUnits: 1,
        tableReadUnits: 0,
        indexReadUnits: 0,
        indexWriteOps: 1,
        partitions: undefined,
      },
    );
    const { messages } = yield* queue.receive();
    yield* queue.ack(messages[0]!);
    const counts = capacity.snapshot();
    assert.equal(counts.tableWriteUnits, 3);
    assert.equal(counts.indexWriteUnits, 4);
    assert.equal(counts.indexReadUnits, 0.5);
    assert.deepEqual([...counts.partitions], [["priced#0", 4]]);
    // A 16 KiB body costs 17 WCU per table write, and still 4 on the index.
    capacity.reset();
    yield* queue.send("x".repeat(16 * 1024));
    const [big] = (yield* queue.receive()).messages;
    yield* queue.ack(big!);
    assert.equal(capacity.snapshot().tableWriteUnits, 3 * 17);
    assert.equal(capacity.snapshot().indexWriteUnits, 4);
  })));

Deno.test("cost scenarios count requests and units per message", async () => {
  const sizes = await Effect.runPromise(payloadSizes);
  assert.deepEqual(sizes.map((s) => s.label), ["1 KB item", "1 KiB body", "16 KiB body"]);
  assert.ok(sizes[0]!.itemBytes <= 1024, `the "1 KB item" fits: ${sizes[0]!.itemBytes}`);
  const rows = await runMemory(cost({ n: 5, payload: sizes[0]!.payload, transactions: true }));
  assert.deepEqual(rows.map((r) => r.scenario), [...COST_SCENARIOS]);
  const by = (i: number) => rows[i]!;
  // put + query + claim + delete for each message.
  assert.equal(by(0).requests, 4);
  assert.equal(by(0).tableWCU, 3);
  assert.equal(by(0).indexWCU, 4);
  // One query for all five; one BatchWriteItem for all five sends.
  assert.equal(by(1).requests, 3.2);
  assert.equal(by(2).requests, 2.4);
  // The nack is an update that moves the index key: +2 requests (claim, nack) and a query.
  assert.equal(by(3).requests, 5.4);
  assert.equal(by(4).requests, 1.6);
  assert.equal(by(5).tableWCU, 4, "a transactional delete costs double");
});

Deno.test("heat: one shard takes every index write; shards spread them", async () => {
  const one = await Effect.runPromise(heat({ shards: 1, messages: 50 }));
  assert.equal(one.hottestShare, 1);
  assert.equal(one.indexWCUPerMessage, 4);
  assert.equal(one.awsCeiling, 250);
  const four = await Effect.runPromise(heat({ shards: 4, messages: 400 }));
  assert.ok(four.hottestShare >= 0.25 && four.hottestShare < 0.5, `${four.hottestShare}`);
});

Deno.test("statistics and options", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
  assert.equal(quantile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99), 99);
  const quick = parseOptions(["--quick"]);
  assert.equal(quick.runs, 1);
  assert.equal(quick.out, undefined);
  assert.deepEqual(parseOptions(["--levels", "2,4", "--runs", "5"]).levels, [2, 4]);
  assert.throws(() => parseOptions(["--bogus"]));
  assert.throws(() => parseOptions(["--backends", "mysql"]));
});

Deno.test("the report renders targets, markdown and an SVG chart", () => {
  const cheap = { tableWCU: 3, indexWCU: 4, rcu: 0.05, requestsByOp: "" };
  const results: Results = {
    date: "2026-01-01T00:00:00.000Z",
    quick: true,
    runs: 1,
    messages: 100,
    levels: [1, 32],
    machine: { cpus: 2, loadBefore: [1, 1, 1], loadAfter: [1, 1, 1], deno: "2", seconds: 10 },
    backends: [{
      name: "dynamodb-local",
      ceiling: [1, 32].map((c) => ({
        concurrency: c,
        put: 300 * c,
        update: 300 * c,
        delete: 300 * c,
        writes: 300 * c,
        queueCeiling: 100 * c,
      })),
      endToEnd: (["single", "batch"] as const).flatMap((mode) =>
        [1, 32].map((c) => ({
          mode,
          concurrency: c,
          messages: 100,
          throughput: 80 * c,
          p50: 5,
          p99: 20,
          rssMB: 100,
          requestsPerMessage: 3.1,
        }))
      ),
      serverRssMB: 300,
      cost: [{
        size: { label: "1 KB item", payload: "", itemBytes: 1000 },
        rows: [
          { scenario: COST_SCENARIOS[1], requests: 3.1, ...cheap },
          { scenario: COST_SCENARIOS[2], requests: 2.08, ...cheap },
        ],
      }],
    }],
    heat: [{
      shards: 16,
      messages: 1000,
      hottestShare: 0.08,
      indexWCUPerMessage: 4,
      awsCeiling: 3125,
    }],
  };
  const ts = targets(results);
  const named = (prefix: string) => ts.find((t) => t.name.startsWith(prefix))!;
  assert.equal(named("requests per message, unbatched").met, false);
  assert.match(named("requests per message, unbatched").note, /over by 0\.10/);
  assert.equal(named("write units per 1 KB message").met, false);
  assert.equal(named("end-to-end").met, true);
  assert.equal(named("hottest").met, true);
  const md = markdown(results, { loadWarning: "busy" });
  assert.match(md, /^# Benchmarks/);
  assert.match(md, /\*\*Load:\*\* busy/);
  assert.match(md, /\| dynamodb-local \| 32 \|/);
  const svg = svgChart(results);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<path /g) ?? []).length, 3);
  assert.ok(svg.trimEnd().endsWith("</svg>"));
});

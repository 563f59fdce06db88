/**
 * What only the memory layer can be asked: a fresh store per build, isolation of stored items
 * from the caller's objects, the exact item sizes (src/internal/itemSize.ts), index projections
 * and ordering details the emulators cannot pin (their tie order is a hash), paging rules where
 * it follows AWS rather than DynamoDB Local, atomicity, and the feature switches.
 */
import assert from "node:assert/strict";
import { Effect, Exit, type Layer, TestClock } from "effect";
import type { ConditionFailed, DynamoDBError } from "../src/Errors.ts";
import { itemSize, numberSize, utf8Length, valueSize } from "../src/internal/itemSize.ts";
import { layerMemory, layerMemoryWith, make } from "../src/layers/DynamoDBMemory.ts";
import {
  compare,
  DynamoDB,
  eq,
  exists,
  type Item,
  notExists,
  type TableDefinition,
} from "../src/services/DynamoDB.ts";
import { runWith } from "./_effect.ts";

const TABLE = "memory-test";

const definition: TableDefinition = {
  name: TABLE,
  partitionKey: "pk",
  sortKey: "sk",
  indexes: [
    { name: "keys", partitionKey: "gpk", sortKey: "gsk", projection: "KEYS_ONLY" },
    { name: "include", partitionKey: "gpk", sortKey: "gsk", projection: ["state", "n"] },
    { name: "all", partitionKey: "gpk", sortKey: "gsk", projection: "ALL" },
  ],
};

/** Runs the body against a fresh memory store holding the test table. */
const withDb = <A, E>(
  body: (db: DynamoDB) => Effect.Effect<A, E>,
  layer: Layer.Layer<DynamoDB> = layerMemory,
): Promise<A> =>
  runWith(
    layer,
    Effect.gen(function* () {
      const db = yield* DynamoDB;
      yield* db.createTable(definition);
      return yield* body(db);
    }),
  );

const failureOf = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<E> =>
  Effect.flatMap(
    Effect.exit(effect),
    (exit) =>
      Exit.isFailure(exit) && exit.cause._tag === "Fail"
        ? Effect.succeed(exit.cause.error)
        : Effect.die(new assert.AssertionError({ message: `expected a failure: ${exit}` })),
  );

// --- the store --------------------------------------------------------------------------------

Deno.test("every build of layerMemory starts empty", async () => {
  await withDb((db) => db.put(TABLE, { pk: "a", sk: "b" }));
  const tables = await runWith(
    layerMemory,
    Effect.flatMap(DynamoDB, (db) => Effect.flip(db.describeTable(TABLE))),
  );
  assert.equal(tables.reason, "TableNotFound");
});

Deno.test("make gives a new empty store each time it runs", async () => {
  const [first, second] = await Effect.runPromise(Effect.all([make, make]));
  await Effect.runPromise(first.createTable(definition));
  await Effect.runPromise(first.put(TABLE, { pk: "a", sk: "b" }));
  const missing = await Effect.runPromise(Effect.flip(second.get(TABLE, { pk: "a", sk: "b" })));
  assert.equal(missing.reason, "TableNotFound");
});

Deno.test("items are copied in and out: no caller mutation reaches the store", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const key = { pk: "a", sk: "b" };
      const item = {
        ...key,
        gpk: "g",
        gsk: "1",
        bin: new Uint8Array([1, 2, 3]),
        list: [1, { x: "y" }],
        map: { inner: { deep: [true] } },
      };
      const original = structuredClone(item);
      yield* db.put(TABLE, item);
      item.bin[0] = 99;
      item.list.push(2);
      (item.map.inner.deep as Array<boolean>)[0] = false;
      assert.deepStrictEqual(yield* db.get(TABLE, key), original);

      const mutate = (out: Item | undefined) => {
        const o = out as { bin: Uint8Array; list: Array<unknown>; map: { inner: object } };
        o.bin[1] = 42;
        o.list.length = 0;
        o.map.inner = {};
      };
      mutate(yield* db.get(TABLE, key));
      mutate(yield* db.update(TABLE, key, { set: { state: "ready" } }));
      const all = yield* db.query(TABLE, {
        index: "all",
        partition: { attribute: "gpk", value: "g" },
      });
      mutate(all.items[0]);
      mutate((yield* db.batchGet(TABLE, [key])).items[0]);
      assert.deepStrictEqual(yield* db.get(TABLE, key), { ...original, state: "ready" });
      const deleted = yield* db.delete(TABLE, key);
      assert.deepStrictEqual(deleted, { ...original, state: "ready" });
      assert.equal(Object.getPrototypeOf(deleted?.bin), Uint8Array.prototype);
    })
  ));

Deno.test("undefined attributes are left out, as the document client does", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const item = { pk: "a", sk: "b", gone: undefined, map: { gone: undefined, kept: 1 } };
      yield* db.put(TABLE, item as unknown as Item);
      assert.deepStrictEqual(yield* db.get(TABLE, { pk: "a", sk: "b" }), {
        pk: "a",
        sk: "b",
        map: { kept: 1 },
      });
      // A value an expression needs cannot be undefined.
      const e = yield* failureOf(
        db.update(TABLE, { pk: "a", sk: "b" }, { set: { x: undefined as unknown as number } }),
      );
      assert.equal((e as DynamoDBError).reason, "Validation");
    })
  ));

Deno.test("attribute names like __proto__ and toString are ordinary attributes", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const key = { pk: "a", sk: "b" };
      const item = JSON.parse('{"pk":"a","sk":"b","__proto__":{"x":1},"toString":"s"}') as Item;
      yield* db.put(TABLE, item);
      const got = yield* db.get(TABLE, key);
      assert.deepStrictEqual(Object.keys(got ?? {}).sort(), ["__proto__", "pk", "sk", "toString"]);
      assert.equal(Object.getPrototypeOf(got), Object.prototype);
      // `constructor` is not an attribute here, whatever Object.prototype says.
      const updated = yield* db.update(TABLE, key, { add: { constructor: 1 } }, {
        condition: notExists("constructor"),
      });
      assert.equal(updated.constructor, 1);
      const other = yield* db.update(TABLE, { pk: "a", sk: "c" }, { set: { v: 1 } }, {
        condition: notExists("hasOwnProperty"),
      });
      assert.deepStrictEqual(other, { pk: "a", sk: "c", v: 1 });
      // A remove copies the other attributes, `__proto__` among them, into the new item.
      const removed = yield* db.update(TABLE, key, { remove: ["toString", "constructor"] });
      assert.deepStrictEqual(Object.keys(removed).sort(), ["__proto__", "pk", "sk"]);
      assert.deepStrictEqual(removed["__proto__"], { x: 1 });
      const bare = yield* db.update(TABLE, key, { set: { y: 2 }, remove: ["__proto__"] });
      assert.deepStrictEqual(Object.keys(bare).sort(), ["pk", "sk", "y"]);
    })
  ));

Deno.test("values outside DynamoDB's types fail with Validation", () =>
  withDb((db) =>
    Effect.gen(function* () {
      for (const value of [new Date(0), new Set([1]), new Map(), 1n]) {
        const e = yield* failureOf(
          db.put(TABLE, { pk: "a", sk: "b", value } as unknown as Item),
        );
        assert.equal((e as DynamoDBError).reason, "Validation", String(value));
      }
    })
  ));

// --- item size --------------------------------------------------------------------------------

// Each size below was measured on DynamoDB Local 3.3: the largest string it accepts beside the
// value in a 400 KB item shrinks by exactly this many bytes (attribute name included there).
Deno.test("numberSize matches DynamoDB's base-100 sizing", () => {
  const measured: ReadonlyArray<readonly [number, number]> = [
    [0, 1],
    [1, 2],
    [9, 2],
    [10, 2],
    [12, 2],
    [99, 2],
    [100, 2],
    [123, 3],
    [1234, 3],
    [12345, 4],
    [-1, 3],
    [-12, 3],
    [-123, 4],
    [0.5, 2],
    [0.05, 2],
    [1.5, 3],
    [123.456, 5],
    [1e10, 2],
    [1e-10, 2],
    [1000, 2],
    [1001, 3],
    [10001, 4],
    [1700000000000, 3],
    [0.1, 2],
    [0.123, 3],
    [0.1 + 0.2, 10],
    [-0.5, 3],
  ];
  for (const [n, size] of measured) assert.equal(numberSize(n), size, `size of ${n}`);
});

Deno.test("valueSize and itemSize match DynamoDB's sizing of every type", () => {
  const measured: ReadonlyArray<readonly [unknown, number]> = [
    ["", 0],
    ["é", 2],
    ["😀", 4],
    ["abc", 3],
    [new Uint8Array(0), 0],
    [new Uint8Array(5), 5],
    [true, 1],
    [false, 1],
    [null, 1],
    [[], 3],
    [[1], 6],
    [["a", "bc"], 8],
    [[[]], 7],
    [[null, true], 7],
    [{}, 3],
    [{ a: 1 }, 7],
    [{ ab: "x" }, 7],
    [{ a: "x", bc: "yz" }, 11],
    [{ a: {} }, 8],
    [{ a: [] }, 8],
    [{ "é": "x" }, 7],
    [[{ a: 1 }], 11],
  ];
  for (const [value, size] of measured) {
    assert.equal(valueSize(value as Item["x"]), size, `size of ${Deno.inspect(value)}`);
  }
  assert.equal(utf8Length("aé😀\uFF61"), 1 + 2 + 4 + 3);
  assert.equal(utf8Length("\uD800"), 3); // a lone surrogate, as its replacement character
  // Long strings (an ASCII run is counted apart): the bytes TextEncoder writes.
  const encoder = new TextEncoder();
  for (const tail of ["", "é", "😀", "\uD800", "\uDC00x", "\x7F", "\x80", "é😀\uFF61"]) {
    for (const s of ["x".repeat(40) + tail, tail + "x".repeat(40), "x".repeat(20) + tail + "y"]) {
      assert.equal(utf8Length(s), encoder.encode(s).length, Deno.inspect(s));
    }
  }
  // pk (2 + 1) + sk (2 + 1) + é (2 + 1) + n (1 + 2) + d (1 + 3)
  assert.equal(itemSize({ pk: "a", sk: "b", "é": "x", n: 12, d: [] }), 16);
  assert.equal(itemSize({}), 0);
});

Deno.test("the 400 KB limit is itemSize: 409,600 bytes are stored, 409,601 are not", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const base = { pk: "a", sk: "b", n: 123.456, m: { "ü": [1, null] }, d: "" };
      const fill = 409_600 - itemSize(base);
      yield* db.put(TABLE, { ...base, d: "é".repeat(fill / 2) + "x".repeat(fill % 2) });
      const e = yield* failureOf(db.put(TABLE, { ...base, d: "é".repeat(fill / 2 + 1) }));
      assert.equal((e as DynamoDBError).reason, "Validation");
      assert.match((e as DynamoDBError).detail, /Item size has exceeded the maximum allowed size/);
    })
  ));

// --- indexes and ordering ---------------------------------------------------------------------

Deno.test("an index query returns the table keys, the index keys and the projection", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const item = { pk: "a", sk: "b", gpk: "g", gsk: "1", state: "ready", n: 1, payload: "big" };
      yield* db.put(TABLE, item);
      const query = (index: string) =>
        db.query(TABLE, { index, partition: { attribute: "gpk", value: "g" } }).pipe(
          Effect.map((page) => page.items),
        );
      const keys = { pk: "a", sk: "b", gpk: "g", gsk: "1" };
      assert.deepStrictEqual(yield* query("keys"), [keys]);
      assert.deepStrictEqual(yield* query("include"), [{ ...keys, state: "ready", n: 1 }]);
      assert.deepStrictEqual(yield* query("all"), [item]);
      // A projected attribute the item lacks is simply absent.
      yield* db.update(TABLE, { pk: "a", sk: "b" }, { remove: ["n"] });
      assert.deepStrictEqual(yield* query("include"), [{ ...keys, state: "ready" }]);
    })
  ));

Deno.test("equal index sort keys are ordered by the table key, in both directions", () =>
  withDb((db) =>
    Effect.gen(function* () {
      for (const [pk, sk] of [["b", "1"], ["a", "2"], ["a", "1"], ["c", "0"]] as const) {
        yield* db.put(TABLE, { pk, sk, gpk: "g", gsk: "same" });
      }
      yield* db.put(TABLE, { pk: "z", sk: "z", gpk: "g", gsk: "earlier" });
      const order = (ascending: boolean) =>
        db.query(TABLE, { index: "keys", partition: { attribute: "gpk", value: "g" }, ascending })
          .pipe(Effect.map((page) => page.items.map((i) => `${i.pk}/${i.sk}`)));
      assert.deepStrictEqual(yield* order(true), ["z/z", "a/1", "a/2", "b/1", "c/0"]);
      assert.deepStrictEqual(yield* order(false), ["c/0", "b/1", "a/2", "a/1", "z/z"]);
      // Paging between equal sort keys resumes after the table key of the last one.
      const first = yield* db.query(TABLE, {
        index: "keys",
        partition: { attribute: "gpk", value: "g" },
        limit: 3,
      });
      assert.deepStrictEqual(first.lastKey, { pk: "a", sk: "2", gpk: "g", gsk: "same" });
      const rest = yield* db.query(TABLE, {
        index: "keys",
        partition: { attribute: "gpk", value: "g" },
        startKey: first.lastKey,
      });
      assert.deepStrictEqual(rest.items.map((i) => i.pk), ["b", "c"]);
    })
  ));

Deno.test("strings order by UTF-8 bytes: supplementary characters after U+FFxx", () =>
  withDb((db) =>
    Effect.gen(function* () {
      // UTF-16 order would put "😀" (a surrogate pair) before "｡" (U+FF61).
      const sks = ["\u{1F600}", "\uFF61", "z", "é", "A", "\uD7FF", "\uE000"];
      for (const sk of sks) yield* db.put(TABLE, { pk: "u", sk, gpk: "g", gsk: sk });
      const expected = ["A", "z", "é", "\uD7FF", "\uE000", "\uFF61", "\u{1F600}"];
      const base = yield* db.query(TABLE, { partition: { attribute: "pk", value: "u" } });
      assert.deepStrictEqual(base.items.map((i) => i.sk), expected);
      const index = yield* db.query(TABLE, {
        index: "keys",
        partition: { attribute: "gpk", value: "g" },
        sort: { attribute: "gsk", condition: { _tag: "Compare", op: ">", value: "\uFF61" } },
      });
      assert.deepStrictEqual(index.items.map((i) => i.gsk), ["\u{1F600}"]);
      // Conditions compare strings the same way.
      yield* db.update(TABLE, { pk: "u", sk: "\uFF61" }, { set: { v: "\uFF61" } }, {
        condition: compare("gsk", "<", "\u{1F600}"),
      });
    })
  ));

// --- paging (AWS's rules where DynamoDB Local departs from them) -----------------------------

Deno.test("the 1 MB page counts items read before the filter", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const base = { pk: "p", sk: "", d: "" };
      const fill = "x".repeat(262_144 - itemSize({ ...base, sk: "s0" }));
      for (let i = 0; i < 6; i++) yield* db.put(TABLE, { pk: "p", sk: `s${i}`, d: fill });
      // AWS reads 1 MB, then filters; DynamoDB Local only counts the items that pass.
      const page = yield* db.query(TABLE, {
        partition: { attribute: "pk", value: "p" },
        filter: exists("nothing"),
      });
      assert.deepStrictEqual(page, { items: [], lastKey: { pk: "p", sk: "s3" } });
    })
  ));

Deno.test("an index page is sized by what the index holds, not by the whole item", () =>
  withDb((db) =>
    Effect.gen(function* () {
      for (let i = 0; i < 6; i++) {
        yield* db.put(TABLE, {
          pk: "p",
          sk: `s${i}`,
          gpk: "g",
          gsk: `${i}`,
          payload: "x".repeat(300_000),
        });
      }
      const keysOnly = yield* db.query(TABLE, {
        index: "keys",
        partition: { attribute: "gpk", value: "g" },
      });
      assert.equal(keysOnly.items.length, 6);
      assert.equal(keysOnly.lastKey, undefined);
      const all = yield* db.query(TABLE, {
        index: "all",
        partition: { attribute: "gpk", value: "g" },
      });
      assert.equal(all.items.length, 4);
    })
  ));

// --- atomicity --------------------------------------------------------------------------------

Deno.test("concurrent conditional claims: exactly one wins each item", () =>
  withDb((db) =>
    Effect.gen(function* () {
      for (let i = 0; i < 20; i++) yield* db.put(TABLE, { pk: "m", sk: `${i}`, state: "ready" });
      const claims = Array.from({ length: 20 * 8 }, (_, n) =>
        db.update(TABLE, { pk: "m", sk: `${n % 20}` }, {
          set: { state: "inflight", owner: n },
          add: { receives: 1 },
        }, { condition: eq("state", "ready") }).pipe(
          Effect.as(1),
          Effect.catchTag("ConditionFailed", () =>
            Effect.succeed(0)),
        ));
      const won = yield* Effect.all(claims, { concurrency: "unbounded" });
      assert.equal(
        won.reduce((a, b) =>
          a + b, 0),
        20,
      );
      const adds = Array.from(
        { length: 100 },
        () => db.update(TABLE, { pk: "counter", sk: "c" }, { add: { n: 1 } }),
      );
      yield* Effect.all(adds, { concurrency: "unbounded" });
      assert.equal((yield* db.get(TABLE, { pk: "counter", sk: "c" }))?.n, 100);
    })
  ));

Deno.test("a failed transaction reports the first false condition and writes nothing", () =>
  withDb((db) =>
    Effect.gen(function* () {
      yield* db.put(TABLE, { pk: "a", sk: "1", v: 1 });
      const e = yield* failureOf(db.transactWrite([
        { _tag: "Put", table: TABLE, item: { pk: "b", sk: "1" }, condition: notExists("pk") },
        { _tag: "Update", table: TABLE, key: { pk: "a", sk: "1" }, update: { add: { v: 1 } } },
        {
          _tag: "ConditionCheck",
          table: TABLE,
          key: { pk: "c", sk: "1" },
          condition: exists("pk"),
        },
        { _tag: "Delete", table: TABLE, key: { pk: "a", sk: "2" }, condition: exists("pk") },
      ]));
      const failed = e as ConditionFailed;
      assert.equal(failed._tag, "ConditionFailed");
      assert.equal(failed.operation, "transactWrite");
      assert.deepStrictEqual(failed.key, { pk: "c", sk: "1" });
      assert.equal(yield* db.get(TABLE, { pk: "b", sk: "1" }), undefined);
      assert.deepStrictEqual(yield* db.get(TABLE, { pk: "a", sk: "1" }), {
        pk: "a",
        sk: "1",
        v: 1,
      });
    })
  ));

Deno.test("a failed conditional put names the item's key", () =>
  withDb((db) =>
    Effect.gen(function* () {
      yield* db.put(TABLE, { pk: "a", sk: "1" });
      const e = yield* failureOf(
        db.put(TABLE, { pk: "a", sk: "1", v: 2 }, { condition: notExists("pk") }),
      );
      assert.deepStrictEqual((e as ConditionFailed).key, { pk: "a", sk: "1" });
    })
  ));

// --- feature switches -------------------------------------------------------------------------

Deno.test("layerMemoryWith({ transactions: false }) fails transactWrite as Unsupported", () =>
  withDb(
    (db) =>
      Effect.gen(function* () {
        const e = yield* failureOf(
          db.transactWrite([{ _tag: "Put", table: TABLE, item: { pk: "a", sk: "b" } }]),
        );
        assert.equal((e as DynamoDBError).reason, "Unsupported");
        assert.equal((e as DynamoDBError).retryable, false);
        assert.equal(yield* db.get(TABLE, { pk: "a", sk: "b" }), undefined);
      }),
    layerMemoryWith({ transactions: false }),
  ));

Deno.test("layerMemoryWith({ ttl: false }) fails enableTimeToLive as Unsupported", () =>
  withDb(
    (db) =>
      Effect.gen(function* () {
        const e = yield* failureOf(db.enableTimeToLive(TABLE, "ttl"));
        assert.equal((e as DynamoDBError).reason, "Unsupported");
        assert.equal((yield* db.describeTable(TABLE)).ttlAttribute, undefined);
      }),
    layerMemoryWith({ ttl: false }),
  ));

Deno.test("TTL deletes an expired item an hour after it expired, at the next write or query", () =>
  withDb((db) =>
    Effect.gen(function* () {
      yield* db.enableTimeToLive(TABLE, "ttl");
      assert.equal((yield* db.describeTable(TABLE)).ttlAttribute, "ttl");
      const t0 = 10_000; // seconds
      yield* TestClock.setTime(t0 * 1000);
      yield* db.put(TABLE, { pk: "a", sk: "1", ttl: t0 }); // expires now
      yield* db.put(TABLE, { pk: "a", sk: "2", ttl: t0 + 3600 }); // in an hour
      yield* db.put(TABLE, { pk: "a", sk: "3", ttl: "not a number" });
      // A later write without a TTL keeps the item.
      yield* db.put(TABLE, { pk: "a", sk: "4", ttl: t0 });
      yield* db.put(TABLE, { pk: "a", sk: "4" });
      const left = Effect.map(
        db.query(TABLE, { partition: { attribute: "pk", value: "a" } }),
        (page) => page.items.map((i) => i.sk),
      );
      // Expired, but not an hour ago: still there (DynamoDB too deletes within days, not at once).
      yield* TestClock.setTime((t0 + 3599) * 1000);
      assert.deepEqual(yield* left, ["1", "2", "3", "4"]);
      yield* TestClock.setTime((t0 + 3600) * 1000 + 1);
      assert.deepEqual(yield* left, ["2", "3", "4"]);
      yield* TestClock.setTime((t0 + 7200) * 1000 + 1);
      assert.deepEqual(yield* left, ["3", "4"]);
    })
  ));

Deno.test("layerMemoryWith({ ttlDeletionDelay: 0 }) deletes an item as soon as its TTL passes", () =>
  withDb(
    (db) =>
      Effect.gen(function* () {
        yield* db.enableTimeToLive(TABLE, "ttl");
        yield* TestClock.setTime(5_000);
        yield* db.put(TABLE, { pk: "a", sk: "1", ttl: 6 });
        yield* TestClock.setTime(6_000);
        yield* db.put(TABLE, { pk: "b", sk: "1" });
        assert.equal(yield* db.get(TABLE, { pk: "a", sk: "1" }), undefined);
      }),
    layerMemoryWith({ ttlDeletionDelay: 0 }),
  ));

Deno.test("describeTable reports what createTable was given", () =>
  withDb((db) =>
    Effect.gen(function* () {
      const description = yield* db.describeTable(TABLE);
      assert.deepStrictEqual(description, {
        name: TABLE,
        status: "ACTIVE",
        keys: [
          { attribute: "pk", keyType: "HASH", type: "S" },
          { attribute: "sk", keyType: "RANGE", type: "S" },
        ],
        indexes: definition.indexes.map((index) => ({
          name: index.name,
          keys: [
            { attribute: "gpk", keyType: "HASH", type: "S" },
            { attribute: "gsk", keyType: "RANGE", type: "S" },
          ],
          projection: index.projection,
          status: "ACTIVE",
        })),
      });
      yield* db.deleteTable(TABLE);
      const e = yield* failureOf(db.describeTable(TABLE));
      assert.equal((e as DynamoDBError).reason, "TableNotFound");
    })
  ));

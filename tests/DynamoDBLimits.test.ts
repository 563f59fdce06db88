/**
 * DynamoDB's limits and validation rules that the conformance suite (tests/DynamoDB.test.ts)
 * does not pin: exact item sizes, key and index key rules, nesting, numbers, the 1 MB query
 * page, the 16 MB batch-get response, the 4 MB transaction, expression checks and table
 * definitions. Every case runs on every backend; a case that dynalite gets wrong (it is not
 * DynamoDB) names the backends it runs on, and says why.
 */
import assert from "node:assert/strict";
import { Effect, type Scope } from "effect";
import type { DynamoDBError, DynamoDBErrorReason } from "../src/Errors.ts";
import { itemSize } from "../src/internal/itemSize.ts";
import {
  and,
  beginsWith,
  compare,
  type Condition,
  DynamoDB,
  eq,
  exists,
  isIn,
  type Item,
  type Key,
  not,
  notExists,
  or,
  type TableDefinition,
} from "../src/services/DynamoDB.ts";
import { type Backend, backends, uniqueTableName } from "./_backends.ts";
import { runWith } from "./_effect.ts";

const definition = (name: string): TableDefinition => ({
  name,
  partitionKey: "pk",
  sortKey: "sk",
  indexes: [
    { name: "ready", partitionKey: "gpk", sortKey: "gsk", projection: ["state"] },
    { name: "everything", partitionKey: "gpk", sortKey: "gsk", projection: "ALL" },
  ],
});

const withTable = <A, E>(
  body: (db: DynamoDB, table: string) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, E | DynamoDBError, DynamoDB | Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* DynamoDB;
    const table = uniqueTableName("limits");
    yield* Effect.acquireRelease(
      db.createTable(definition(table)),
      () => Effect.orDie(db.deleteTable(table)),
    );
    return yield* body(db, table);
  });

const failureOf = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<E> =>
  Effect.matchEffect(effect, {
    onFailure: Effect.succeed,
    onSuccess: (a) =>
      Effect.die(
        new assert.AssertionError({ message: `expected a failure, got ${Deno.inspect(a)}` }),
      ),
  });

const expectReason = <A, E extends { readonly _tag: string }>(
  effect: Effect.Effect<A, E>,
  reason: DynamoDBErrorReason,
  what = "",
): Effect.Effect<void> =>
  Effect.map(failureOf(effect), (e) => {
    assert.equal(e._tag, "DynamoDBError", `${what}: expected ${reason}, got ${Deno.inspect(e)}`);
    assert.equal((e as unknown as DynamoDBError).reason, reason, `${what}: ${Deno.inspect(e)}`);
    assert.equal((e as unknown as DynamoDBError).retryable, false);
  });

const expectValidation = <A, E extends { readonly _tag: string }>(
  effect: Effect.Effect<A, E>,
  what = "",
): Effect.Effect<void> => expectReason(effect, "Validation", what);

const expectConditionFailed = <A, E extends { readonly _tag: string }>(
  effect: Effect.Effect<A, E>,
  what = "",
): Effect.Effect<void> =>
  Effect.map(failureOf(effect), (e) => assert.equal(e._tag, "ConditionFailed", what));

/** An item of exactly `bytes` bytes: the key, `extra`, and a string `d` filling the rest. */
const sized = (key: Key, extra: Item, bytes: number): Item => {
  const base = { ...key, ...extra, d: "" };
  return { ...base, d: "x".repeat(bytes - itemSize(base)) };
};

type BackendName = Backend["name"];
/** dynalite is an emulator of its own: these cases pin DynamoDB where it departs from it. */
const notDynalite: ReadonlyArray<BackendName> = ["memory", "dynamodb-local"];

const suite = (backend: Backend) => {
  const test = <A, E>(
    name: string,
    body: (db: DynamoDB, table: string) => Effect.Effect<A, E, Scope.Scope>,
    options: { readonly only?: ReadonlyArray<BackendName>; readonly ignore?: boolean } = {},
  ) =>
    Deno.test({
      name: `${backend.name}: ${name}`,
      ignore: (options.ignore ?? false) ||
        (options.only !== undefined && !options.only.includes(backend.name)),
      fn: () => runWith(backend.layer, withTable(body)).then(() => undefined),
    });

  // --- item size -------------------------------------------------------------------------------

  /** Values whose size rules differ; each is stored in an item of exactly 400 KB. */
  const sizeCases: ReadonlyArray<readonly [string, Item]> = [
    ["no extra attribute", {}],
    ["small numbers", { a: 0, b: 1, c: 12, e: 100, f: -1, g: -123 }],
    ["fractions", { a: 0.5, b: 0.05, c: 1.5, e: 123.456, f: 0.1 + 0.2, g: -0.5 }],
    ["large and tiny numbers", { a: 1e10, b: 1e-10, c: 1700000000000, e: 10001, f: 2 ** 52 }],
    ["booleans, null and binary", { a: true, b: false, c: null, e: new Uint8Array(7) }],
    ["empty values", { a: "", b: new Uint8Array(0), c: [], e: {} }],
    ["lists", { a: [1, "ab", null], b: [[], [true]], c: [{ k: "v" }] }],
    ["maps", { a: { k: 1 }, b: { long_name: "v", other: [1, 2] }, c: { n: { m: {} } } }],
  ];

  for (const [what, extra] of sizeCases) {
    test(
      `an item of exactly 400 KB is stored, one byte more is not (${what})`,
      (db, table) =>
        Effect.gen(function* () {
          const key = { pk: "p", sk: "s" };
          const item = sized(key, extra, 409_600);
          assert.equal(itemSize(item), 409_600);
          yield* db.put(table, item);
          assert.deepStrictEqual(yield* db.get(table, key), item);
          yield* expectValidation(db.put(table, sized(key, extra, 409_601)), what);
        }),
    );
  }

  test(
    "strings and names are sized in UTF-8 bytes",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        const extra = { "é": "ü", a: "😀", m: { "名": "値" }, l: ["\uFF61"] };
        yield* db.put(table, sized(key, extra, 409_600));
        yield* expectValidation(db.put(table, sized(key, extra, 409_601)));
      }),
    // dynalite counts UTF-16 code units, not bytes.
    { only: notDynalite },
  );

  test(
    "an update whose result exceeds 400 KB fails with Validation",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, d: "x".repeat(300_000) });
        yield* expectValidation(db.update(table, key, { set: { e: "y".repeat(200_000) } }));
        // The condition is checked first: a false one reports ConditionFailed.
        yield* expectConditionFailed(
          db.update(table, key, { set: { e: "y".repeat(200_000) } }, {
            condition: notExists("pk"),
          }),
        );
        assert.equal(((yield* db.get(table, key))?.d as string).length, 300_000);
      }),
  );

  test(
    "an update whose own values cannot fit fails with Validation before its condition",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key });
        yield* expectValidation(
          db.update(table, key, { set: { e: "y".repeat(409_600) } }, {
            condition: notExists("pk"),
          }),
        );
      }),
    { only: notDynalite },
  );

  // --- keys ------------------------------------------------------------------------------------

  test(
    "key values: 2048 bytes of partition key and 1024 of sort key at most",
    (db, table) =>
      Effect.gen(function* () {
        yield* db.put(table, { pk: "p".repeat(2048), sk: "s".repeat(1024) });
        yield* expectValidation(db.put(table, { pk: "p".repeat(2049), sk: "s" }));
        yield* expectValidation(db.put(table, { pk: "p", sk: "s".repeat(1025) }));
        yield* expectValidation(db.get(table, { pk: "p".repeat(2049), sk: "s" }));
        yield* expectValidation(db.get(table, { pk: "p", sk: "s".repeat(1025) }));
      }),
  );

  test("a key must name exactly the key attributes", (db, table) =>
    Effect.gen(function* () {
      yield* expectValidation(db.get(table, { pk: "p" }), "missing sort key");
      yield* expectValidation(db.get(table, { pk: "p", sk: "s", x: "y" }), "extra attribute");
      yield* expectValidation(db.delete(table, { pk: "p", sk: "s", x: "y" }), "delete");
      yield* expectValidation(db.update(table, { pk: "p" }, { set: { a: 1 } }), "update");
      yield* expectValidation(db.put(table, { pk: "p" }), "put without sort key");
      yield* expectValidation(db.put(table, { pk: "p", sk: new Uint8Array([1]) }), "binary key");
    }));

  test(
    "index key attributes must be strings where present; absent means not indexed",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectValidation(db.put(table, { pk: "p", sk: "1", gpk: 1, gsk: "a" }), "number");
        yield* expectValidation(db.put(table, { pk: "p", sk: "1", gpk: "g", gsk: null }), "null");
        yield* expectValidation(db.update(table, { pk: "p", sk: "1" }, { set: { gsk: true } }));
        yield* db.put(table, { pk: "p", sk: "2", gpk: "g" }); // only one index key: not indexed
        const page = yield* db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "g" },
        });
        assert.deepStrictEqual(page.items, []);
      }),
  );

  test(
    "an empty or oversized index key fails with Validation",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectValidation(db.put(table, { pk: "p", sk: "1", gpk: "", gsk: "a" }));
        yield* expectValidation(db.put(table, { pk: "p", sk: "1", gsk: "" }), "gsk alone");
        yield* expectValidation(db.update(table, { pk: "p", sk: "1" }, { set: { gpk: "" } }));
        yield* expectValidation(
          db.batchWrite(table, [{ _tag: "Put", item: { pk: "p", sk: "1", gpk: "" } }]),
        );
        yield* expectValidation(
          db.put(table, { pk: "p", sk: "1", gpk: "g".repeat(2049), gsk: "a" }),
        );
        yield* expectValidation(
          db.put(table, { pk: "p", sk: "1", gpk: "g", gsk: "a".repeat(1025) }),
        );
        yield* db.put(table, { pk: "p", sk: "1", gpk: "g".repeat(2048), gsk: "a".repeat(1024) });
      }),
    // dynalite accepts empty and oversized index keys.
    { only: notDynalite },
  );

  test(
    "a false condition wins over an invalid index key in an update",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, key);
        yield* expectConditionFailed(
          db.update(table, key, { set: { gpk: 1 } }, { condition: notExists("pk") }),
        );
      }),
    // dynalite validates the index key first.
    { only: notDynalite },
  );

  // --- values ----------------------------------------------------------------------------------

  test(
    "lists and maps nest 31 levels deep at most; names are never empty",
    (db, table) =>
      Effect.gen(function* () {
        /** `depth` maps (or lists), each inside the one before. */
        const maps = (depth: number): Item["x"] => {
          let value: Item["x"] = {};
          for (let i = 1; i < depth; i++) value = { x: value };
          return value;
        };
        const lists = (depth: number): Item["x"] => {
          let value: Item["x"] = [];
          for (let i = 1; i < depth; i++) value = [value];
          return value;
        };
        yield* db.put(table, { pk: "p", sk: "s", m: maps(31), l: lists(31) });
        yield* expectValidation(db.put(table, { pk: "p", sk: "s", m: maps(32) }), "maps");
        yield* expectValidation(db.put(table, { pk: "p", sk: "s", l: lists(32) }), "lists");
        yield* expectValidation(db.put(table, { pk: "p", sk: "s", "": 1 }), "top-level name");
        yield* expectValidation(db.put(table, { pk: "p", sk: "s", m: { "": 1 } }), "nested name");
        yield* expectValidation(
          db.update(table, { pk: "p", sk: "s" }, { set: { m: { "": 1 } } }),
          "update value",
        );
      }),
    // dynalite allows deeper nesting and empty names.
    { only: notDynalite },
  );

  test(
    "numbers: finite, exactly representable, and within DynamoDB's range",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, a: Number.MAX_SAFE_INTEGER, b: -1e-130, c: 1e-130 });
        for (const n of [NaN, Infinity, -Infinity, 1e-131, 2 ** 60, -(2 ** 60)]) {
          yield* expectValidation(db.put(table, { ...key, n }), `put ${n}`);
          yield* expectValidation(db.update(table, key, { add: { n } }), `add ${n}`);
          yield* expectValidation(db.update(table, key, { set: { n } }), `set ${n}`);
          yield* expectValidation(
            db.update(table, key, { set: { a: 1 } }, { condition: eq("a", n) }),
            `condition ${n}`,
          );
        }
      }),
  );

  test(
    "ADD adds decimals exactly; ADD to a non-number fails with Validation",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, n: 0.1, s: "x" });
        assert.equal((yield* db.update(table, key, { add: { n: 0.2 } })).n, 0.3);
        assert.equal((yield* db.update(table, key, { add: { n: -0.3 } })).n, 0);
        assert.equal((yield* db.update(table, key, { add: { n: 1.5 } })).n, 1.5);
        yield* expectValidation(db.update(table, key, { add: { s: 1 } }));
        assert.equal((yield* db.get(table, key))?.s, "x");
      }),
  );

  test(
    "an update that only removes still creates the item",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        assert.deepStrictEqual(yield* db.update(table, key, { remove: ["a"] }), key);
        assert.deepStrictEqual(yield* db.get(table, key), key);
      }),
  );

  // --- conditions ------------------------------------------------------------------------------

  const holds = (db: DynamoDB, table: string, key: Key) => (condition: Condition) =>
    db.update(table, key, { set: { probe: 1 } }, { condition }).pipe(
      Effect.as(true),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(false)),
    );

  test(
    "comparisons across types are false, their negation true",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, n: 5, s: "abc", b: new Uint8Array([1, 2]) });
        const check = holds(db, table, key);
        const results = yield* Effect.forEach([
          compare("n", "<", "x"),
          not(compare("n", "<", "x")),
          compare("s", ">", 1),
          compare("b", ">", new Uint8Array([1])),
          compare("b", "<", new Uint8Array([1, 3])),
          eq("b", new Uint8Array([1, 2])),
          beginsWith("n", "5"),
          beginsWith("b", "x"),
          beginsWith("s", ""),
          eq("s", ""),
        ], check);
        assert.deepStrictEqual(results, [
          false,
          true,
          false,
          true,
          true,
          true,
          false,
          false,
          true,
          false,
        ]);
      }),
  );

  test(
    "= and <> compare lists and maps by value; In does too",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, l: [1, "x"], m: { a: 1, b: [true] }, t: true, z: null });
        const check = holds(db, table, key);
        const results = yield* Effect.forEach([
          eq("l", [1, "x"]),
          eq("l", ["x", 1]),
          compare("l", "<>", [1, "y"]),
          eq("m", { b: [true], a: 1 }),
          eq("m", { a: 1 }),
          eq("t", true),
          eq("z", null),
          isIn("l", [3, [1, "x"]]),
          isIn("m", [{ a: 1, b: [true] }]),
        ], check);
        assert.deepStrictEqual(results, [true, false, true, true, false, true, true, true, true]);
      }),
    // dynalite never finds lists or maps equal.
    { only: notDynalite },
  );

  test(
    "expression checks: ordering a list, bool or null, or 101 In operands, is Validation",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, l: [1] });
        const update = (condition: Condition) =>
          db.update(table, key, { set: { a: 1 } }, { condition });
        yield* expectValidation(update(compare("l", "<", [2])), "list");
        yield* expectValidation(update(compare("l", ">=", true)), "bool");
        yield* expectValidation(update(compare("l", "<=", null)), "null");
        yield* expectValidation(update(compare("l", ">", { a: 1 })), "map");
        const values = Array.from({ length: 101 }, (_, i) => i);
        yield* expectValidation(update(isIn("a", values)), "101 operands");
        yield* expectConditionFailed(update(isIn("a", values.slice(1))), "100 operands");
      }),
    // dynalite evaluates these instead of rejecting them.
    { only: notDynalite },
  );

  test(
    "a condition on an empty attribute name is Validation",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* expectValidation(
          db.update(table, key, { set: { a: 1 } }, { condition: exists("") }),
        );
        yield* expectValidation(db.update(table, key, { set: { "": 1 } }));
        yield* expectValidation(db.update(table, key, { remove: [""] }));
      }),
  );

  test(
    "constant conditions: an empty And holds, an empty Or or In does not",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        const check = holds(db, table, key);
        const results = yield* Effect.forEach([
          and(),
          or(),
          isIn("a", []),
          not(or()),
          or(and(), eq("a", 1)),
          and(or(), eq("a", 1)),
        ], check);
        assert.deepStrictEqual(results, [true, false, false, true, true, false]);
      }),
  );

  // --- queries ---------------------------------------------------------------------------------

  const page = (pk: string) => ({ partition: { attribute: "pk", value: pk } });

  test("query validation", (db, table) =>
    Effect.gen(function* () {
      yield* expectValidation(db.query(table, { ...page("p"), limit: 0 }), "limit 0");
      yield* expectValidation(
        db.query(table, { ...page("p"), index: "nope" }),
        "unknown index",
      );
      yield* expectValidation(
        db.query(table, { partition: { attribute: "sk", value: "p" } }),
        "wrong partition attribute",
      );
      yield* expectValidation(
        db.query(table, { index: "ready", partition: { attribute: "pk", value: "p" } }),
        "table key on index",
      );
      yield* expectValidation(
        db.query(table, {
          ...page("p"),
          sort: { attribute: "gsk", condition: { _tag: "Compare", op: "<", value: "x" } },
        }),
        "wrong sort attribute",
      );
      yield* expectValidation(
        db.query(table, { partition: { attribute: "pk", value: 1 } }),
        "number partition",
      );
      yield* expectValidation(
        db.query(table, {
          ...page("p"),
          sort: { attribute: "sk", condition: { _tag: "Compare", op: "<", value: 1 } },
        }),
        "number sort value",
      );
      yield* expectValidation(
        db.query(table, {
          ...page("p"),
          sort: { attribute: "sk", condition: { _tag: "Between", low: "b", high: "a" } },
        }),
        "between reversed",
      );
      yield* expectValidation(
        db.query(table, { ...page("p"), filter: eq("sk", "s") }),
        "filter key",
      );
      yield* expectValidation(
        db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "g" },
          filter: eq("gsk", "s"),
        }),
        "filter on index key",
      );
      // The table key is not a key of the index: an index query may filter on it.
      yield* db.query(table, {
        index: "ready",
        partition: { attribute: "gpk", value: "g" },
        filter: eq("pk", "p"),
      });
    }));

  test(
    "query validation DynamoDB does and dynalite does not",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectValidation(db.query(table, page("")), "empty partition");
        yield* expectValidation(
          db.query(table, {
            ...page("p"),
            sort: { attribute: "sk", condition: { _tag: "BeginsWith", prefix: "" } },
          }),
          "empty prefix",
        );
        yield* expectValidation(
          db.query(table, {
            index: "ready",
            partition: { attribute: "gpk", value: "g" },
            filter: eq("payload", "x"),
          }),
          "filter on an attribute the index does not project",
        );
        yield* db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "g" },
          filter: eq("state", "ready"),
        });
      }),
    { only: notDynalite },
  );

  test(
    "startKey: checked against the query, exclusive, anywhere in the partition",
    (db, table) =>
      Effect.gen(function* () {
        yield* Effect.forEach(
          ["a", "c", "e"],
          (sk) => db.put(table, { pk: "p", sk }),
          { discard: true },
        );
        const after = (startKey: Key) => db.query(table, { ...page("p"), startKey });
        const sks = (items: ReadonlyArray<Item>) => items.map((i) => i.sk);
        assert.deepStrictEqual(sks((yield* after({ pk: "p", sk: "a" })).items), ["c", "e"]);
        assert.deepStrictEqual(sks((yield* after({ pk: "p", sk: "b" })).items), ["c", "e"]);
        const end = yield* after({ pk: "p", sk: "e" });
        assert.deepStrictEqual(end, { items: [] });
        const descending = yield* db.query(table, {
          ...page("p"),
          ascending: false,
          startKey: { pk: "p", sk: "d" },
        });
        assert.deepStrictEqual(sks(descending.items), ["c", "a"]);
        yield* expectValidation(after({ pk: "q", sk: "a" }), "other partition");
        yield* expectValidation(after({ pk: "p" }), "missing sort key");
        yield* expectValidation(after({ pk: "p", sk: "a", x: "y" }), "extra attribute");
        yield* expectValidation(
          db.query(table, {
            ...page("p"),
            sort: { attribute: "sk", condition: { _tag: "Compare", op: ">", value: "b" } },
            startKey: { pk: "p", sk: "a" },
          }),
          "outside the sort condition",
        );
        yield* expectValidation(
          db.query(table, {
            index: "ready",
            partition: { attribute: "gpk", value: "g" },
            startKey: { pk: "p", sk: "a" },
          }),
          "index query with a table key",
        );
      }),
  );

  /** Six items of `bytes` each in partition `pk`. */
  const bigPartition = (db: DynamoDB, table: string, pk: string, bytes: number) =>
    Effect.forEach(
      [0, 1, 2, 3, 4, 5],
      (i) => db.put(table, sized({ pk, sk: `s${i}` }, { gpk: pk, gsk: `s${i}` }, bytes)),
      { discard: true },
    );

  test(
    "a query page stops after the item that brings it to 1 MB",
    (db, table) =>
      Effect.gen(function* () {
        // 4 × 262,144 bytes is exactly 1 MB: the page ends with the 4th item.
        yield* bigPartition(db, table, "a", 262_144);
        const first = yield* db.query(table, page("a"));
        assert.equal(first.items.length, 4);
        assert.deepStrictEqual(first.lastKey, { pk: "a", sk: "s3" });
        const second = yield* db.query(table, { ...page("a"), startKey: first.lastKey });
        assert.equal(second.items.length, 2);
        assert.equal(second.lastKey, undefined);
        // 3 × 349,526 bytes passes 1 MB: the page ends with the 3rd item.
        yield* bigPartition(db, table, "b", 349_526);
        const third = yield* db.query(table, page("b"));
        assert.equal(third.items.length, 3);
        assert.deepStrictEqual(third.lastKey, { pk: "b", sk: "s2" });
        // The same through an index that projects everything.
        const indexed = yield* db.query(table, {
          index: "everything",
          partition: { attribute: "gpk", value: "b" },
        });
        assert.equal(indexed.items.length, 3);
        assert.deepStrictEqual(indexed.lastKey, { pk: "b", sk: "s2", gpk: "b", gsk: "s2" });
      }),
  );

  test(
    "a query page under 1 MB takes the next item",
    (db, table) =>
      Effect.gen(function* () {
        // 4 × 262,143 bytes is one byte short of 1 MB: a 5th item is read.
        yield* bigPartition(db, table, "a", 262_143);
        const first = yield* db.query(table, page("a"));
        assert.equal(first.items.length, 5);
        assert.deepStrictEqual(first.lastKey, { pk: "a", sk: "s4" });
      }),
    // dynalite sizes items for paging with its own storage estimate.
    { only: notDynalite },
  );

  // --- batches and transactions ----------------------------------------------------------------

  test(
    "a batchGet response holds at most 16 MB; the other keys come back unprocessed",
    (db, table) =>
      Effect.gen(function* () {
        const keys = Array.from({ length: 50 }, (_, i) => ({
          pk: `b${String(i).padStart(2, "0")}`,
          sk: "s",
        }));
        for (let i = 0; i < keys.length; i += 25) {
          yield* db.batchWrite(
            table,
            keys.slice(i, i + 25).map((key) => ({ _tag: "Put", item: sized(key, {}, 409_600) })),
          );
        }
        const result = yield* db.batchGet(table, keys);
        // 40 × 409,600 bytes fit in 16 MiB, 41 do not.
        assert.equal(result.items.length, 40);
        assert.equal(result.unprocessed.length, 10);
        const seen = [...result.items.map((i) => i.pk), ...result.unprocessed.map((k) => k.pk)];
        assert.deepStrictEqual(seen.sort(), keys.map((k) => k.pk));
      }),
    // dynalite cuts the response with its own size estimate.
    { only: notDynalite },
  );

  test(
    "batches reject empty keys, bad keys and duplicates as a whole",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectValidation(
          db.batchGet(table, [{ pk: "a", sk: "s" }, { pk: "a", sk: "s" }]),
          "duplicate get",
        );
        yield* expectValidation(db.batchGet(table, [{ pk: "a" }]), "bad get key");
        yield* expectValidation(
          db.batchWrite(table, [
            { _tag: "Put", item: { pk: "a", sk: "s" } },
            { _tag: "Delete", key: { pk: "a", sk: "s" } },
          ]),
          "put and delete of one key",
        );
        yield* expectValidation(
          db.batchWrite(table, [
            { _tag: "Put", item: { pk: "b", sk: "s" } },
            { _tag: "Put", item: { pk: "c", sk: "" } },
          ]),
          "one bad item",
        );
        yield* expectValidation(
          db.batchWrite(table, [
            { _tag: "Put", item: { pk: "b", sk: "s" } },
            { _tag: "Put", item: sized({ pk: "c", sk: "s" }, {}, 409_601) },
          ]),
          "one oversized item",
        );
        assert.equal(yield* db.get(table, { pk: "b", sk: "s" }), undefined);
      }),
  );

  test(
    "a transaction carries at most 4 MB",
    (db, table) =>
      Effect.gen(function* () {
        const puts = (last: number) => [
          ...Array.from({ length: 10 }, (_, i) => ({
            _tag: "Put" as const,
            table,
            item: sized({ pk: `t${i}`, sk: "s" }, {}, 409_600),
          })),
          { _tag: "Put" as const, table, item: sized({ pk: "tz", sk: "s" }, {}, last) },
        ];
        yield* expectValidation(db.transactWrite(puts(98_305)), "4 MB + 1 byte");
        assert.equal(yield* db.get(table, { pk: "t0", sk: "s" }), undefined);
        yield* db.transactWrite(puts(98_304));
        assert.notEqual(yield* db.get(table, { pk: "tz", sk: "s" }), undefined);
      }),
    { ignore: !backend.transactions },
  );

  test(
    "a transaction with an invalid update fails with Validation, even beside a false condition",
    (db, table) =>
      Effect.gen(function* () {
        yield* db.put(table, { pk: "u", sk: "s", s: "x" });
        yield* db.put(table, { pk: "c", sk: "s" });
        yield* expectValidation(db.transactWrite([
          { _tag: "Update", table, key: { pk: "u", sk: "s" }, update: { add: { s: 1 } } },
          {
            _tag: "ConditionCheck",
            table,
            key: { pk: "c", sk: "s" },
            condition: notExists("pk"),
          },
        ]));
        yield* expectValidation(
          db.transactWrite(Array.from({ length: 101 }, (_, i) => ({
            _tag: "Put" as const,
            table,
            item: { pk: `x${i}`, sk: "s" },
          }))),
          "101 actions",
        );
      }),
    { ignore: !backend.transactions },
  );

  // --- tables ----------------------------------------------------------------------------------

  test("table and index definitions are validated", (db, table) =>
    Effect.gen(function* () {
      const base = { partitionKey: "pk", sortKey: "sk", indexes: [] };
      const index = {
        name: "idx",
        partitionKey: "gpk",
        sortKey: "gsk",
        projection: "ALL" as const,
      };
      for (const name of ["ab", "a b", "x".repeat(256), "tä-ble"]) {
        yield* expectValidation(db.createTable({ ...base, name }), `table name ${name}`);
        yield* expectValidation(db.describeTable(name), `describe ${name}`);
        yield* expectValidation(db.get(name, { pk: "p", sk: "s" }), `get ${name}`);
      }
      const name = `${table}-2`;
      yield* expectValidation(db.createTable({ ...base, name, sortKey: "pk" }), "pk = sk");
      yield* expectValidation(
        db.createTable({ ...base, name, indexes: [{ ...index, name: "ix" }] }),
        "index name",
      );
      yield* expectValidation(
        db.createTable({ ...base, name, indexes: [index, index] }),
        "duplicate index",
      );
      yield* expectValidation(
        db.createTable({ ...base, name, indexes: [{ ...index, sortKey: "gpk" }] }),
        "index pk = sk",
      );
      yield* expectValidation(
        db.createTable({
          ...base,
          name,
          indexes: Array.from({ length: 21 }, (_, i) => ({ ...index, name: `idx${i}` })),
        }),
        "21 indexes",
      );
      yield* expectReason(db.describeTable(name), "TableNotFound", "nothing was created");
    }));

  test(
    "enabling TTL twice fails with Validation",
    (db, table) =>
      Effect.gen(function* () {
        yield* db.enableTimeToLive(table, "ttl");
        yield* expectValidation(db.enableTimeToLive(table, "ttl"), "same attribute");
        yield* expectValidation(db.enableTimeToLive(table, "other"), "other attribute");
        assert.equal((yield* db.describeTable(table)).ttlAttribute, "ttl");
      }),
    { ignore: !backend.ttl },
  );
};

for (const backend of backends) suite(backend);

for (const backend of backends) {
  Deno.test(`${backend.name}: a query filter that never holds returns no items, even on a keys-and-few-attributes index`, () =>
    runWith(
      backend.layer,
      Effect.gen(function* () {
        const db = yield* DynamoDB;
        const table = uniqueTableName("never");
        yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(table)));
        yield* db.createTable({
          name: table,
          partitionKey: "pk",
          sortKey: "sk",
          indexes: [{ name: "ready", partitionKey: "gpk", sortKey: "gsk", projection: ["state"] }],
        });
        yield* db.put(table, { pk: "a", sk: "1", gpk: "p", gsk: "1", state: "ready" });
        const page = yield* db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "p" },
          filter: or(),
        });
        assert.deepEqual(page.items, []);
        const inEmpty = yield* db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "p" },
          filter: isIn("state", []),
        });
        assert.deepEqual(inEmpty.items, []);
      }),
    ));
}

/**
 * The port conformance suite: every case runs against every backend (memory, dynalite, DynamoDB
 * Local) and pins what DynamoDB really does, so the memory layer can be held to it. Each case
 * creates its own table in the DynamoMQ shape and deletes it afterwards.
 */
import assert from "node:assert/strict";
import { Cause, Effect, Exit, Fiber, type Scope } from "effect";
import type { ConditionFailed, DynamoDBError, DynamoDBErrorReason } from "../src/Errors.ts";
import {
  and,
  beginsWith,
  type Comparator,
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
  type Query,
  type TableDefinition,
} from "../src/services/DynamoDB.ts";
import { type Backend, backends, uniqueTableName } from "./_backends.ts";
import { runWith } from "./_effect.ts";

const definition = (name: string): TableDefinition => ({
  name,
  partitionKey: "pk",
  sortKey: "sk",
  indexes: [{
    name: "ready",
    partitionKey: "gpk",
    sortKey: "gsk",
    projection: ["state", "sentAt"],
  }],
});

/** Creates a fresh table for the body and deletes it afterwards, whatever happens. */
const withTable = <A, E>(
  body: (db: DynamoDB, table: string) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, E | DynamoDBError, DynamoDB | Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* DynamoDB;
    const table = uniqueTableName();
    yield* Effect.acquireRelease(
      db.createTable(definition(table)),
      () => Effect.orDie(db.deleteTable(table)),
    );
    return yield* body(db, table);
  });

/** The failure of an effect that must fail. */
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
): Effect.Effect<void> =>
  Effect.map(failureOf(effect), (e) => {
    assert.equal(
      e._tag,
      "DynamoDBError",
      `expected DynamoDBError(${reason}), got ${Deno.inspect(e)}`,
    );
    assert.equal((e as unknown as DynamoDBError).reason, reason, Deno.inspect(e));
  });

const expectConditionFailed = <A, E extends { readonly _tag: string }>(
  effect: Effect.Effect<A, E>,
  expected: { readonly table: string; readonly operation: string; readonly key?: Key },
): Effect.Effect<void> =>
  Effect.map(failureOf(effect), (e) => {
    assert.equal(e._tag, "ConditionFailed", Deno.inspect(e));
    const failed = e as unknown as ConditionFailed;
    assert.equal(failed.table, expected.table);
    assert.equal(failed.operation, expected.operation);
    if (expected.key !== undefined) assert.deepStrictEqual(failed.key, expected.key);
  });

const sks = (items: ReadonlyArray<Item>): ReadonlyArray<unknown> => items.map((i) => i.sk);
const gsks = (items: ReadonlyArray<Item>): ReadonlyArray<unknown> => items.map((i) => i.gsk);
const byKey = (a: Item, b: Item) => String(a.sk) < String(b.sk) ? -1 : 1;

const putAll = (db: DynamoDB, table: string, items: ReadonlyArray<Item>) =>
  Effect.forEach(items, (item) => db.put(table, item), { discard: true });

const suite = (backend: Backend) => {
  /** One case; `skip` names why this backend cannot run it (shown in the test name). */
  const test = <A, E>(
    name: string,
    body: (db: DynamoDB, table: string) => Effect.Effect<A, E, Scope.Scope>,
    options: { readonly skip?: string | undefined } = {},
  ) =>
    Deno.test({
      name: `${backend.name}: ${name}${options.skip === undefined ? "" : ` (${options.skip})`}`,
      ignore: options.skip !== undefined,
      fn: () => runWith(backend.layer, withTable(body)).then(() => undefined),
    });
  const noTransactions = backend.transactions
    ? undefined
    : `skipped: ${backend.name} has no TransactWriteItems`;

  // --- items -----------------------------------------------------------------------------------

  test("get of a missing item is undefined", (db, table) =>
    Effect.gen(function* () {
      assert.equal(yield* db.get(table, { pk: "nobody", sk: "here" }), undefined);
    }));

  test("put/get roundtrip keeps every value type", (db, table) =>
    Effect.gen(function* () {
      const item: Item = {
        pk: "p",
        sk: "s",
        str: "text ✓ ünïcode",
        emptyString: "",
        zero: 0,
        int: 42,
        negative: -17,
        float: 3.25,
        negativeFloat: -0.5,
        decimal: 0.1,
        large: 12345678901234,
        yes: true,
        no: false,
        nothing: null,
        binary: new Uint8Array([0, 1, 2, 254, 255]),
        list: [1, "two", false, null, [3], { four: 4 }],
        map: { nested: { deep: ["x", { y: 1 }] }, n: 0, s: "" },
        emptyList: [],
        emptyMap: {},
      };
      yield* db.put(table, item);
      const got = yield* db.get(table, { pk: "p", sk: "s" });
      assert.deepStrictEqual(got, item);
      assert.equal(Object.getPrototypeOf(got?.binary), Uint8Array.prototype);
    }));

  test("put replaces the whole item", (db, table) =>
    Effect.gen(function* () {
      yield* db.put(table, { pk: "p", sk: "s", a: 1, b: 2 });
      yield* db.put(table, { pk: "p", sk: "s", a: 3 });
      assert.deepStrictEqual(yield* db.get(table, { pk: "p", sk: "s" }), {
        pk: "p",
        sk: "s",
        a: 3,
      });
    }));

  test(
    "conditional put with notExists fails with ConditionFailed and changes nothing",
    (db, table) =>
      Effect.gen(function* () {
        yield* db.put(table, { pk: "p", sk: "s", v: 1 }, { condition: notExists("pk") });
        yield* expectConditionFailed(
          db.put(table, { pk: "p", sk: "s", v: 2 }, { condition: notExists("pk") }),
          { table, operation: "put" },
        );
        assert.deepStrictEqual(yield* db.get(table, { pk: "p", sk: "s" }), {
          pk: "p",
          sk: "s",
          v: 1,
        });
      }),
  );

  test(
    "update creates a missing item (upsert) and returns ALL_NEW",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        const created = yield* db.update(table, key, { set: { state: "ready" }, add: { n: 2 } });
        assert.deepStrictEqual(created, { pk: "p", sk: "s", state: "ready", n: 2 });
        assert.deepStrictEqual(yield* db.get(table, key), created);
      }),
  );

  test(
    "update with exists(pk) on a missing item fails and creates nothing",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* expectConditionFailed(
          db.update(table, key, { set: { a: 1 } }, { condition: exists("pk") }),
          { table, operation: "update", key },
        );
        assert.equal(yield* db.get(table, key), undefined);
      }),
  );

  test("update SET, ADD and REMOVE", (db, table) =>
    Effect.gen(function* () {
      const key = { pk: "p", sk: "s" };
      yield* db.put(table, { ...key, a: 1, b: "x", c: true, n: 5 });
      const updated = yield* db.update(table, key, {
        set: { b: "y", d: [1, { e: null }] },
        add: { n: 2, m: -3 },
        remove: ["c", "absent"],
      });
      const expected = { ...key, a: 1, b: "y", d: [1, { e: null }], n: 7, m: -3 };
      assert.deepStrictEqual(updated, expected);
      assert.deepStrictEqual(yield* db.get(table, key), expected);
    }));

  test("a failed conditional update changes nothing", (db, table) =>
    Effect.gen(function* () {
      const key = { pk: "p", sk: "s" };
      yield* db.put(table, { ...key, state: "inflight", n: 1 });
      yield* expectConditionFailed(
        db.update(table, key, { set: { state: "done" }, add: { n: 1 } }, {
          condition: eq("state", "ready"),
        }),
        { table, operation: "update", key },
      );
      assert.deepStrictEqual(yield* db.get(table, key), { ...key, state: "inflight", n: 1 });
    }));

  // --- conditions ------------------------------------------------------------------------------

  /** Whether the condition holds for the item at `key` (an update that writes nothing else). */
  const holds = (db: DynamoDB, table: string, key: Key) => (condition: Condition) =>
    db.update(table, key, { set: { probe: 1 } }, { condition }).pipe(
      Effect.as(true),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(false)),
    );

  test(
    "comparisons with a missing attribute: only <> holds",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* db.put(table, { ...key, present: 1 });
        const check = holds(db, table, key);
        const ops: ReadonlyArray<Comparator> = ["=", "<>", "<", "<=", ">", ">="];
        const missing = yield* Effect.forEach(ops, (op) => check(compare("missing", op, 5)));
        // DynamoDB: `missing <> :v` is true; every other comparison with a missing attribute is false.
        assert.deepStrictEqual(missing, [false, true, false, false, false, false]);
        assert.equal(yield* check(not(eq("missing", 5))), true);
        assert.equal(yield* check(compare("present", "<>", 1)), false);
        assert.equal(yield* check(compare("present", "<>", 2)), true);
        // A comparison across types is false, not an error.
        assert.equal(yield* check(eq("present", "1")), false);
        assert.equal(yield* check(compare("present", "<>", "1")), true);
      }),
  );

  test("In, BeginsWith, And, Or, Not", (db, table) =>
    Effect.gen(function* () {
      const key = { pk: "p", sk: "s" };
      yield* db.put(table, { ...key, state: "ready", name: "orders#1", n: 5 });
      const check = holds(db, table, key);
      const results = yield* Effect.forEach([
        isIn("state", ["done", "ready"]),
        isIn("state", ["done"]),
        isIn("missing", ["ready"]),
        isIn("n", [4, 5, 6]),
        beginsWith("name", "orders#"),
        beginsWith("name", "queue#"),
        beginsWith("missing", "orders#"),
        and(eq("state", "ready"), compare("n", ">", 3)),
        and(eq("state", "ready"), compare("n", ">", 5)),
        or(eq("state", "done"), compare("n", "<=", 5)),
        or(eq("state", "done"), exists("missing")),
        not(eq("state", "done")),
        not(exists("name")),
        and(
          or(eq("state", "done"), not(notExists("name"))),
          not(and(eq("n", 5), eq("state", "done"))),
        ),
        not(or(eq("state", "ready"), eq("state", "done"))),
        compare("name", ">", "orders#0"),
        compare("name", "<", "orders#0"),
        and(),
        or(),
      ], check);
      assert.deepStrictEqual(results, [
        true,
        false,
        false,
        true,
        true,
        false,
        false,
        true,
        false,
        true,
        false,
        true,
        false,
        true,
        false,
        true,
        false,
        true, // an empty And holds, like Array.prototype.every
        false, // an empty Or does not, like Array.prototype.some
      ]);
    }));

  // --- delete ----------------------------------------------------------------------------------

  test(
    "delete returns the old item, or undefined when there was none",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        const item = { ...key, a: 1, bin: new Uint8Array([9]) };
        yield* db.put(table, item);
        assert.deepStrictEqual(yield* db.delete(table, key), item);
        assert.equal(yield* db.delete(table, key), undefined);
        assert.equal(yield* db.get(table, key), undefined);
      }),
  );

  test("a failed conditional delete keeps the item", (db, table) =>
    Effect.gen(function* () {
      const key = { pk: "p", sk: "s" };
      yield* db.put(table, { ...key, state: "inflight" });
      yield* expectConditionFailed(
        db.delete(table, key, { condition: eq("state", "ready") }),
        { table, operation: "delete", key },
      );
      assert.deepStrictEqual(yield* db.get(table, key), { ...key, state: "inflight" });
      const missing = { pk: "p", sk: "missing" };
      yield* expectConditionFailed(
        db.delete(table, missing, { condition: exists("pk") }),
        { table, operation: "delete", key: missing },
      );
    }));

  // --- query -----------------------------------------------------------------------------------

  test(
    "query on the base table with every sort key condition",
    (db, table) =>
      Effect.gen(function* () {
        yield* putAll(db, table, [
          ...["b2", "a1", "b1", "a3", "a2"].map((sk) => ({ pk: "q", sk, v: sk })),
          { pk: "other", sk: "a1" },
        ]);
        const run = (sort?: Query["sort"], ascending?: boolean) =>
          db.query(table, { partition: { attribute: "pk", value: "q" }, sort, ascending }).pipe(
            Effect.map((page) => sks(page.items)),
          );
        const on = (condition: NonNullable<Query["sort"]>["condition"]) => ({
          attribute: "sk",
          condition,
        });
        assert.deepStrictEqual(yield* run(), ["a1", "a2", "a3", "b1", "b2"]);
        assert.deepStrictEqual(yield* run(undefined, false), ["b2", "b1", "a3", "a2", "a1"]);
        assert.deepStrictEqual(
          yield* run(on({ _tag: "Compare", op: "=", value: "a2" })),
          ["a2"],
        );
        assert.deepStrictEqual(
          yield* run(on({ _tag: "Compare", op: "<=", value: "a3" })),
          ["a1", "a2", "a3"],
        );
        assert.deepStrictEqual(
          yield* run(on({ _tag: "Compare", op: "<", value: "a3" })),
          ["a1", "a2"],
        );
        assert.deepStrictEqual(
          yield* run(on({ _tag: "Compare", op: ">=", value: "b1" })),
          ["b1", "b2"],
        );
        assert.deepStrictEqual(yield* run(on({ _tag: "Compare", op: ">", value: "b1" })), ["b2"]);
        assert.deepStrictEqual(
          yield* run(on({ _tag: "Between", low: "a2", high: "b1" })),
          ["a2", "a3", "b1"],
        );
        assert.deepStrictEqual(
          yield* run(on({ _tag: "BeginsWith", prefix: "a" })),
          ["a1", "a2", "a3"],
        );
        assert.deepStrictEqual(
          yield* run(on({ _tag: "BeginsWith", prefix: "a" }), false),
          ["a3", "a2", "a1"],
        );
        assert.deepStrictEqual(yield* run(on({ _tag: "Compare", op: ">", value: "c" })), []);
        // The whole item comes back from a base-table query.
        const page = yield* db.query(table, {
          partition: { attribute: "pk", value: "q" },
          sort: on({ _tag: "Compare", op: "=", value: "a1" }),
          consistent: true,
        });
        assert.deepStrictEqual(page, { items: [{ pk: "q", sk: "a1", v: "a1" }] });
      }),
  );

  test(
    "a partition grows from one item to several and back to none",
    (db, table) =>
      Effect.gen(function* () {
        const query = () =>
          Effect.map(
            db.query(table, { partition: { attribute: "pk", value: "p" }, consistent: true }),
            (page) => sks(page.items),
          );
        yield* db.put(table, { pk: "p", sk: "b", v: 1 });
        yield* db.put(table, { pk: "p", sk: "b", v: 2 });
        assert.deepStrictEqual(yield* query(), ["b"]);
        yield* db.put(table, { pk: "p", sk: "a" });
        yield* db.update(table, { pk: "p", sk: "c" }, { set: { v: 3 } });
        assert.deepStrictEqual(yield* query(), ["a", "b", "c"]);
        yield* db.delete(table, { pk: "p", sk: "a" });
        yield* db.delete(table, { pk: "p", sk: "c" });
        assert.deepStrictEqual(yield* query(), ["b"]);
        assert.deepStrictEqual(yield* db.get(table, { pk: "p", sk: "b" }), {
          pk: "p",
          sk: "b",
          v: 2,
        });
        assert.equal(yield* db.get(table, { pk: "p", sk: "a" }), undefined);
        yield* db.delete(table, { pk: "p", sk: "a" });
        yield* db.delete(table, { pk: "p", sk: "b" });
        assert.deepStrictEqual(yield* query(), []);
        assert.equal(yield* db.get(table, { pk: "p", sk: "b" }), undefined);
      }),
  );

  test("string sort keys are ordered by UTF-8 bytes", (db, table) =>
    Effect.gen(function* () {
      // UTF-16 order (JavaScript's <) would put the emoji (a surrogate pair) before U+FF61.
      const ordered = ["B", "a", "~", "é", "\uFF61", "😀"];
      yield* putAll(db, table, [...ordered].reverse().map((sk) => ({ pk: "u", sk })));
      const page = yield* db.query(table, { partition: { attribute: "pk", value: "u" } });
      assert.deepStrictEqual(sks(page.items), ordered);
      const below = yield* db.query(table, {
        partition: { attribute: "pk", value: "u" },
        sort: { attribute: "sk", condition: { _tag: "Compare", op: "<", value: "😀" } },
      });
      assert.deepStrictEqual(sks(below.items), ordered.slice(0, 5));
    }));

  test(
    "query on the GSI with sort conditions returns the projection",
    (db, table) =>
      Effect.gen(function* () {
        yield* putAll(
          db,
          table,
          [1, 2, 3, 4, 5].map((i) => ({
            pk: `q#${i}`,
            sk: "m",
            gpk: "g#0",
            gsk: `000${i}#id${i}`,
            state: "ready",
            sentAt: i,
            payload: "not projected",
          })),
        );
        yield* db.put(table, { pk: "q#9", sk: "m", gpk: "g#1", gsk: "0001#id9", state: "ready" });
        const run = (condition?: NonNullable<Query["sort"]>["condition"], ascending?: boolean) =>
          db.query(table, {
            index: "ready",
            partition: { attribute: "gpk", value: "g#0" },
            sort: condition === undefined ? undefined : { attribute: "gsk", condition },
            ascending,
          }).pipe(Effect.map((page) => page.items));
        const all = yield* run();
        assert.deepStrictEqual(gsks(all), [
          "0001#id1",
          "0002#id2",
          "0003#id3",
          "0004#id4",
          "0005#id5",
        ]);
        assert.deepStrictEqual(all[0], {
          pk: "q#1",
          sk: "m",
          gpk: "g#0",
          gsk: "0001#id1",
          state: "ready",
          sentAt: 1,
        });
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "Compare", op: "<=", value: "0003#~" })),
          ["0001#id1", "0002#id2", "0003#id3"],
        );
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "Compare", op: "<", value: "0003#id3" })),
          ["0001#id1", "0002#id2"],
        );
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "Compare", op: ">=", value: "0004#id4" })),
          ["0004#id4", "0005#id5"],
        );
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "Compare", op: ">", value: "0004#id4" })),
          ["0005#id5"],
        );
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "Between", low: "0002", high: "0004" })),
          ["0002#id2", "0003#id3"],
        );
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "BeginsWith", prefix: "0005" })),
          ["0005#id5"],
        );
        assert.deepStrictEqual(
          gsks(yield* run({ _tag: "Compare", op: "<=", value: "0002#~" }, false)),
          ["0002#id2", "0001#id1"],
        );
      }),
  );

  test(
    "limit and startKey paging: lastKey is present whenever a page is full",
    (db, table) =>
      Effect.gen(function* () {
        yield* putAll(db, table, ["1", "2", "3", "4"].map((sk) => ({ pk: "even", sk })));
        yield* putAll(db, table, ["1", "2", "3", "4", "5"].map((sk) => ({ pk: "odd", sk })));
        const page = (pk: string, limit: number, startKey?: Key, ascending?: boolean) =>
          db.query(table, {
            partition: { attribute: "pk", value: pk },
            limit,
            startKey,
            ascending,
          });

        // Four items, two per page: the second page is full, so it has a lastKey, and the third
        // page is empty without one.
        const e1 = yield* page("even", 2);
        assert.deepStrictEqual(e1, {
          items: [{ pk: "even", sk: "1" }, { pk: "even", sk: "2" }],
          lastKey: { pk: "even", sk: "2" },
        });
        const e2 = yield* page("even", 2, e1.lastKey);
        assert.deepStrictEqual(e2, {
          items: [{ pk: "even", sk: "3" }, { pk: "even", sk: "4" }],
          lastKey: { pk: "even", sk: "4" },
        });
        const e3 = yield* page("even", 2, e2.lastKey);
        assert.deepStrictEqual(e3, { items: [] });
        assert.equal("lastKey" in e3 && e3.lastKey !== undefined, false);

        // Five items: the last page is short and has no lastKey.
        const o1 = yield* page("odd", 2);
        const o2 = yield* page("odd", 2, o1.lastKey);
        const o3 = yield* page("odd", 2, o2.lastKey);
        assert.deepStrictEqual([o1, o2, o3].map((p) => sks(p.items)), [["1", "2"], ["3", "4"], [
          "5",
        ]]);
        assert.deepStrictEqual(o3.lastKey, undefined);

        // A limit above the item count: no lastKey.
        const big = yield* page("odd", 10);
        assert.equal(big.items.length, 5);
        assert.equal(big.lastKey, undefined);

        // Descending paging starts from the top and continues below the start key.
        const d1 = yield* page("odd", 3, undefined, false);
        const d2 = yield* page("odd", 3, d1.lastKey, false);
        assert.deepStrictEqual(sks(d1.items), ["5", "4", "3"]);
        assert.deepStrictEqual(d1.lastKey, { pk: "odd", sk: "3" });
        assert.deepStrictEqual(sks(d2.items), ["2", "1"]);
        assert.equal(d2.lastKey, undefined);
      }),
  );

  test(
    "GSI paging: lastKey holds the index and table keys",
    (db, table) =>
      Effect.gen(function* () {
        yield* putAll(
          db,
          table,
          [1, 2, 3].map((i) => ({ pk: `m${i}`, sk: "x", gpk: "g", gsk: `${i}`, state: "ready" })),
        );
        const p1 = yield* db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "g" },
          limit: 2,
        });
        assert.deepStrictEqual(gsks(p1.items), ["1", "2"]);
        assert.deepStrictEqual(p1.lastKey, { pk: "m2", sk: "x", gpk: "g", gsk: "2" });
        const p2 = yield* db.query(table, {
          index: "ready",
          partition: { attribute: "gpk", value: "g" },
          limit: 2,
          startKey: p1.lastKey,
        });
        assert.deepStrictEqual(gsks(p2.items), ["3"]);
        assert.equal(p2.lastKey, undefined);
      }),
  );

  test("the filter applies after the limit", (db, table) =>
    Effect.gen(function* () {
      yield* putAll(
        db,
        table,
        [1, 2, 3, 4, 5, 6].map((i) => ({
          pk: "f",
          sk: `${i}`,
          state: i % 2 === 1 ? "ready" : "done",
          gpk: "g",
          gsk: `${i}`,
        })),
      );
      const page = (startKey?: Key) =>
        db.query(table, {
          partition: { attribute: "pk", value: "f" },
          filter: eq("state", "ready"),
          limit: 3,
          startKey,
        });
      const p1 = yield* page();
      assert.deepStrictEqual(sks(p1.items), ["1", "3"]);
      // The last key evaluated, not the last key returned.
      assert.deepStrictEqual(p1.lastKey, { pk: "f", sk: "3" });
      const p2 = yield* page(p1.lastKey);
      assert.deepStrictEqual(sks(p2.items), ["5"]);
      assert.deepStrictEqual(p2.lastKey, { pk: "f", sk: "6" });
      const p3 = yield* page(p2.lastKey);
      assert.deepStrictEqual(p3, { items: [] });

      // On the index too, filtering on a projected attribute.
      const g = yield* db.query(table, {
        index: "ready",
        partition: { attribute: "gpk", value: "g" },
        filter: eq("state", "done"),
        limit: 2,
        ascending: false,
      });
      assert.deepStrictEqual(gsks(g.items), ["6"]);
      assert.deepStrictEqual(g.lastKey, { pk: "f", sk: "5", gpk: "g", gsk: "5" });
    }));

  test("the GSI is sparse and follows updates", (db, table) =>
    Effect.gen(function* () {
      const ready = () =>
        db.query(table, { index: "ready", partition: { attribute: "gpk", value: "g" } }).pipe(
          Effect.map((page) => page.items.map((i) => i.pk)),
        );
      yield* db.put(table, { pk: "a", sk: "m", gpk: "g", gsk: "2" });
      yield* db.put(table, { pk: "b", sk: "m", gpk: "g", gsk: "3" });
      yield* db.put(table, { pk: "no-gpk", sk: "m", gsk: "1" });
      yield* db.put(table, { pk: "no-gsk", sk: "m", gpk: "g" });
      assert.deepStrictEqual(yield* ready(), ["a", "b"]);
      // Changing the index sort key reorders the index.
      yield* db.update(table, { pk: "b", sk: "m" }, { set: { gsk: "1" } });
      assert.deepStrictEqual(yield* ready(), ["b", "a"]);
      // Removing the index partition key drops the item from the index.
      yield* db.update(table, { pk: "b", sk: "m" }, { remove: ["gpk", "gsk"] });
      assert.deepStrictEqual(yield* ready(), ["a"]);
      // Adding both keys puts an item in.
      yield* db.update(table, { pk: "no-gpk", sk: "m" }, { set: { gpk: "g" } });
      assert.deepStrictEqual(yield* ready(), ["no-gpk", "a"]);
      // Deleting the item removes its index entry.
      yield* db.delete(table, { pk: "a", sk: "m" });
      assert.deepStrictEqual(yield* ready(), ["no-gpk"]);
    }));

  test("a consistent read on the GSI fails with Validation", (db, table) =>
    expectReason(
      db.query(table, {
        index: "ready",
        partition: { attribute: "gpk", value: "g" },
        consistent: true,
      }),
      "Validation",
    ));

  // --- batches ---------------------------------------------------------------------------------

  test(
    "batchWrite puts and deletes; batchGet leaves missing keys out",
    (db, table) =>
      Effect.gen(function* () {
        yield* db.put(table, { pk: "old", sk: "x" });
        const result = yield* db.batchWrite(table, [
          { _tag: "Put", item: { pk: "a", sk: "x", n: 1 } },
          { _tag: "Put", item: { pk: "b", sk: "x", bin: new Uint8Array([1, 2]) } },
          { _tag: "Delete", key: { pk: "old", sk: "x" } },
          { _tag: "Delete", key: { pk: "never", sk: "x" } },
        ]);
        assert.deepStrictEqual(result, { unprocessed: [] });
        const got = yield* db.batchGet(table, [
          { pk: "a", sk: "x" },
          { pk: "b", sk: "x" },
          { pk: "old", sk: "x" },
          { pk: "missing", sk: "x" },
        ]);
        assert.deepStrictEqual(got.unprocessed, []);
        assert.deepStrictEqual(
          [...got.items].sort((x, y) => String(x.pk) < String(y.pk) ? -1 : 1),
          [
            { pk: "a", sk: "x", n: 1 },
            { pk: "b", sk: "x", bin: new Uint8Array([1, 2]) },
          ],
        );
      }),
  );

  test(
    "25 puts in one batchWrite, 100 keys in one batchGet",
    (db, table) =>
      Effect.gen(function* () {
        const items = Array.from({ length: 25 }, (_, i) => ({ pk: "many", sk: `${100 + i}` }));
        const result = yield* db.batchWrite(table, items.map((item) => ({ _tag: "Put", item })));
        assert.deepStrictEqual(result, { unprocessed: [] });
        const keys = Array.from({ length: 100 }, (_, i) => ({ pk: "many", sk: `${100 + i}` }));
        const got = yield* db.batchGet(table, keys);
        assert.deepStrictEqual([...got.items].sort(byKey), items);
      }),
  );

  test("empty batches do nothing", (db, table) =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* db.batchWrite(table, []), { unprocessed: [] });
      assert.deepStrictEqual(yield* db.batchGet(table, []), { items: [], unprocessed: [] });
    }));

  // --- errors ----------------------------------------------------------------------------------

  test("operations on a missing table fail with TableNotFound", (db) =>
    Effect.gen(function* () {
      const missing = uniqueTableName("missing");
      const key = { pk: "p", sk: "s" };
      yield* expectReason(db.get(missing, key), "TableNotFound");
      yield* expectReason(db.put(missing, key), "TableNotFound");
      yield* expectReason(db.update(missing, key, { set: { a: 1 } }), "TableNotFound");
      yield* expectReason(db.delete(missing, key), "TableNotFound");
      yield* expectReason(
        db.query(missing, { partition: { attribute: "pk", value: "p" } }),
        "TableNotFound",
      );
      yield* expectReason(db.batchGet(missing, [key]), "TableNotFound");
      yield* expectReason(db.batchWrite(missing, [{ _tag: "Put", item: key }]), "TableNotFound");
      yield* expectReason(db.describeTable(missing), "TableNotFound");
      yield* expectReason(db.deleteTable(missing), "TableNotFound");
    }));

  test("an empty string key fails with Validation", (db, table) =>
    Effect.gen(function* () {
      yield* expectReason(db.put(table, { pk: "p", sk: "" }), "Validation");
      yield* expectReason(db.put(table, { pk: "", sk: "s" }), "Validation");
      yield* expectReason(db.get(table, { pk: "p", sk: "" }), "Validation");
      yield* expectReason(db.update(table, { pk: "", sk: "s" }, { set: { a: 1 } }), "Validation");
      // Index keys cannot be empty strings either (dynalite 4.0.0 accepts them, unlike AWS and
      // DynamoDB Local: the memory layer follows AWS).
      if (backend.name !== "dynalite") {
        yield* expectReason(
          db.put(table, { pk: "p", sk: "s", gpk: "", gsk: "1" }),
          "Validation",
        );
        assert.equal(yield* db.get(table, { pk: "p", sk: "s" }), undefined);
      }
    }));

  test(
    "a key attribute of the wrong type fails with Validation",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectReason(db.put(table, { pk: 1, sk: "s" }), "Validation");
        yield* expectReason(db.get(table, { pk: "p", sk: 2 }), "Validation");
        // So does an index key attribute of the wrong type.
        yield* expectReason(db.put(table, { pk: "p", sk: "s", gpk: 5, gsk: "1" }), "Validation");
        yield* expectReason(
          db.update(table, { pk: "p", sk: "s" }, { set: { gsk: true } }),
          "Validation",
        );
        // A key with a missing attribute.
        yield* expectReason(db.get(table, { pk: "p" }), "Validation");
        assert.equal(yield* db.get(table, { pk: "p", sk: "s" }), undefined);
      }),
  );

  test("updating a key attribute fails with Validation", (db, table) =>
    Effect.gen(function* () {
      const key = { pk: "p", sk: "s" };
      yield* db.put(table, { ...key, a: 1 });
      yield* expectReason(db.update(table, key, { set: { pk: "other" } }), "Validation");
      yield* expectReason(db.update(table, key, { remove: ["sk"] }), "Validation");
      assert.deepStrictEqual(yield* db.get(table, key), { ...key, a: 1 });
    }));

  test(
    "one attribute in two update actions fails with Validation",
    (db, table) =>
      Effect.gen(function* () {
        const key = { pk: "p", sk: "s" };
        yield* expectReason(db.update(table, key, { set: { a: 1 }, remove: ["a"] }), "Validation");
        yield* expectReason(db.update(table, key, { set: { n: 1 }, add: { n: 1 } }), "Validation");
        assert.equal(yield* db.get(table, key), undefined);
      }),
  );

  test(
    "an item over 400 KB fails with Validation; one just under is stored",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectReason(
          db.put(table, { pk: "p", sk: "big", data: "x".repeat(400 * 1024 + 1) }),
          "Validation",
        );
        assert.equal(yield* db.get(table, { pk: "p", sk: "big" }), undefined);
        const fits = { pk: "p", sk: "fits", data: "x".repeat(400 * 1024 - 100) };
        yield* db.put(table, fits);
        assert.equal((yield* db.get(table, { pk: "p", sk: "fits" }))?.data, fits.data);
        yield* expectReason(
          db.update(table, { pk: "p", sk: "fits" }, { set: { more: "y".repeat(200) } }),
          "Validation",
        );
      }),
  );

  test("a batchWrite of 26 requests fails with Validation", (db, table) =>
    Effect.gen(function* () {
      const requests = Array.from(
        { length: 26 },
        (_, i) => ({ _tag: "Put" as const, item: { pk: "p", sk: `${i}` } }),
      );
      yield* expectReason(db.batchWrite(table, requests), "Validation");
      const page = yield* db.query(table, { partition: { attribute: "pk", value: "p" } });
      assert.deepStrictEqual(page.items, []);
    }));

  test(
    "duplicate keys in one batchWrite fail with Validation",
    (db, table) =>
      Effect.gen(function* () {
        yield* expectReason(
          db.batchWrite(table, [
            { _tag: "Put", item: { pk: "p", sk: "s", v: 1 } },
            { _tag: "Put", item: { pk: "p", sk: "s", v: 2 } },
          ]),
          "Validation",
        );
        yield* expectReason(
          db.batchWrite(table, [
            { _tag: "Put", item: { pk: "p", sk: "s" } },
            { _tag: "Delete", key: { pk: "p", sk: "s" } },
          ]),
          "Validation",
        );
        assert.equal(yield* db.get(table, { pk: "p", sk: "s" }), undefined);
      }),
  );

  test("a batchGet of 101 keys fails with Validation", (db, table) =>
    expectReason(
      db.batchGet(table, Array.from({ length: 101 }, (_, i) => ({ pk: "p", sk: `${i}` }))),
      "Validation",
    ));

  // --- tables ----------------------------------------------------------------------------------

  test(
    "createTable of an existing table fails with TableExists",
    (db, table) => expectReason(db.createTable(definition(table)), "TableExists"),
  );

  test(
    "describeTable reports keys, index, projection and TTL",
    (db, table) =>
      Effect.gen(function* () {
        const description = yield* db.describeTable(table);
        assert.deepStrictEqual(description, {
          name: table,
          status: "ACTIVE",
          keys: [
            { attribute: "pk", keyType: "HASH", type: "S" },
            { attribute: "sk", keyType: "RANGE", type: "S" },
          ],
          indexes: [{
            name: "ready",
            keys: [
              { attribute: "gpk", keyType: "HASH", type: "S" },
              { attribute: "gsk", keyType: "RANGE", type: "S" },
            ],
            projection: ["state", "sentAt"],
            status: "ACTIVE",
          }],
        });
        assert.equal(description.ttlAttribute, undefined);
        if (backend.ttl) {
          yield* db.enableTimeToLive(table, "ttl");
          assert.equal((yield* db.describeTable(table)).ttlAttribute, "ttl");
        } else {
          yield* expectReason(db.enableTimeToLive(table, "ttl"), "Unsupported");
        }
      }),
  );

  test("createTable with KEYS_ONLY and ALL projections", (db) =>
    Effect.gen(function* () {
      const name = uniqueTableName();
      yield* Effect.acquireRelease(
        db.createTable({
          name,
          partitionKey: "pk",
          sortKey: "sk",
          indexes: [
            { name: "keys", partitionKey: "a", sortKey: "b", projection: "KEYS_ONLY" },
            { name: "all", partitionKey: "c", sortKey: "d", projection: "ALL" },
          ],
        }),
        () => Effect.orDie(db.deleteTable(name)),
      );
      const description = yield* db.describeTable(name);
      const projections = Object.fromEntries(
        description.indexes.map((index) => [index.name, index.projection]),
      );
      assert.deepStrictEqual(projections, { keys: "KEYS_ONLY", all: "ALL" });
      yield* db.put(name, { pk: "p", sk: "s", a: "1", b: "2", c: "3", d: "4", extra: true });
      const keysOnly = yield* db.query(name, {
        index: "keys",
        partition: { attribute: "a", value: "1" },
      });
      assert.deepStrictEqual(keysOnly.items, [{ pk: "p", sk: "s", a: "1", b: "2" }]);
      const all = yield* db.query(name, {
        index: "all",
        partition: { attribute: "c", value: "3" },
      });
      assert.deepStrictEqual(all.items, [{
        pk: "p",
        sk: "s",
        a: "1",
        b: "2",
        c: "3",
        d: "4",
        extra: true,
      }]);
    }));

  // --- transactions ----------------------------------------------------------------------------

  if (!backend.transactions) {
    test(
      "transactWrite fails with Unsupported (no transactions on this backend)",
      (db, table) =>
        Effect.gen(function* () {
          yield* expectReason(
            db.transactWrite([{ _tag: "Put", table, item: { pk: "p", sk: "s" } }]),
            "Unsupported",
          );
          assert.equal(yield* db.get(table, { pk: "p", sk: "s" }), undefined);
        }),
    );
  }

  test("transactWrite commits every action atomically", (db, table) =>
    Effect.gen(function* () {
      yield* db.put(table, { pk: "a", sk: "x", state: "ready", n: 1 });
      yield* db.put(table, { pk: "b", sk: "x" });
      yield* db.transactWrite([
        { _tag: "Put", table, item: { pk: "c", sk: "x", v: 1 }, condition: notExists("pk") },
        {
          _tag: "Update",
          table,
          key: { pk: "a", sk: "x" },
          update: { add: { n: 1 }, set: { state: "inflight" } },
          condition: eq("state", "ready"),
        },
        { _tag: "Delete", table, key: { pk: "b", sk: "x" }, condition: exists("pk") },
        { _tag: "ConditionCheck", table, key: { pk: "d", sk: "x" }, condition: notExists("pk") },
      ]);
      assert.deepStrictEqual(yield* db.get(table, { pk: "a", sk: "x" }), {
        pk: "a",
        sk: "x",
        state: "inflight",
        n: 2,
      });
      assert.equal(yield* db.get(table, { pk: "b", sk: "x" }), undefined);
      assert.deepStrictEqual(yield* db.get(table, { pk: "c", sk: "x" }), {
        pk: "c",
        sk: "x",
        v: 1,
      });
      assert.equal(yield* db.get(table, { pk: "d", sk: "x" }), undefined);
    }), { skip: noTransactions });

  test("a failed condition in transactWrite fails with ConditionFailed and writes nothing", (
    db,
    table,
  ) =>
    Effect.gen(function* () {
      yield* db.put(table, { pk: "a", sk: "x", state: "inflight", n: 1 });
      yield* db.put(table, { pk: "b", sk: "x" });
      yield* expectConditionFailed(
        db.transactWrite([
          { _tag: "Put", table, item: { pk: "c", sk: "x" } },
          {
            _tag: "Update",
            table,
            key: { pk: "a", sk: "x" },
            update: { add: { n: 1 } },
            condition: eq("state", "ready"),
          },
          { _tag: "Delete", table, key: { pk: "b", sk: "x" } },
        ]),
        { table, operation: "transactWrite", key: { pk: "a", sk: "x" } },
      );
      assert.equal(yield* db.get(table, { pk: "c", sk: "x" }), undefined);
      assert.deepStrictEqual(yield* db.get(table, { pk: "a", sk: "x" }), {
        pk: "a",
        sk: "x",
        state: "inflight",
        n: 1,
      });
      assert.deepStrictEqual(yield* db.get(table, { pk: "b", sk: "x" }), { pk: "b", sk: "x" });
      // A failed ConditionCheck cancels the transaction too.
      yield* expectConditionFailed(
        db.transactWrite([
          { _tag: "Delete", table, key: { pk: "b", sk: "x" } },
          { _tag: "ConditionCheck", table, key: { pk: "a", sk: "x" }, condition: notExists("pk") },
        ]),
        { table, operation: "transactWrite", key: { pk: "a", sk: "x" } },
      );
      assert.deepStrictEqual(yield* db.get(table, { pk: "b", sk: "x" }), { pk: "b", sk: "x" });
    }), { skip: noTransactions });

  test("two actions on one item in transactWrite fail with Validation", (db, table) =>
    expectReason(
      db.transactWrite([
        { _tag: "Put", table, item: { pk: "a", sk: "x" } },
        { _tag: "Delete", table, key: { pk: "a", sk: "x" } },
      ]),
      "Validation",
    ), { skip: noTransactions });

  // --- interruption ----------------------------------------------------------------------------

  test("interrupting a request interrupts, never fails", (db, table) =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        db.query(table, { partition: { attribute: "pk", value: "p" } }),
      );
      const exit = yield* Fiber.interrupt(fiber);
      assert.ok(
        Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause),
        `expected success or interruption, got ${Deno.inspect(exit)}`,
      );
      // The client still works afterwards.
      assert.equal(yield* db.get(table, { pk: "p", sk: "s" }), undefined);
    }));
};

for (const backend of backends) suite(backend);

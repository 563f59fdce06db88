/**
 * Request-shape tests of `src/internal/expression.ts`: placeholders for every name and value,
 * nothing interpolated, compound conditions parenthesised, one builder shared by a condition and
 * an update.
 */
import assert from "node:assert/strict";
import {
  compileCondition,
  compileKeyCondition,
  compileSortKeyCondition,
  compileTrue,
  compileUpdate,
  makeBuilder,
} from "../src/internal/expression.ts";
import {
  and,
  beginsWith,
  compare,
  eq,
  exists,
  isIn,
  not,
  notExists,
  or,
} from "../src/services/DynamoDB.ts";

Deno.test("expression: a comparison uses a name and a value placeholder", () => {
  const b = makeBuilder();
  assert.equal(compileCondition(b, compare("state", "<>", "ready")), "#n0 <> :v0");
  assert.deepStrictEqual(b.attributes(), {
    ExpressionAttributeNames: { "#n0": "state" },
    ExpressionAttributeValues: { ":v0": "ready" },
  });
});

Deno.test("expression: every function and operator", () => {
  const b = makeBuilder();
  assert.equal(compileCondition(b, exists("a")), "attribute_exists(#n0)");
  assert.equal(compileCondition(b, notExists("b")), "attribute_not_exists(#n1)");
  assert.equal(compileCondition(b, beginsWith("c", "x#")), "begins_with(#n2, :v0)");
  assert.equal(compileCondition(b, isIn("d", ["x", 1, null])), "#n3 IN (:v1, :v2, :v3)");
  for (const op of ["=", "<>", "<", "<=", ">", ">="] as const) {
    assert.equal(compileCondition(b, compare("a", op, 1))?.split(" ")[1], op);
  }
  assert.deepStrictEqual(b.attributes().ExpressionAttributeNames, {
    "#n0": "a",
    "#n1": "b",
    "#n2": "c",
    "#n3": "d",
  });
});

Deno.test("expression: a repeated name reuses its placeholder; values never do", () => {
  const b = makeBuilder();
  assert.equal(
    compileCondition(b, or(eq("state", "ready"), eq("state", "ready"))),
    "(#n0 = :v0 OR #n0 = :v1)",
  );
  assert.deepStrictEqual(b.attributes(), {
    ExpressionAttributeNames: { "#n0": "state" },
    ExpressionAttributeValues: { ":v0": "ready", ":v1": "ready" },
  });
});

Deno.test("expression: nested And / Or / Not are parenthesised", () => {
  const b = makeBuilder();
  const expression = compileCondition(
    b,
    and(
      or(eq("a", 1), not(exists("b"))),
      not(and(eq("c", 2), or(eq("d", 3), eq("e", 4)))),
      eq("f", 5),
    ),
  );
  assert.equal(
    expression,
    "((#n0 = :v0 OR (NOT attribute_exists(#n1))) AND " +
      "(NOT (#n2 = :v1 AND (#n3 = :v2 OR #n4 = :v3))) AND #n5 = :v4)",
  );
  assert.equal(compileCondition(makeBuilder(), not(not(eq("a", 1)))), "(NOT (NOT #n0 = :v0))");
});

Deno.test("expression: no name or value is interpolated, however it looks", () => {
  const hostile = "a) OR attribute_exists(#n0) OR (x = :v0";
  const b = makeBuilder();
  const condition = compileCondition(
    b,
    and(eq(hostile, hostile), beginsWith("owner", "#n1"), isIn("size", [":v9"])),
  );
  const update = compileUpdate(b, { set: { [hostile]: hostile, "name.with.dots": 1 } });
  for (const expression of [condition, update]) {
    assert.ok(expression !== undefined);
    assert.ok(!expression.includes(hostile));
    assert.ok(!expression.includes("owner"));
    assert.ok(!expression.includes("dots"));
    // Only placeholders, keywords, functions and punctuation remain.
    const words = expression.replace(/[#:][nv]\d+/g, "").match(/[A-Za-z_.]+/g) ?? [];
    for (const word of words) {
      assert.ok(
        ["AND", "OR", "NOT", "IN", "SET", "begins_with", "attribute_exists"].includes(word),
        `unexpected word ${word} in ${expression}`,
      );
    }
  }
  const { ExpressionAttributeNames, ExpressionAttributeValues } = b.attributes();
  assert.equal(ExpressionAttributeNames?.["#n0"], hostile);
  assert.equal(ExpressionAttributeNames?.["#n1"], "owner");
  assert.equal(ExpressionAttributeValues?.[":v1"], "#n1");
});

Deno.test("expression: a condition and an update share one builder", () => {
  const b = makeBuilder();
  const update = compileUpdate(b, {
    set: { state: "inflight", lease: "L1" },
    add: { receives: 1 },
    remove: ["gpk", "state2"],
  });
  const condition = compileCondition(b, and(eq("state", "ready"), exists("gpk")));
  assert.equal(update, "SET #n0 = :v0, #n1 = :v1 ADD #n2 :v2 REMOVE #n3, #n4");
  assert.equal(condition, "(#n0 = :v3 AND attribute_exists(#n3))");
  assert.deepStrictEqual(b.attributes(), {
    ExpressionAttributeNames: {
      "#n0": "state",
      "#n1": "lease",
      "#n2": "receives",
      "#n3": "gpk",
      "#n4": "state2",
    },
    ExpressionAttributeValues: { ":v0": "inflight", ":v1": "L1", ":v2": 1, ":v3": "ready" },
  });
});

Deno.test("expression: update clauses appear only when used", () => {
  assert.equal(compileUpdate(makeBuilder(), { remove: ["a"] }), "REMOVE #n0");
  assert.equal(compileUpdate(makeBuilder(), { add: { n: -1 } }), "ADD #n0 :v0");
  assert.equal(compileUpdate(makeBuilder(), {}), undefined);
  assert.equal(compileUpdate(makeBuilder(), { set: {}, add: {}, remove: [] }), undefined);
});

Deno.test("expression: an unused builder yields no maps (DynamoDB rejects empty ones)", () => {
  assert.deepStrictEqual(makeBuilder().attributes(), {});
  const b = makeBuilder();
  compileUpdate(b, { remove: ["a"] });
  assert.deepStrictEqual(b.attributes(), { ExpressionAttributeNames: { "#n0": "a" } });
});

Deno.test("expression: constant conditions fold away", () => {
  // Always true: no expression at all, and no placeholders allocated.
  const t = makeBuilder();
  assert.equal(compileCondition(t, and()), undefined);
  assert.equal(compileCondition(t, or(eq("a", 1), not(or()))), undefined);
  assert.deepStrictEqual(t.attributes(), {});
  // Always false: a contradiction on a name no item uses.
  const f = makeBuilder();
  assert.equal(
    compileCondition(f, or()),
    "(attribute_exists(#n0) AND attribute_not_exists(#n0))",
  );
  assert.equal(
    compileCondition(makeBuilder(), and(eq("a", 1), isIn("b", []))),
    "(attribute_exists(#n0) AND attribute_not_exists(#n0))",
  );
  // Constants inside a compound disappear from it.
  assert.equal(
    compileCondition(makeBuilder(), and(eq("a", 1), and(), eq("b", 2))),
    "(#n0 = :v0 AND #n1 = :v1)",
  );
  assert.equal(compileCondition(makeBuilder(), or(eq("a", 1), or())), "#n0 = :v0");
  assert.equal(
    compileTrue(makeBuilder()),
    "(attribute_exists(#n0) OR attribute_not_exists(#n0))",
  );
});

Deno.test("expression: key conditions", () => {
  const b = makeBuilder();
  assert.equal(
    compileKeyCondition(b, { attribute: "gpk", value: "orders#0" }, {
      attribute: "gsk",
      condition: { _tag: "Compare", op: "<=", value: "0001700000000000#~" },
    }),
    "#n0 = :v0 AND #n1 <= :v1",
  );
  assert.deepStrictEqual(b.attributes(), {
    ExpressionAttributeNames: { "#n0": "gpk", "#n1": "gsk" },
    ExpressionAttributeValues: { ":v0": "orders#0", ":v1": "0001700000000000#~" },
  });
  assert.equal(compileKeyCondition(makeBuilder(), { attribute: "pk", value: "p" }), "#n0 = :v0");
  assert.equal(
    compileSortKeyCondition(makeBuilder(), "sk", { _tag: "Between", low: "a", high: "b" }),
    "#n0 BETWEEN :v0 AND :v1",
  );
  assert.equal(
    compileSortKeyCondition(makeBuilder(), "sk", { _tag: "BeginsWith", prefix: "a" }),
    "begins_with(#n0, :v0)",
  );
});

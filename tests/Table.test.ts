import assert from "node:assert/strict";
import { Effect } from "effect";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Table from "../src/services/Table.ts";
import { generated } from "../scripts/gen-docs.ts";
import { backends, uniqueTableName } from "./_backends.ts";
import { runWith } from "./_effect.ts";

for (const backend of backends) {
  Deno.test(`${backend.name}: Table.create creates the table once, then finds it`, () =>
    runWith(
      backend.layer,
      Effect.gen(function* () {
        const db = yield* DynamoDB;
        const table = uniqueTableName("tbl");
        yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(table)));
        const first = yield* Table.create(table);
        assert.equal(first.created, true);
        assert.equal(first.ttl, backend.ttl ? "enabled" : "unsupported");
        const second = yield* Table.create(table);
        assert.equal(second.created, false);
        const d = yield* db.describeTable(table);
        assert.deepEqual(d.indexes.map((i) => [i.name, i.projection]), [[
          "ready",
          ["state", "sentAt", "receives"],
        ]]);
        // Concurrent creators all succeed.
        const other = uniqueTableName("tbl");
        yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(other)));
        const results = yield* Effect.all([Table.create(other), Table.create(other)], {
          concurrency: "unbounded",
        });
        assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
      }),
    ));

  Deno.test(`${backend.name}: Table.create refuses a table of another shape`, () =>
    runWith(
      backend.layer,
      Effect.gen(function* () {
        const db = yield* DynamoDB;
        const table = uniqueTableName("bad");
        yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(table)));
        yield* db.createTable({
          name: table,
          partitionKey: "id",
          sortKey: "sk",
          indexes: [{ name: "other", partitionKey: "a", sortKey: "b", projection: "KEYS_ONLY" }],
        });
        const e = yield* Effect.flip(Table.create(table));
        assert.equal(e._tag, "TableMismatch");
        if (e._tag !== "TableMismatch") return;
        assert.deepEqual(e.problems, [
          'table partition key must be "pk" (S), found "id" (S)',
          'global secondary index "ready" is missing',
        ]);
        assert.match(e.message, /wrong shape/);
      }),
    ));
}

Deno.test("docs/ holds the current CloudFormation template and IAM policies", async () => {
  for (const [path, text] of Object.entries(generated)) {
    const onDisk = await Deno.readTextFile(new URL(`../${path}`, import.meta.url));
    assert.equal(onDisk, text, `${path} is stale: run deno run -A scripts/gen-docs.ts`);
  }
});

Deno.test("the IAM policy grants only item actions on the table and Query on its index", () => {
  const policy = Table.iamPolicy({
    table: "orders-table",
    region: "eu-west-1",
    account: "123456789012",
  });
  const statements = policy.Statement as ReadonlyArray<{ Action: string[]; Resource: string[] }>;
  assert.deepEqual(statements.map((s) => s.Resource), [
    ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders-table"],
    ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders-table/index/ready"],
  ]);
  const actions = statements.flatMap((s) => s.Action);
  for (
    const forbidden of [
      "dynamodb:Scan",
      "dynamodb:CreateTable",
      "dynamodb:DeleteTable",
      "dynamodb:*",
    ]
  ) {
    assert.ok(!actions.includes(forbidden), forbidden);
  }
});

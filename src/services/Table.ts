/**
 * The DynamoMQ table: one table holds many queues. `create` makes it (or checks that an existing
 * table has the right shape); `cloudFormation` and `iamPolicy` give the same definition for
 * infrastructure as code and a least-privilege policy.
 *
 * @example
 * ```ts
 * import { DynamoDBLive, Table } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const program = Table.create("dynamomq").pipe(
 *   Effect.tap((r) => Effect.log(r.created ? "created" : "already there")),
 * );
 * Effect.runPromise(program.pipe(Effect.provide(DynamoDBLive.layerConfig())));
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Schedule from "effect/Schedule";
import { type DynamoDBError, TableMismatch } from "../Errors.ts";
import { INDEX_NAME, INDEX_PROJECTION, TTL_ATTRIBUTE } from "../internal/keys.ts";
import { DynamoDB, type TableDefinition, type TableDescription } from "./DynamoDB.ts";

/**
 * The definition of a DynamoMQ table: string keys `pk`/`sk`, and the sparse `ready` index on
 * `gpk`/`gsk` projecting only the few small attributes receive, list and stats need (never the
 * payload, so index writes stay ~100 bytes whatever the message size).
 *
 * @since 0.1.0
 * @category constructors
 */
export const definition = (table: string): TableDefinition => ({
  name: table,
  partitionKey: "pk",
  sortKey: "sk",
  indexes: [{
    name: INDEX_NAME,
    partitionKey: "gpk",
    sortKey: "gsk",
    projection: INDEX_PROJECTION,
  }],
});

/**
 * What `create` found or did.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateResult {
  /** The table name. */
  readonly table: string;
  /** True when this call created the table; false when it existed with the right shape. */
  readonly created: boolean;
  /**
   * `enabled`: TTL is on the `ttl` attribute; `unsupported`: the backend has no TTL (dynalite),
   * so tombstones are filtered by their own timestamps only.
   */
  readonly ttl: "enabled" | "unsupported";
}

/** Lists every way an existing table differs from what DynamoMQ needs. */
const shapeProblems = (d: TableDescription): ReadonlyArray<string> => {
  const problems: Array<string> = [];
  const key = (
    keys: TableDescription["keys"],
    attribute: string,
    keyType: "HASH" | "RANGE",
    where: string,
  ) => {
    const k = keys.find((k) => k.keyType === keyType);
    if (k === undefined || k.attribute !== attribute || k.type !== "S") {
      problems.push(
        `${where} ${
          keyType === "HASH" ? "partition" : "sort"
        } key must be "${attribute}" (S), found ${
          k === undefined ? "none" : `"${k.attribute}" (${k.type})`
        }`,
      );
    }
  };
  key(d.keys, "pk", "HASH", "table");
  key(d.keys, "sk", "RANGE", "table");
  const index = d.indexes.find((i) => i.name === INDEX_NAME);
  if (index === undefined) {
    problems.push(`global secondary index "${INDEX_NAME}" is missing`);
  } else {
    key(index.keys, "gpk", "HASH", `index ${INDEX_NAME}`);
    key(index.keys, "gsk", "RANGE", `index ${INDEX_NAME}`);
    const p = index.projection;
    const missing = p === "ALL"
      ? []
      : INDEX_PROJECTION.filter((a) => p === "KEYS_ONLY" || !p.includes(a));
    if (missing.length > 0) {
      problems.push(`index ${INDEX_NAME} must project ${missing.join(", ")}`);
    }
  }
  if (d.ttlAttribute !== undefined && d.ttlAttribute !== TTL_ATTRIBUTE) {
    problems.push(`TTL is on "${d.ttlAttribute}", DynamoMQ needs "${TTL_ATTRIBUTE}"`);
  }
  return problems;
};

/**
 * Waits until the table and its indexes are `ACTIVE` (a new table on AWS takes seconds).
 */
const awaitActive = (db: DynamoDB, table: string): Effect.Effect<TableDescription, DynamoDBError> =>
  db.describeTable(table).pipe(
    Effect.filterOrFail(
      (d) => d.status === "ACTIVE" && d.indexes.every((i) => i.status === "ACTIVE"),
      () => "not active yet" as const,
    ),
    Effect.retry({
      schedule: Schedule.exponential("100 millis", 1.5).pipe(
        Schedule.union(Schedule.spaced("5 seconds")),
        Schedule.upTo("5 minutes"),
      ),
      while: (e) => e === "not active yet" || e.retryable,
    }),
    Effect.catchIf(
      (e): e is "not active yet" => e === "not active yet",
      () => db.describeTable(table),
    ),
  );

/**
 * Creates the table with the ready index and TTL, idempotently: an existing table with the right
 * shape is left as it is, one with another shape fails with `TableMismatch` listing every
 * difference. Concurrent callers are safe (a lost create race is checked like an existing table).
 *
 * @since 0.1.0
 * @category constructors
 */
export const create = (
  table: string,
): Effect.Effect<CreateResult, TableMismatch | DynamoDBError, DynamoDB> =>
  Effect.gen(function* () {
    const db = yield* DynamoDB;
    const created = yield* db.createTable(definition(table)).pipe(
      Effect.as(true),
      Effect.catchIf((e) => e.reason === "TableExists", () => Effect.succeed(false)),
    );
    const description = yield* awaitActive(db, table);
    const problems = shapeProblems(description);
    if (problems.length > 0) return yield* new TableMismatch({ table, problems });
    if (description.ttlAttribute === TTL_ATTRIBUTE) {
      return { table, created, ttl: "enabled" as const };
    }
    const ttl = yield* db.enableTimeToLive(table, TTL_ATTRIBUTE).pipe(
      Effect.as("enabled" as const),
      Effect.catchIf(
        (e) => e.reason === "Unsupported",
        () => Effect.succeed("unsupported" as const),
      ),
      // A concurrent creator may have enabled it first ("TimeToLive is already enabled").
      Effect.catchIf(
        (e) => e.reason === "Validation",
        (e) =>
          Effect.flatMap(
            db.describeTable(table),
            (d) =>
              d.ttlAttribute === TTL_ATTRIBUTE
                ? Effect.succeed("enabled" as const)
                : Effect.fail(e),
          ),
      ),
    );
    return { table, created, ttl };
  }).pipe(Effect.withSpan("DynamoMQ.Table.create", { attributes: { "dynamomq.table": table } }));

/**
 * The table as an AWS CloudFormation template (on-demand billing, TTL, point-in-time recovery,
 * deletion protection). `docs/table.cfn.json` is this template for the default name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cloudFormation = (table: string): Record<string, unknown> => ({
  AWSTemplateFormatVersion: "2010-09-09",
  Description: "DynamoMQ table: many queues, one sparse ready index, TTL for tombstones",
  Resources: {
    DynamoMQTable: {
      Type: "AWS::DynamoDB::Table",
      DeletionPolicy: "Retain",
      Properties: {
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        DeletionProtectionEnabled: true,
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
          { AttributeName: "gpk", AttributeType: "S" },
          { AttributeName: "gsk", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [{
          IndexName: INDEX_NAME,
          KeySchema: [
            { AttributeName: "gpk", KeyType: "HASH" },
            { AttributeName: "gsk", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: [...INDEX_PROJECTION] },
        }],
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    },
  },
  Outputs: {
    TableName: { Value: { Ref: "DynamoMQTable" } },
    TableArn: { Value: { "Fn::GetAtt": ["DynamoMQTable", "Arn"] } },
  },
});

/**
 * Options of `iamPolicy`.
 *
 * @since 0.1.0
 * @category models
 */
export interface IamPolicyOptions {
  /** The table name. */
  readonly table: string;
  /** The region in the ARN. @default "*" */
  readonly region?: string | undefined;
  /** The account id in the ARN. @default "*" */
  readonly account?: string | undefined;
  /** The AWS partition in the ARN (`aws-cn`, `aws-us-gov`, …). @default "aws" */
  readonly partition?: string | undefined;
  /**
   * Also allow creating, describing and enabling TTL on the table (what `Table.create` and the
   * CLI's `create-table` call); the queue itself needs none of these.
   * @default false
   */
  readonly admin?: boolean | undefined;
}

/**
 * A least-privilege IAM policy: exactly the actions the library calls, on the table and its
 * index only. `docs/iam-policy.json` is this policy for the default table name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const iamPolicy = (options: IamPolicyOptions): Record<string, unknown> => {
  const arn = `arn:${options.partition ?? "aws"}:dynamodb:${options.region ?? "*"}:${
    options.account ?? "*"
  }:table/${options.table}`;
  const statements: Array<Record<string, unknown>> = [
    {
      Sid: "DynamoMQMessages",
      Effect: "Allow",
      Action: [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        // TransactWriteItems (FIFO sends, head claims and moves) has no action of its own:
        // each of its writes needs the single-item permission above. It uses no ConditionCheck.
        "dynamodb:Query",
      ],
      Resource: [arn],
    },
    {
      Sid: "DynamoMQReadyIndex",
      Effect: "Allow",
      Action: ["dynamodb:Query"],
      Resource: [`${arn}/index/${INDEX_NAME}`],
    },
  ];
  if (options.admin === true) {
    statements.push({
      Sid: "DynamoMQCreateTable",
      Effect: "Allow",
      Action: [
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:UpdateTimeToLive",
      ],
      Resource: [arn],
    });
  }
  return { Version: "2012-10-17", Statement: statements };
};

/**
 * Tests of the live layer itself (the conformance suite covers its behaviour against emulators):
 * the requests it sends, how it classifies SDK errors, interruption, configuration and client
 * ownership. Most use a fake document client that records commands.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import assert from "node:assert/strict";
import {
  Cause,
  Config,
  ConfigProvider,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  TestContext,
  Tracer,
} from "effect";
import { type ConditionFailed, DynamoDBError } from "../src/Errors.ts";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import { DynamoDB, eq, exists, notExists } from "../src/services/DynamoDB.ts";
import { dynaliteEndpoint, uniqueTableName } from "./_backends.ts";
import { runLive, runLiveWith } from "./_effect.ts";

interface Sent {
  readonly command: string;
  readonly input: Record<string, unknown>;
  readonly abortSignal: AbortSignal | undefined;
}

/** A document client whose `send` records the command and answers with `respond`. */
const fakeClient = (
  respond: (command: string, input: Record<string, unknown>, signal?: AbortSignal) => unknown,
) => {
  const sent: Array<Sent> = [];
  const client = {
    send: (
      command: { constructor: { name: string }; input: Record<string, unknown> },
      options?: { abortSignal?: AbortSignal },
    ) => {
      const name = command.constructor.name;
      sent.push({ command: name, input: command.input, abortSignal: options?.abortSignal });
      return Promise.resolve().then(() => respond(name, command.input, options?.abortSignal));
    },
  } as unknown as DynamoDBDocumentClient;
  return { db: DynamoDBLive.fromClient(client), sent };
};

const failing = (error: unknown) =>
  fakeClient(() => {
    throw error;
  }).db;

const sdkError = (name: string, message = `${name} happened`, extra: object = {}) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } }, extra);

Deno.test("live: requests carry the right shape", async () => {
  const { db, sent } = fakeClient((command) => {
    switch (command) {
      case "UpdateCommand":
        return { Attributes: { pk: "p", sk: "s", n: 1 } };
      case "QueryCommand":
        return { Items: [{ pk: "p" }], LastEvaluatedKey: { pk: "p", sk: "s" } };
      default:
        return {};
    }
  });
  await runLive(Effect.gen(function* () {
    yield* db.get("t1", { pk: "p", sk: "s" });
    yield* db.put("t1", { pk: "p", sk: "s", v: 1 }, { condition: notExists("pk") });
    yield* db.put("t1", { pk: "p", sk: "s" });
    const updated = yield* db.update("t1", { pk: "p", sk: "s" }, {
      set: { state: "ready" },
      add: { n: 1 },
    }, { condition: eq("state", "new") });
    assert.deepStrictEqual(updated, { pk: "p", sk: "s", n: 1 });
    assert.equal(yield* db.delete("t1", { pk: "p", sk: "s" }), undefined);
    const page = yield* db.query("t1", {
      index: "ready",
      partition: { attribute: "gpk", value: "g" },
      sort: { attribute: "gsk", condition: { _tag: "Compare", op: "<=", value: "9" } },
      filter: exists("state"),
      limit: 10,
      ascending: false,
      startKey: { pk: "a", sk: "b", gpk: "g", gsk: "1" },
    });
    assert.deepStrictEqual(page, { items: [{ pk: "p" }], lastKey: { pk: "p", sk: "s" } });
    yield* db.batchGet("t1", [{ pk: "p", sk: "s" }]);
    yield* db.batchWrite("t1", [
      { _tag: "Put", item: { pk: "a", sk: "b" } },
      { _tag: "Delete", key: { pk: "c", sk: "d" } },
    ]);
  }));
  for (const s of sent) assert.ok(s.abortSignal instanceof AbortSignal, s.command);
  assert.deepStrictEqual(sent.map((s) => [s.command, s.input]), [
    ["GetCommand", { TableName: "t1", Key: { pk: "p", sk: "s" }, ConsistentRead: true }],
    ["PutCommand", {
      TableName: "t1",
      Item: { pk: "p", sk: "s", v: 1 },
      ConditionExpression: "attribute_not_exists(#n0)",
      ExpressionAttributeNames: { "#n0": "pk" },
    }],
    ["PutCommand", { TableName: "t1", Item: { pk: "p", sk: "s" } }],
    ["UpdateCommand", {
      TableName: "t1",
      Key: { pk: "p", sk: "s" },
      ReturnValues: "ALL_NEW",
      UpdateExpression: "SET #n0 = :v0 ADD #n1 :v1",
      ConditionExpression: "#n0 = :v2",
      ExpressionAttributeNames: { "#n0": "state", "#n1": "n" },
      ExpressionAttributeValues: { ":v0": "ready", ":v1": 1, ":v2": "new" },
    }],
    ["DeleteCommand", { TableName: "t1", Key: { pk: "p", sk: "s" }, ReturnValues: "ALL_OLD" }],
    ["QueryCommand", {
      TableName: "t1",
      IndexName: "ready",
      KeyConditionExpression: "#n0 = :v0 AND #n1 <= :v1",
      FilterExpression: "attribute_exists(#n2)",
      ExpressionAttributeNames: { "#n0": "gpk", "#n1": "gsk", "#n2": "state" },
      ExpressionAttributeValues: { ":v0": "g", ":v1": "9" },
      Limit: 10,
      ScanIndexForward: false,
      ExclusiveStartKey: { pk: "a", sk: "b", gpk: "g", gsk: "1" },
    }],
    ["BatchGetCommand", {
      RequestItems: { t1: { Keys: [{ pk: "p", sk: "s" }], ConsistentRead: true } },
    }],
    ["BatchWriteCommand", {
      RequestItems: {
        t1: [
          { PutRequest: { Item: { pk: "a", sk: "b" } } },
          { DeleteRequest: { Key: { pk: "c", sk: "d" } } },
        ],
      },
    }],
  ]);
});

Deno.test("live: createTable builds an on-demand table with string keys", async () => {
  const { db, sent } = fakeClient(() => ({}));
  await runLive(Effect.gen(function* () {
    yield* db.createTable({
      name: "t1",
      partitionKey: "pk",
      sortKey: "sk",
      indexes: [
        { name: "ready", partitionKey: "gpk", sortKey: "gsk", projection: ["state", "sentAt"] },
        { name: "keys", partitionKey: "gpk", sortKey: "other", projection: "KEYS_ONLY" },
        { name: "all", partitionKey: "a", sortKey: "sk", projection: "ALL" },
      ],
    });
    yield* db.createTable({ name: "t2", partitionKey: "pk", sortKey: "sk", indexes: [] });
  }));
  const key = (hash: string, range: string) => [
    { AttributeName: hash, KeyType: "HASH" },
    { AttributeName: range, KeyType: "RANGE" },
  ];
  assert.deepStrictEqual(sent.map((s) => s.input), [
    {
      TableName: "t1",
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: ["pk", "sk", "gpk", "gsk", "other", "a"].map((name) => ({
        AttributeName: name,
        AttributeType: "S",
      })),
      KeySchema: key("pk", "sk"),
      GlobalSecondaryIndexes: [
        {
          IndexName: "ready",
          KeySchema: key("gpk", "gsk"),
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["state", "sentAt"] },
        },
        {
          IndexName: "keys",
          KeySchema: key("gpk", "other"),
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
        { IndexName: "all", KeySchema: key("a", "sk"), Projection: { ProjectionType: "ALL" } },
      ],
    },
    {
      TableName: "t2",
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      KeySchema: key("pk", "sk"),
    },
  ]);
});

Deno.test("live: transactWrite sends one placeholder map per action", async () => {
  const { db, sent } = fakeClient(() => ({}));
  await runLive(db.transactWrite([
    { _tag: "Put", table: "t1", item: { pk: "a", sk: "x" }, condition: notExists("pk") },
    {
      _tag: "Update",
      table: "t2",
      key: { pk: "b", sk: "x" },
      update: { add: { n: 1 } },
      condition: eq("state", "ready"),
    },
    { _tag: "Delete", table: "t1", key: { pk: "c", sk: "x" } },
    { _tag: "ConditionCheck", table: "t1", key: { pk: "d", sk: "x" }, condition: exists("pk") },
  ]));
  assert.deepStrictEqual(sent.map((s) => [s.command, s.input]), [[
    "TransactWriteCommand",
    {
      TransactItems: [
        {
          Put: {
            TableName: "t1",
            Item: { pk: "a", sk: "x" },
            ConditionExpression: "attribute_not_exists(#n0)",
            ExpressionAttributeNames: { "#n0": "pk" },
          },
        },
        {
          Update: {
            TableName: "t2",
            Key: { pk: "b", sk: "x" },
            UpdateExpression: "ADD #n0 :v0",
            ConditionExpression: "#n1 = :v1",
            ExpressionAttributeNames: { "#n0": "n", "#n1": "state" },
            ExpressionAttributeValues: { ":v0": 1, ":v1": "ready" },
          },
        },
        { Delete: { TableName: "t1", Key: { pk: "c", sk: "x" } } },
        {
          ConditionCheck: {
            TableName: "t1",
            Key: { pk: "d", sk: "x" },
            ConditionExpression: "attribute_exists(#n0)",
            ExpressionAttributeNames: { "#n0": "pk" },
          },
        },
      ],
    },
  ]]);
});

Deno.test("live: every request is a client span with OTel attributes", async () => {
  const { db } = fakeClient(() => ({}));
  const spans: Array<Tracer.Span> = [];
  await runLive(Tracer.tracerWith((base) =>
    Effect.gen(function* () {
      yield* db.get("t1", { pk: "p", sk: "s" });
      yield* db.transactWrite([
        { _tag: "Put", table: "t2", item: { pk: "a", sk: "x" } },
        { _tag: "Delete", table: "t1", key: { pk: "b", sk: "x" } },
      ]);
    }).pipe(
      Effect.withTracer(Tracer.make({
        context: base.context,
        span: (...args) => {
          const span = base.span(...args);
          spans.push(span);
          return span;
        },
      })),
    )
  ));
  assert.deepStrictEqual(
    spans.map((span) => [span.name, span.kind, Object.fromEntries(span.attributes)]),
    [
      ["DynamoDB.get", "client", {
        "db.system.name": "aws.dynamodb",
        "db.operation.name": "GetItem",
        "aws.dynamodb.table_names": ["t1"],
      }],
      ["DynamoDB.transactWrite", "client", {
        "db.system.name": "aws.dynamodb",
        "db.operation.name": "TransactWriteItems",
        "aws.dynamodb.table_names": ["t2", "t1"],
      }],
    ],
  );
});

Deno.test("live: an update without actions fails with Validation before sending", async () => {
  const { db, sent } = fakeClient(() => ({}));
  const error = await runLive(Effect.flip(db.update("t1", { pk: "p", sk: "s" }, {})));
  assert.equal(error._tag, "DynamoDBError");
  assert.equal((error as DynamoDBError).reason, "Validation");
  assert.equal(sent.length, 0);
});

Deno.test("live: SDK errors are classified by name", async () => {
  const cases: ReadonlyArray<readonly [unknown, string, boolean]> = [
    [sdkError("ProvisionedThroughputExceededException"), "Throttled", true],
    [sdkError("ThrottlingException"), "Throttled", true],
    [sdkError("RequestLimitExceeded"), "Throttled", true],
    [sdkError("ValidationException"), "Validation", false],
    [sdkError("SerializationException"), "Validation", false],
    [sdkError("AccessDeniedException"), "AccessDenied", false],
    [sdkError("UnrecognizedClientException"), "AccessDenied", false],
    [sdkError("MissingAuthenticationTokenException"), "AccessDenied", false],
    [
      sdkError("CredentialsProviderError", "Could not load credentials from any providers"),
      "Credentials",
      false,
    ],
    [sdkError("ResourceNotFoundException"), "TableNotFound", false],
    [sdkError("ResourceInUseException"), "TableExists", false],
    [sdkError("UnknownOperationException"), "Unsupported", false],
    [sdkError("TransactionConflictException"), "TransactionConflict", true],
    [
      sdkError("TransactionCanceledException", "cancelled", {
        CancellationReasons: [{ Code: "None" }, { Code: "TransactionConflict" }],
      }),
      "TransactionConflict",
      true,
    ],
    [
      sdkError("TransactionCanceledException", "cancelled", {
        CancellationReasons: [{ Code: "ValidationError" }, { Code: "None" }],
      }),
      "Validation",
      false,
    ],
    [sdkError("InternalServerError"), "ServerError", true],
    [sdkError("ServiceUnavailable"), "ServerError", true],
    [sdkError("SomethingNew", "boom", { $metadata: { httpStatusCode: 503 } }), "ServerError", true],
    [sdkError("TimeoutError"), "Transport", true],
    [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      "Transport",
      true,
    ],
    [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "Transport", true],
    [new Error("socket hang up"), "Transport", true],
    [sdkError("NetworkingError"), "Transport", true],
    [new TypeError("fetch failed", { cause: { code: "UND_ERR_SOCKET" } }), "Transport", true],
    [new Error("Special numeric value NaN is not allowed"), "Validation", false],
    [sdkError("SomethingNew", "what is this"), "Unknown", false],
    ["a string", "Unknown", false],
  ];
  for (const [error, reason, retryable] of cases) {
    const failure = await runLive(Effect.flip(failing(error).get("t1", { pk: "p", sk: "s" })));
    assert.equal(failure._tag, "DynamoDBError", Deno.inspect(error));
    assert.equal(failure.reason, reason, Deno.inspect(error));
    assert.equal(failure.retryable, retryable, Deno.inspect(error));
    assert.equal(failure.operation, "get");
    assert.equal(failure.cause, error);
    assert.equal(
      failure.detail,
      error instanceof Error ? error.message : String(error),
    );
  }
});

Deno.test("live: failed conditions become ConditionFailed with table, operation and key", async () => {
  const ccf = sdkError("ConditionalCheckFailedException", "The conditional request failed");
  const key = { pk: "p", sk: "s" };
  const check = async (
    effect: Effect.Effect<unknown, ConditionFailed | DynamoDBError>,
    expected: object,
  ) => {
    const failure = await runLive(Effect.flip(effect));
    assert.equal(failure._tag, "ConditionFailed");
    const { table, operation, key: failedKey } = failure as ConditionFailed;
    assert.deepStrictEqual({ table, operation, key: failedKey }, expected);
  };
  const db = failing(ccf);
  await check(db.put("t1", { ...key, v: 1 }), { table: "t1", operation: "put", key: undefined });
  await check(db.update("t1", key, { set: { a: 1 } }), { table: "t1", operation: "update", key });
  await check(db.delete("t1", key), { table: "t1", operation: "delete", key });

  const cancelled = sdkError("TransactionCanceledException", "cancelled", {
    CancellationReasons: [{ Code: "None" }, { Code: "ConditionalCheckFailed" }, { Code: "None" }],
  });
  await check(
    failing(cancelled).transactWrite([
      { _tag: "Put", table: "t1", item: { pk: "a", sk: "x" } },
      { _tag: "Delete", table: "t2", key: { pk: "b", sk: "x" } },
      { _tag: "ConditionCheck", table: "t1", key: { pk: "c", sk: "x" }, condition: exists("pk") },
    ]),
    { table: "t2", operation: "transactWrite", key: { pk: "b", sk: "x" } },
  );
});

Deno.test("live: interrupting the fiber aborts the request and fails nothing", async () => {
  let aborted = false;
  const { db } = fakeClient((_command, _input, signal) =>
    new Promise((_resolve, reject) => {
      signal?.addEventListener("abort", () => {
        aborted = true;
        reject(Object.assign(new Error("The operation was aborted"), { name: "AbortError" }));
      });
    })
  );
  const exit = await runLive(Effect.gen(function* () {
    const fiber = yield* Effect.fork(db.get("t1", { pk: "p", sk: "s" }));
    yield* Effect.yieldNow();
    return yield* Fiber.interrupt(fiber);
  }));
  assert.ok(aborted, "the abort signal fired");
  // Interrupted only: the AbortError the aborted request rejected with is nowhere in the cause.
  assert.ok(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause), Deno.inspect(exit));
});

Deno.test("live: describeTable treats an unsupported DescribeTimeToLive as TTL unknown", async () => {
  const { db } = fakeClient((command) => {
    if (command === "DescribeTimeToLiveCommand") throw sdkError("UnknownOperationException");
    return {
      Table: {
        TableName: "t1",
        TableStatus: "ACTIVE",
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      },
    };
  });
  const description = await runLive(db.describeTable("t1"));
  assert.deepStrictEqual(description, {
    name: "t1",
    status: "ACTIVE",
    keys: [
      { attribute: "pk", keyType: "HASH", type: "S" },
      { attribute: "sk", keyType: "RANGE", type: "S" },
    ],
    indexes: [],
  });
});

Deno.test("live: a refused connection is a retryable Transport error", async () => {
  // A port that was free a moment ago; nothing listens there now.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const layer = DynamoDBLive.layer({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const failure = await runLiveWith(
    layer,
    Effect.flip(Effect.flatMap(DynamoDB, (db) => db.get("t1", { pk: "p", sk: "s" }))),
  );
  assert.equal(failure.reason, "Transport", Deno.inspect(failure));
  assert.equal(failure.retryable, true);
});

Deno.test("live: envConfig reads AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB", async () => {
  const read = (env: Record<string, string>) =>
    runLive(
      Effect.withConfigProvider(
        DynamoDBLive.envConfig,
        ConfigProvider.fromMap(new Map(Object.entries(env))),
      ),
    );
  assert.deepStrictEqual(await read({}), { region: undefined, endpoint: undefined });
  assert.deepStrictEqual(await read({ AWS_REGION: "eu-west-1" }), {
    region: "eu-west-1",
    endpoint: undefined,
  });
  // An endpoint without a region: emulators want one, so us-east-1.
  assert.deepStrictEqual(await read({ AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:8000" }), {
    region: "us-east-1",
    endpoint: "http://127.0.0.1:8000",
  });
  assert.deepStrictEqual(
    await read({ AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:8000" }),
    { region: "eu-west-1", endpoint: "http://127.0.0.1:8000" },
  );
  // The fallbacks the CLI reads too.
  assert.deepStrictEqual(
    await read({ AWS_DEFAULT_REGION: "eu-central-1", AWS_ENDPOINT_URL: "https://ddb.example" }),
    { region: "eu-central-1", endpoint: "https://ddb.example" },
  );
  // An endpoint without its scheme is a ConfigError naming the variable and the fix.
  for (const name of ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]) {
    const error = await runLive(Effect.flip(Effect.withConfigProvider(
      DynamoDBLive.envConfig,
      ConfigProvider.fromMap(new Map([[name, "127.0.0.1:8000"]])),
    )));
    assert.match(String(error), new RegExp(`${name}.*http://127\\.0\\.0\\.1:8000`), name);
  }
});

/** The error a layer fails to build with. */
const buildError = <E>(layer: Layer.Layer<DynamoDB, E>): Promise<E> =>
  runLive(Effect.flip(Layer.build(layer)));

Deno.test("live: a malformed endpoint or timeout fails the layer with InvalidOptions", async () => {
  for (const endpoint of ["127.0.0.1:8000", "localhost:8000", "ftp://127.0.0.1:8000"]) {
    const error = await buildError(DynamoDBLive.layer({ endpoint, region: "us-east-1" }));
    assert.equal(error._tag, "InvalidOptions", endpoint);
    assert.equal(error.option, "endpoint");
    assert.match(error.message, /write it with its scheme, e\.g\. http:\/\//, endpoint);
  }
  const noScheme = await buildError(DynamoDBLive.layer({ endpoint: "127.0.0.1:8000" }));
  assert.match(noScheme.message, /e\.g\. http:\/\/127\.0\.0\.1:8000$/);
  for (const requestTimeout of ["0 millis", "soon"]) {
    const error = await buildError(
      DynamoDBLive.layer({ region: "us-east-1", requestTimeout: requestTimeout as "0 millis" }),
    );
    assert.equal(error.option, "requestTimeout", requestTimeout);
  }
});

Deno.test("live: a region the SDK cannot resolve fails the layer with InvalidOptions", async () => {
  // What the SDK's chain does when neither AWS_REGION nor a profile names a region.
  const error = await buildError(DynamoDBLive.layer({
    clientConfig: { region: (() => Promise.reject(new Error("Region is missing"))) as never },
  }));
  assert.equal(error._tag, "InvalidOptions");
  assert.equal(error.option, "region");
  assert.match(error.message, /set AWS_REGION .*or pass `region`/);
});

Deno.test("live: a credentials failure has its own reason and says what to set", async () => {
  const failure = await runLive(Effect.flip(
    failing(sdkError("CredentialsProviderError", "Could not load credentials from any providers"))
      .createTable({ name: "t1", partitionKey: "pk", sortKey: "sk", indexes: [] }),
  ));
  assert.ok(failure instanceof DynamoDBError);
  assert.equal(failure.reason, "Credentials");
  assert.match(failure.message, /\(Credentials\): Could not load .*AWS_ACCESS_KEY_ID/);
});

Deno.test({
  name: "live: a loopback endpoint without configured credentials gets dummy ones",
  ignore: dynaliteEndpoint === undefined,
  fn: async () => {
    // No credentials anywhere the library looks (the ConfigProvider is empty); the SDK's own
    // chain would fail with "Could not load credentials from any providers".
    const layer = DynamoDBLive.layer({ endpoint: dynaliteEndpoint!, region: "us-east-1" }).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))),
    );
    const failure = await runLiveWith(
      layer,
      Effect.flatMap(DynamoDB, (db) => Effect.flip(db.describeTable(uniqueTableName("missing")))),
    );
    assert.equal(failure.reason, "TableNotFound");
  },
});

Deno.test("live: a request without an answer times out, aborted, as a retryable Transport error", async () => {
  // A server that accepts connections and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Array<Deno.Conn> = [];
  const accepting = (async () => {
    for await (const conn of listener) connections.push(conn);
  })().catch(() => {});
  try {
    const layer = DynamoDBLive.layer({
      endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      requestTimeout: "300 millis",
    });
    const started = performance.now();
    // Under TestClock, which nobody adjusts: the deadline is real time all the same.
    const failure = await runLiveWith(
      Layer.merge(layer, TestContext.TestContext),
      Effect.flip(Effect.flatMap(DynamoDB, (db) => db.get("t1", { pk: "p", sk: "s" }))),
    );
    const elapsed = performance.now() - started;
    assert.equal(failure.reason, "Transport", Deno.inspect(failure));
    assert.equal(failure.retryable, true);
    assert.match(failure.message, /no response within 300ms \(requestTimeout\)/);
    // Not sooner than the timeout. No upper bound: a busy machine may take long to get there,
    // and the message above already says that the 300 ms timeout, not the default, fired.
    assert.ok(elapsed >= 290, `took ${elapsed} ms`);
    assert.ok(connections.length >= 1, "the request reached the server");
  } finally {
    listener.close();
    for (const conn of connections) {
      try {
        conn.close();
      } catch {
        // Closed by the client's abort.
      }
    }
    await accepting;
  }
});

Deno.test("live: the default request timeout is 30 seconds", () => {
  assert.equal(Duration.toMillis(DynamoDBLive.DEFAULT_REQUEST_TIMEOUT), 30_000);
});

const ROOT = new URL("..", import.meta.url);

/**
 * The README's "Use it" program, run as its own process with nothing in the environment but
 * `env` (and what deno needs): prints `{ ok }` or the `{ tag, message }` of its failure.
 */
const runReadmeProgram = async (env: Record<string, string>, table: string) => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(
      script,
      `
import { DynamoDBLive, Queue, Table } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
import { Cause, Effect, Option, Schema } from "effect";

const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });
const program = Effect.gen(function* () {
  yield* Table.create(${JSON.stringify(table)});
  const orders = yield* Queue.make({ table: ${
        JSON.stringify(table)
      }, name: "orders", schema: Order });
  yield* orders.send({ id: "A-101", total: 42 });
  const { messages } = yield* orders.receive({ max: 10 });
  for (const message of messages) yield* orders.ack(message);
  return messages.map((m) => m.body.id);
});
const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(DynamoDBLive.layerConfig())));
const error = exit._tag === "Failure" ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined;
console.log(JSON.stringify(
  exit._tag === "Success"
    ? { ok: exit.value }
    : { tag: (error as { _tag?: string } | undefined)?._tag, message: String(error ?? Cause.pretty(exit.cause)) },
));
`,
    );
    const base: Record<string, string> = {
      NO_COLOR: "1",
      // No profile files: only what the test sets.
      AWS_CONFIG_FILE: `${dir}/none`,
      AWS_SHARED_CREDENTIALS_FILE: `${dir}/none`,
    };
    for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) base[name] = value;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", new URL("deno.json", ROOT).pathname, script],
      clearEnv: true,
      env: { ...base, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
    return JSON.parse(stdout.trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
};

const emulatorEndpoint = Deno.env.get("DYNAMOMQ_DDBLOCAL_ENDPOINT") || dynaliteEndpoint;

Deno.test({
  name: "live: the README program runs on an emulator with only AWS_REGION and the endpoint set",
  ignore: emulatorEndpoint === undefined,
  fn: async () => {
    const [ran, noScheme, noRegion] = await Promise.all([
      runReadmeProgram(
        { AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_DYNAMODB: emulatorEndpoint! },
        uniqueTableName("readme"),
      ),
      runReadmeProgram(
        { AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_DYNAMODB: "127.0.0.1:8000" },
        uniqueTableName("readme"),
      ),
      runReadmeProgram({}, uniqueTableName("readme")),
    ]);
    assert.deepStrictEqual(ran, { ok: ["A-101"] });
    assert.match(
      noScheme.message,
      /AWS_ENDPOINT_URL_DYNAMODB.*"127\.0\.0\.1:8000" is not a URL.*http:\/\/127\.0\.0\.1:8000/,
    );
    assert.equal(noRegion.tag, "InvalidOptions");
    assert.match(noRegion.message, /invalid region: no AWS region configured: set AWS_REGION/);
  },
});

const localCredentials = { accessKeyId: "local", secretAccessKey: "local" };

Deno.test({
  name: "live: layerConfig reads every option through Config",
  ignore: dynaliteEndpoint === undefined,
  fn: async () => {
    const provider = ConfigProvider.fromMap(
      new Map([
        ["DDB_ENDPOINT", dynaliteEndpoint!],
        ["DDB_REGION", "us-east-1"],
        ["DDB_KEY", "local"],
        ["DDB_SECRET", "local"],
      ]),
    );
    const layer = DynamoDBLive.layerConfig({
      endpoint: Config.string("DDB_ENDPOINT"),
      region: Config.string("DDB_REGION"),
      credentials: {
        accessKeyId: Config.string("DDB_KEY"),
        secretAccessKey: Config.redacted("DDB_SECRET"),
      },
      maxAttempts: Config.succeed(1),
    }).pipe(Layer.provide(Layer.setConfigProvider(provider)));
    // Reaching dynalite at all proves endpoint, region and credentials were used.
    const failure = await runLiveWith(
      layer,
      Effect.flatMap(DynamoDB, (db) => Effect.flip(db.describeTable(uniqueTableName("missing")))),
    );
    assert.equal(failure.reason, "TableNotFound");
  },
});

Deno.test({
  name: "live: layerFromClient wraps a raw client and never destroys it",
  ignore: dynaliteEndpoint === undefined,
  fn: async () => {
    const client = new DynamoDBClient({
      endpoint: dynaliteEndpoint!,
      region: "us-east-1",
      credentials: localCredentials,
      maxAttempts: 1,
    });
    let destroyed = 0;
    const destroy = client.destroy.bind(client);
    client.destroy = () => {
      destroyed++;
    };
    try {
      const layer = DynamoDBLive.layerFromClient({ acquire: Effect.succeed(client) });
      const table = uniqueTableName();
      const item = await runLiveWith(
        layer,
        Effect.gen(function* () {
          const db = yield* DynamoDB;
          yield* Effect.acquireRelease(
            db.createTable({ name: table, partitionKey: "pk", sortKey: "sk", indexes: [] }),
            () => Effect.orDie(db.deleteTable(table)),
          );
          // The document client marshals plain values (and drops undefined ones).
          yield* db.put(table, { pk: "p", sk: "s", n: 1, gone: undefined } as never);
          return yield* db.get(table, { pk: "p", sk: "s" });
        }),
      );
      assert.deepStrictEqual(item, { pk: "p", sk: "s", n: 1 });
      assert.equal(destroyed, 0);
    } finally {
      destroy();
    }
  },
});

Deno.test("live: layer destroys the client it made when its scope closes", async () => {
  // Building and releasing the layer must not leave sockets or timers behind (the sanitizers of
  // this test would report them).
  await runLive(Effect.asVoid(Layer.build(DynamoDBLive.layer({ region: "us-east-1" }))));
});

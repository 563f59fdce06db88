/**
 * The live `DynamoDB` layer: the port implemented over the AWS SDK v3 `DynamoDBDocumentClient`.
 * It talks to Amazon DynamoDB, DynamoDB Local or dynalite alike. Every request is an interruptible
 * effect (interrupting the fiber aborts the HTTP request), traced with a client span, and its
 * failure is classified into `ConditionFailed` or a `DynamoDBError` with a `reason`.
 *
 * @example
 * ```ts
 * import { DynamoDB, DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   return yield* db.get("dynamomq", { pk: "orders#1", sk: "message" });
 * });
 *
 * program.pipe(
 *   Effect.provide(DynamoDBLive.layer({ region: "eu-west-1" })),
 *   Effect.runPromise,
 * );
 * ```
 *
 * @module
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  type TranslateConfig,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import * as Config from "effect/Config";
import type * as ConfigError from "effect/ConfigError";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import * as Option from "effect/Option";
import * as Redacted from "effect/Redacted";
import type * as Scope from "effect/Scope";
import { ConditionFailed, DynamoDBError, type DynamoDBErrorReason } from "../Errors.ts";
import {
  compileCondition,
  compileKeyCondition,
  compileTrue,
  compileUpdate,
  type ExpressionBuilder,
  isNeverTrue,
  makeBuilder,
} from "../internal/expression.ts";
import {
  type BatchWriteRequest,
  type Condition,
  DynamoDB,
  type IndexDefinition,
  type Item,
  type Key,
  type TableDescription,
  type TransactItem,
  type Update,
} from "../services/DynamoDB.ts";

/**
 * Options of the live layer. Anything not set here comes from the AWS SDK's default chains
 * (environment, shared config files, instance metadata).
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBLiveOptions {
  /** The AWS region, e.g. `"eu-west-1"`. */
  readonly region?: string | undefined;
  /** An endpoint URL, e.g. `"http://127.0.0.1:8000"` for DynamoDB Local or dynalite. */
  readonly endpoint?: string | undefined;
  /** Static credentials (for emulators any non-empty values do). */
  readonly credentials?:
    | {
      readonly accessKeyId: string;
      readonly secretAccessKey: Redacted.Redacted<string> | string;
      readonly sessionToken?: Redacted.Redacted<string> | string | undefined;
    }
    | undefined;
  /**
   * How many times the SDK sends a request before giving up on a retryable error.
   *
   * @default 3 (the SDK's default)
   */
  readonly maxAttempts?: number | undefined;
  /** Any other `DynamoDBClient` configuration; the fields above take precedence. */
  readonly clientConfig?: DynamoDBClientConfig | undefined;
}

type TransactWriteItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

// Why the document client is configured this way: optional fields of our items may be
// `undefined` in JS; DynamoDB has no such value, so they are dropped instead of failing.
const translateConfig: TranslateConfig = { marshallOptions: { removeUndefinedValues: true } };

// ---------------------------------------------------------------------------------------------
// Error classification (by `name`, never `instanceof`: several SDK copies may be loaded)
// ---------------------------------------------------------------------------------------------

const field = (e: unknown, key: string): unknown =>
  typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined;

const stringField = (e: unknown, key: string): string => {
  const v = field(e, key);
  return typeof v === "string" ? v : "";
};

const messageOf = (e: unknown): string => {
  const message = stringField(e, "message");
  if (message !== "") return message;
  const name = stringField(e, "name");
  return name !== "" ? name : String(e);
};

const THROTTLED = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "Throttling",
  "RequestLimitExceeded",
  "LimitExceededException",
  "TooManyRequestsException",
]);
const VALIDATION = new Set([
  "ValidationException",
  "SerializationException",
  "ItemCollectionSizeLimitExceededException",
]);
const ACCESS_DENIED = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "InvalidSignatureException",
  "IncompleteSignature",
  "IncompleteSignatureException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "CredentialsProviderError",
]);
const SERVER = new Set([
  "InternalServerError",
  "InternalServerErrorException",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
]);
const TRANSPORT_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "NetworkingError",
  "AbortError",
]);
const TRANSPORT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const isTransport = (e: unknown): boolean => {
  if (TRANSPORT_NAMES.has(stringField(e, "name"))) return true;
  const cause = field(e, "cause");
  if (
    TRANSPORT_CODES.has(stringField(e, "code")) || TRANSPORT_CODES.has(stringField(cause, "code"))
  ) {
    return true;
  }
  const message = stringField(e, "message");
  return /socket hang up|fetch failed|network error|connection (refused|reset)/i.test(message);
};

// The document client marshals before anything is sent; its errors are about the input.
const isMarshallError = (e: unknown): boolean =>
  /^(Special numeric value|Unsupported type passed|Number .* (is greater than|is lesser than))/
    .test(stringField(e, "message"));

const httpStatus = (e: unknown): number | undefined => {
  const status = field(field(e, "$metadata"), "httpStatusCode");
  return typeof status === "number" ? status : undefined;
};

const dynamoDBError = (
  operation: string,
  reason: DynamoDBErrorReason,
  retryable: boolean,
  e: unknown,
): DynamoDBError =>
  new DynamoDBError({ operation, reason, retryable, detail: messageOf(e), cause: e });

const cancellationCodes = (e: unknown): ReadonlyArray<string | undefined> => {
  const reasons = field(e, "CancellationReasons");
  return Array.isArray(reasons)
    ? reasons.map((r) => {
      const code = field(r, "Code");
      return typeof code === "string" ? code : undefined;
    })
    : [];
};

/** Classifies any failure of a request other than a failed condition. */
const classify = (operation: string, e: unknown): DynamoDBError => {
  const name = stringField(e, "name");
  if (name === "TransactionCanceledException") {
    // Called only when no reason is a failed condition; look at the others.
    const codes = cancellationCodes(e);
    if (codes.includes("ValidationError")) return dynamoDBError(operation, "Validation", false, e);
    if (codes.some((c) => c === "ThrottlingError" || c === "ProvisionedThroughputExceeded")) {
      return dynamoDBError(operation, "Throttled", true, e);
    }
    return dynamoDBError(operation, "TransactionConflict", true, e);
  }
  if (name === "TransactionConflictException" || name === "TransactionInProgressException") {
    return dynamoDBError(operation, "TransactionConflict", true, e);
  }
  if (THROTTLED.has(name)) return dynamoDBError(operation, "Throttled", true, e);
  if (VALIDATION.has(name)) return dynamoDBError(operation, "Validation", false, e);
  if (ACCESS_DENIED.has(name)) return dynamoDBError(operation, "AccessDenied", false, e);
  if (name === "ResourceNotFoundException") {
    return dynamoDBError(operation, "TableNotFound", false, e);
  }
  if (name === "ResourceInUseException") return dynamoDBError(operation, "TableExists", false, e);
  if (name === "UnknownOperationException") {
    return dynamoDBError(operation, "Unsupported", false, e);
  }
  if (SERVER.has(name) || (httpStatus(e) ?? 0) >= 500) {
    return dynamoDBError(operation, "ServerError", true, e);
  }
  if (isTransport(e)) return dynamoDBError(operation, "Transport", true, e);
  if (isMarshallError(e)) return dynamoDBError(operation, "Validation", false, e);
  return dynamoDBError(operation, "Unknown", false, e);
};

/** Classifies the failure of a conditional single-item write. */
const classifyWrite = (operation: string, table: string, key: Key | undefined) =>
(
  e: unknown,
): ConditionFailed | DynamoDBError =>
  stringField(e, "name") === "ConditionalCheckFailedException"
    ? new ConditionFailed({ table, operation, key, cause: e })
    : classify(operation, e);

const transactTarget = (item: TransactItem): Key | undefined =>
  item._tag === "Put" ? undefined : item.key;

/** Classifies the failure of a transaction: a failed condition names the first failing item. */
const classifyTransaction = (items: ReadonlyArray<TransactItem>) =>
(
  e: unknown,
): ConditionFailed | DynamoDBError => {
  if (stringField(e, "name") === "TransactionCanceledException") {
    const index = cancellationCodes(e).indexOf("ConditionalCheckFailed");
    const failed = index >= 0 ? items[index] : undefined;
    if (failed !== undefined) {
      return new ConditionFailed({
        table: failed.table,
        operation: "transactWrite",
        key: transactTarget(failed),
        cause: e,
      });
    }
  }
  return classify("transactWrite", e);
};

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** The expression fields of a request, each present only when it has content. */
interface Expressions {
  ConditionExpression?: string;
  UpdateExpression?: string;
  KeyConditionExpression?: string;
  FilterExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

const withExpressions = (
  builder: ExpressionBuilder,
  expressions: {
    readonly [K in "ConditionExpression" | "KeyConditionExpression" | "FilterExpression"]?:
      | string
      | undefined;
  },
): Expressions => {
  const out: Expressions = {};
  for (const [k, v] of Object.entries(expressions)) {
    if (v !== undefined) out[k as keyof typeof expressions] = v;
  }
  return { ...out, ...builder.attributes() };
};

const conditionInput = (condition: Condition | undefined): Expressions => {
  const builder = makeBuilder();
  return withExpressions(builder, {
    ConditionExpression: condition === undefined ? undefined : compileCondition(builder, condition),
  });
};

const updateInput = (
  operation: string,
  update: Update,
  condition: Condition | undefined,
): Effect.Effect<Expressions & { UpdateExpression: string }, DynamoDBError> => {
  const builder = makeBuilder();
  const updateExpression = compileUpdate(builder, update);
  if (updateExpression === undefined) {
    // The port requires at least one action; DynamoDB would silently create a key-only item.
    return Effect.fail(
      new DynamoDBError({
        operation,
        reason: "Validation",
        retryable: false,
        detail: "an update needs at least one set, add or remove action",
      }),
    );
  }
  const conditionExpression = condition === undefined
    ? undefined
    : compileCondition(builder, condition);
  return Effect.succeed({
    ...withExpressions(builder, { ConditionExpression: conditionExpression }),
    UpdateExpression: updateExpression,
  });
};

const projectionOf = (projection: IndexDefinition["projection"]) =>
  projection === "ALL" || projection === "KEYS_ONLY"
    ? { ProjectionType: projection }
    : projection.length === 0
    ? { ProjectionType: "KEYS_ONLY" as const }
    : { ProjectionType: "INCLUDE" as const, NonKeyAttributes: [...projection] };

const keyType = (t: string | undefined): "HASH" | "RANGE" => t === "RANGE" ? "RANGE" : "HASH";

/**
 * Implements the port over a document client that the caller owns (this does not destroy it).
 * The client should marshal with `removeUndefinedValues: true`, as {@linkcode make} does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient = (client: DynamoDBDocumentClient): DynamoDB => {
  const request = <A, E>(
    operation: string,
    awsOperation: string,
    tables: ReadonlyArray<string>,
    send: (signal: AbortSignal) => Promise<A>,
    onError: (e: unknown) => E,
  ): Effect.Effect<A, E> =>
    Effect.tryPromise({ try: (signal) => send(signal), catch: onError }).pipe(
      Effect.withSpan(`DynamoDB.${operation}`, {
        kind: "client",
        attributes: {
          "db.system.name": "aws.dynamodb",
          "db.operation.name": awsOperation,
          "aws.dynamodb.table_names": tables,
        },
      }),
    );

  const onError = (operation: string) => (e: unknown): DynamoDBError => classify(operation, e);

  return {
    get: (table, key) =>
      request(
        "get",
        "GetItem",
        [table],
        (abortSignal) =>
          client.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }), {
            abortSignal,
          }),
        onError("get"),
      ).pipe(Effect.map((out) => out.Item as Item | undefined)),

    put: (table, item, options) =>
      request(
        "put",
        "PutItem",
        [table],
        (abortSignal) =>
          client.send(
            new PutCommand({
              TableName: table,
              Item: item,
              ...conditionInput(options?.condition),
            }),
            { abortSignal },
          ),
        classifyWrite("put", table, undefined),
      ).pipe(Effect.asVoid),

    update: (table, key, update, options) =>
      updateInput("update", update, options?.condition).pipe(
        Effect.flatMap((expressions) =>
          request(
            "update",
            "UpdateItem",
            [table],
            (abortSignal) =>
              client.send(
                new UpdateCommand({
                  TableName: table,
                  Key: key,
                  ReturnValues: "ALL_NEW",
                  ...expressions,
                }),
                { abortSignal },
              ),
            classifyWrite("update", table, key),
          )
        ),
        // ALL_NEW always returns the item (at least its key); the fallback only guards the type.
        Effect.map((out) => (out.Attributes ?? { ...key }) as Item),
      ),

    delete: (table, key, options) =>
      request(
        "delete",
        "DeleteItem",
        [table],
        (abortSignal) =>
          client.send(
            new DeleteCommand({
              TableName: table,
              Key: key,
              ReturnValues: "ALL_OLD",
              ...conditionInput(options?.condition),
            }),
            { abortSignal },
          ),
        classifyWrite("delete", table, key),
      ).pipe(Effect.map((out) => out.Attributes as Item | undefined)),

    query: (table, query) => {
      const builder = makeBuilder();
      const keyCondition = compileKeyCondition(builder, query.partition, query.sort);
      // A filter that never holds evaluates the same items and returns none of them.
      const matchesNothing = query.filter !== undefined && isNeverTrue(query.filter);
      const filter = query.filter === undefined || matchesNothing
        ? undefined
        : compileCondition(builder, query.filter);
      const input = {
        TableName: table,
        ...(query.index === undefined ? {} : { IndexName: query.index }),
        ...withExpressions(builder, {
          KeyConditionExpression: keyCondition,
          FilterExpression: filter,
        }),
        ...(query.limit === undefined ? {} : { Limit: query.limit }),
        ...(query.ascending === undefined ? {} : { ScanIndexForward: query.ascending }),
        ...(query.startKey === undefined ? {} : { ExclusiveStartKey: query.startKey }),
        ...(query.consistent === undefined ? {} : { ConsistentRead: query.consistent }),
      };
      return request(
        "query",
        "Query",
        [table],
        (abortSignal) => client.send(new QueryCommand(input), { abortSignal }),
        onError("query"),
      ).pipe(
        Effect.map((out) => {
          const items = matchesNothing ? [] : (out.Items ?? []) as ReadonlyArray<Item>;
          return out.LastEvaluatedKey === undefined
            ? { items }
            : { items, lastKey: out.LastEvaluatedKey as Key };
        }),
      );
    },

    batchGet: (table, keys) =>
      // An empty batch is a no-op here; DynamoDB would reject a request without keys.
      keys.length === 0 ? Effect.succeed({ items: [], unprocessed: [] }) : request(
        "batchGet",
        "BatchGetItem",
        [table],
        (abortSignal) =>
          client.send(
            new BatchGetCommand({
              RequestItems: { [table]: { Keys: [...keys], ConsistentRead: true } },
            }),
            { abortSignal },
          ),
        onError("batchGet"),
      ).pipe(
        Effect.map((out) => ({
          items: (out.Responses?.[table] ?? []) as ReadonlyArray<Item>,
          unprocessed: (out.UnprocessedKeys?.[table]?.Keys ?? []) as ReadonlyArray<Key>,
        })),
      ),

    batchWrite: (table, requests) =>
      requests.length === 0 ? Effect.succeed({ unprocessed: [] }) : request(
        "batchWrite",
        "BatchWriteItem",
        [table],
        (abortSignal) =>
          client.send(
            new BatchWriteCommand({
              RequestItems: {
                [table]: requests.map((r) =>
                  r._tag === "Put" ? { PutRequest: { Item: r.item } } : {
                    DeleteRequest: { Key: r.key },
                  }
                ),
              },
            }),
            { abortSignal },
          ),
        onError("batchWrite"),
      ).pipe(
        Effect.map((out) => ({
          unprocessed: (out.UnprocessedItems?.[table] ?? []).flatMap(
            (r): Array<BatchWriteRequest> =>
              r.PutRequest?.Item !== undefined
                ? [{ _tag: "Put", item: r.PutRequest.Item as Item }]
                : r.DeleteRequest?.Key !== undefined
                ? [{ _tag: "Delete", key: r.DeleteRequest.Key as Key }]
                : [],
          ),
        })),
      ),

    transactWrite: (items) => {
      if (items.length === 0) return Effect.void;
      const tables = [...new Set(items.map((i) => i.table))];
      return Effect.forEach(items, (item): Effect.Effect<TransactWriteItem, DynamoDBError> => {
        switch (item._tag) {
          case "Put":
            return Effect.succeed({
              Put: { TableName: item.table, Item: item.item, ...conditionInput(item.condition) },
            });
          case "Update":
            return updateInput("transactWrite", item.update, item.condition).pipe(
              Effect.map((expressions) => ({
                Update: { TableName: item.table, Key: item.key, ...expressions },
              })),
            );
          case "Delete":
            return Effect.succeed({
              Delete: { TableName: item.table, Key: item.key, ...conditionInput(item.condition) },
            });
          case "ConditionCheck": {
            const builder = makeBuilder();
            // A ConditionCheck must carry an expression, even one that always holds.
            const expression = compileCondition(builder, item.condition) ?? compileTrue(builder);
            return Effect.succeed({
              ConditionCheck: {
                TableName: item.table,
                Key: item.key,
                ConditionExpression: expression,
                ...builder.attributes(),
              },
            });
          }
        }
      }).pipe(
        Effect.flatMap((transactItems) =>
          request(
            "transactWrite",
            "TransactWriteItems",
            tables,
            (abortSignal) =>
              client.send(new TransactWriteCommand({ TransactItems: transactItems }), {
                abortSignal,
              }),
            classifyTransaction(items),
          )
        ),
        Effect.asVoid,
      );
    },

    createTable: (definition) => {
      const attributes = new Set([definition.partitionKey, definition.sortKey]);
      for (const index of definition.indexes) {
        attributes.add(index.partitionKey);
        attributes.add(index.sortKey);
      }
      return request(
        "createTable",
        "CreateTable",
        [definition.name],
        (abortSignal) =>
          client.send(
            new CreateTableCommand({
              TableName: definition.name,
              BillingMode: "PAY_PER_REQUEST",
              AttributeDefinitions: [...attributes].map((name) => ({
                AttributeName: name,
                AttributeType: "S",
              })),
              KeySchema: [
                { AttributeName: definition.partitionKey, KeyType: "HASH" },
                { AttributeName: definition.sortKey, KeyType: "RANGE" },
              ],
              // DynamoDB rejects an empty index list: leave it out instead.
              ...(definition.indexes.length === 0 ? {} : {
                GlobalSecondaryIndexes: definition.indexes.map((index) => ({
                  IndexName: index.name,
                  KeySchema: [
                    { AttributeName: index.partitionKey, KeyType: "HASH" },
                    { AttributeName: index.sortKey, KeyType: "RANGE" },
                  ],
                  Projection: projectionOf(index.projection),
                })),
              }),
            }),
            { abortSignal },
          ),
        onError("createTable"),
      ).pipe(Effect.asVoid);
    },

    describeTable: (table) =>
      Effect.all(
        [
          request(
            "describeTable",
            "DescribeTable",
            [table],
            (abortSignal) =>
              client.send(new DescribeTableCommand({ TableName: table }), { abortSignal }),
            onError("describeTable"),
          ),
          request(
            "describeTable",
            "DescribeTimeToLive",
            [table],
            (abortSignal) =>
              client.send(new DescribeTimeToLiveCommand({ TableName: table }), { abortSignal }),
            onError("describeTable"),
          ).pipe(
            Effect.map((out): string | undefined => {
              const ttl = out.TimeToLiveDescription;
              return ttl?.TimeToLiveStatus === "ENABLED" || ttl?.TimeToLiveStatus === "ENABLING"
                ? ttl.AttributeName
                : undefined;
            }),
            // A backend without TTL support (dynalite) cannot tell: report TTL as unknown.
            Effect.catchIf((e) => e.reason === "Unsupported", () => Effect.succeed(undefined)),
          ),
        ],
        { concurrency: 2 },
      ).pipe(Effect.map(([out, ttlAttribute]): TableDescription => {
        const t = out.Table ?? {};
        const types = new Map(
          (t.AttributeDefinitions ?? []).map((d) => [d.AttributeName ?? "", d.AttributeType ?? ""]),
        );
        const keysOf = (schema: typeof t.KeySchema) =>
          (schema ?? []).map((k) => ({
            attribute: k.AttributeName ?? "",
            keyType: keyType(k.KeyType),
            type: types.get(k.AttributeName ?? "") ?? "",
          }));
        const description: TableDescription = {
          name: t.TableName ?? table,
          status: t.TableStatus ?? "UNKNOWN",
          keys: keysOf(t.KeySchema),
          indexes: (t.GlobalSecondaryIndexes ?? []).map((index) => ({
            name: index.IndexName ?? "",
            keys: keysOf(index.KeySchema),
            projection: index.Projection?.ProjectionType === "INCLUDE"
              ? [...(index.Projection.NonKeyAttributes ?? [])]
              : index.Projection?.ProjectionType === "ALL"
              ? "ALL"
              : "KEYS_ONLY",
            status: index.IndexStatus ?? "UNKNOWN",
          })),
        };
        return ttlAttribute === undefined ? description : { ...description, ttlAttribute };
      })),

    enableTimeToLive: (table, attribute) =>
      request(
        "enableTimeToLive",
        "UpdateTimeToLive",
        [table],
        (abortSignal) =>
          client.send(
            new UpdateTimeToLiveCommand({
              TableName: table,
              TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
            }),
            { abortSignal },
          ),
        onError("enableTimeToLive"),
      ).pipe(Effect.asVoid),

    deleteTable: (table) =>
      request(
        "deleteTable",
        "DeleteTable",
        [table],
        (abortSignal) => client.send(new DeleteTableCommand({ TableName: table }), { abortSignal }),
        onError("deleteTable"),
      ).pipe(Effect.asVoid),
  };
};

// ---------------------------------------------------------------------------------------------
// Constructors and layers
// ---------------------------------------------------------------------------------------------

const reveal = (secret: Redacted.Redacted<string> | string): string =>
  Redacted.isRedacted(secret) ? Redacted.value(secret) : secret;

const clientConfigOf = (options: DynamoDBLiveOptions): DynamoDBClientConfig => {
  const config: DynamoDBClientConfig = { ...options.clientConfig };
  if (options.region !== undefined) config.region = options.region;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  const credentials = options.credentials;
  if (credentials !== undefined) {
    config.credentials = {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: reveal(credentials.secretAccessKey),
      ...(credentials.sessionToken === undefined
        ? {}
        : { sessionToken: reveal(credentials.sessionToken) }),
    };
  }
  return config;
};

/**
 * Creates a `DynamoDBClient` and its document client for the lifetime of the scope; closing the
 * scope destroys the client (and its sockets).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: DynamoDBLiveOptions = {},
): Effect.Effect<DynamoDB, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new DynamoDBClient(clientConfigOf(options))),
    // The document client's own destroy() is a no-op: the raw client owns the sockets.
    (client) => Effect.sync(() => client.destroy()),
  ).pipe(
    Effect.map((client) => fromClient(DynamoDBDocumentClient.from(client, translateConfig))),
  );

/**
 * A layer that owns its client, built from the given options (the AWS SDK's default chains fill
 * in anything not given).
 *
 * @example Provide the live layer for AWS
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 *
 * const live = DynamoDBLive.layer({ region: "eu-west-1" });
 * ```
 *
 * @example Provide the live layer for DynamoDB Local or dynalite
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 *
 * const local = DynamoDBLive.layer({
 *   endpoint: "http://127.0.0.1:8000",
 *   region: "us-east-1",
 *   credentials: { accessKeyId: "local", secretAccessKey: "local" },
 * });
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: DynamoDBLiveOptions = {}): Layer.Layer<DynamoDB> =>
  Layer.scoped(DynamoDB, make(options));

/**
 * The options read from the environment through Effect's `Config`: `AWS_REGION` and
 * `AWS_ENDPOINT_URL_DYNAMODB`, both optional. Without `AWS_REGION` the SDK's own chain picks the
 * region, except when an endpoint is set: then the region defaults to `"us-east-1"`, which is what
 * emulators expect.
 *
 * @since 0.1.0
 * @category config
 */
export const envConfig: Config.Config<DynamoDBLiveOptions> = Config.all({
  region: Config.option(Config.nonEmptyString("AWS_REGION")),
  endpoint: Config.option(Config.nonEmptyString("AWS_ENDPOINT_URL_DYNAMODB")),
}).pipe(
  Config.map(({ endpoint, region }): DynamoDBLiveOptions => ({
    region: Option.isSome(region)
      ? region.value
      : Option.isSome(endpoint)
      ? "us-east-1"
      : undefined,
    endpoint: Option.getOrUndefined(endpoint),
  })),
);

/**
 * A layer whose options come from Effect's `Config` (the environment by default, or any
 * `ConfigProvider`): either one `Config` of the whole options or a record of a `Config` per
 * field, as `@effect/sql`'s `layerConfig` takes. Credentials come from the SDK's default chain
 * unless configured.
 *
 * @example Read the options from other variables
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Config } from "effect";
 *
 * const live = DynamoDBLive.layerFromConfig({
 *   region: Config.string("MY_REGION"),
 *   maxAttempts: Config.integer("MY_DDB_ATTEMPTS").pipe(Config.withDefault(3)),
 * });
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromConfig = (
  config: Config.Config.Wrap<DynamoDBLiveOptions>,
): Layer.Layer<DynamoDB, ConfigError.ConfigError> =>
  Layer.scoped(DynamoDB, Effect.flatMap(Config.unwrap(config), make));

/**
 * The live layer configured from the environment through Effect's `Config` (see
 * {@linkcode envConfig}): `AWS_REGION` and `AWS_ENDPOINT_URL_DYNAMODB`. Credentials come from
 * the SDK's default chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, roles).
 *
 * @example Read region and endpoint from the environment
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * // AWS_REGION=eu-west-1, or AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 for an emulator
 * const program = Effect.void.pipe(Effect.provide(DynamoDBLive.layerConfig));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<DynamoDB, ConfigError.ConfigError> = layerFromConfig(
  envConfig,
);

const isDocumentClient = (
  client: DynamoDBDocumentClient | DynamoDBClient,
): client is DynamoDBDocumentClient =>
  client instanceof DynamoDBDocumentClient ||
  // A second copy of lib-dynamodb has its own class: recognise it by name.
  client.constructor?.name === "DynamoDBDocumentClient";

/**
 * A layer over a client the caller owns: `acquire` provides it (and may register its own release
 * in the layer's scope). A raw `DynamoDBClient` is wrapped in a document client; neither is
 * destroyed by this layer.
 *
 * @example Use an existing client
 * ```ts
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const client = new DynamoDBClient({ region: "eu-west-1" });
 * const live = DynamoDBLive.layerFromClient({ acquire: Effect.succeed(client) });
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = <E, R>(options: {
  readonly acquire: Effect.Effect<DynamoDBDocumentClient | DynamoDBClient, E, R>;
}): Layer.Layer<DynamoDB, E, Exclude<R, Scope.Scope>> =>
  Layer.scoped(
    DynamoDB,
    Effect.map(
      options.acquire,
      (client) =>
        fromClient(
          isDocumentClient(client) ? client : DynamoDBDocumentClient.from(client, translateConfig),
        ),
    ),
  );

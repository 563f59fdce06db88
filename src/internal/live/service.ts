/**
 * The port implemented over a `DynamoDBDocumentClient`: one request per operation (two for
 * `describeTable`), each an interruptible effect with a deadline and a client span, its failure
 * classified by `classify.ts`.
 *
 * @module
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
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
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import type { DynamoDBError } from "../../Errors.ts";
import {
  compileCondition,
  compileKeyCondition,
  compileTrue,
  isNeverTrue,
  makeBuilder,
} from "../expression.ts";
import type {
  BatchWriteRequest,
  DynamoDB,
  Item,
  Key,
  TableDescription,
} from "../../services/DynamoDB.ts";
import { classify, classifyTransaction, classifyWrite, timedOut } from "./classify.ts";
import { conditionInput, keyType, projectionOf, updateInput, withExpressions } from "./requests.ts";
import { withSpan } from "../span.ts";

type TransactWriteItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

// Why the document client is configured this way: optional fields of our items may be
// `undefined` in JS; DynamoDB has no such value, so they are dropped instead of failing.
const translateConfig: TranslateConfig = {
  marshallOptions: { removeUndefinedValues: true },
};

/** Wraps a raw client in a document client; a document client is used as it is. */
export const documentClientOf = (
  client: DynamoDBDocumentClient | DynamoDBClient,
): DynamoDBDocumentClient =>
  client instanceof DynamoDBDocumentClient ||
    // A second copy of lib-dynamodb has its own class: recognise it by name.
    client.constructor?.name === "DynamoDBDocumentClient"
    ? client as DynamoDBDocumentClient
    : DynamoDBDocumentClient.from(client, translateConfig);

/** No deadline is set beyond this (`setTimeout`'s limit; Effect's own clock does the same). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1;

/** What a request past its deadline is rejected with. */
const DEADLINE: unique symbol = Symbol("DynamoMQ.deadline");

/**
 * Runs `send` with a signal that is aborted when `signal` is, or when `millis` have passed,
 * whichever comes first. At the deadline the request is aborted and the promise rejects with
 * `DEADLINE` at once, without waiting for the aborted request to settle. A timer of the host,
 * so the deadline is real time even when a test drives the program's Clock; cleared when the
 * request settles.
 */
const withDeadline = <A>(
  signal: AbortSignal,
  millis: number,
  send: (signal: AbortSignal) => Promise<A>,
): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      controller.abort();
      reject(DEADLINE);
    }, millis);
    const settled = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
    let sent: Promise<A>;
    try {
      sent = send(controller.signal);
    } catch (e) {
      settled();
      return reject(e);
    }
    sent.then((a) => {
      settled();
      resolve(a);
    }, (e) => {
      settled();
      reject(e);
    });
  });

/**
 * The port over `client`, which the caller owns (this never destroys it). A request that gets no
 * answer within `requestTimeout` is aborted and fails with a retryable `Transport` error.
 */
export const makeService = (
  client: DynamoDBDocumentClient,
  requestTimeout: Duration.Duration,
): DynamoDB => {
  const timeoutLabel = Duration.format(requestTimeout);
  const timeoutMillis = Duration.isFinite(requestTimeout) ? Duration.toMillis(requestTimeout) : NaN;
  const deadline = timeoutMillis <= MAX_TIMER_MILLIS;
  const request = <A, E>(
    operation: string,
    awsOperation: string,
    tables: ReadonlyArray<string>,
    send: (signal: AbortSignal) => Promise<A>,
    onError: (e: unknown) => E,
  ): Effect.Effect<A, E | DynamoDBError> => {
    // Interrupting the fiber aborts the signal, and with it the HTTP request. The deadline is
    // the host's timer on the same request, not an Effect race: a race forks two fibers and
    // sleeps on the Clock for every request.
    const sent: Effect.Effect<A, E | DynamoDBError> = deadline
      ? Effect.tryPromise({
        try: (signal) => withDeadline(signal, timeoutMillis, send),
        catch: (e) => e === DEADLINE ? timedOut(operation, timeoutLabel) : onError(e),
      })
      : Effect.tryPromise({ try: (signal) => send(signal), catch: onError });
    return sent.pipe(
      // Every request has one: the hot-path span (no stack capture).
      withSpan(`DynamoDB.${operation}`, {
        kind: "client",
        attributes: {
          "db.system.name": "aws.dynamodb",
          "db.operation.name": awsOperation,
          "aws.dynamodb.table_names": tables,
        },
      }),
    );
  };

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
                  ...(options?.itemOnConditionFailure === true
                    ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const }
                    : {}),
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
              // Only what the caller reads comes back: an ack reads nothing (~1 KB saved).
              ReturnValues: options?.returnOld === false ? "NONE" : "ALL_OLD",
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

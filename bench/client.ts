/**
 * The live `DynamoDB` port for the benchmarks, over an SDK client with a wide connection pool and,
 * optionally, an SDK middleware that asks every request for `ReturnConsumedCapacity: INDEXES` and
 * adds up what the server reports (the check on the units computed from item sizes).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Agent } from "node:http";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Effect, type Scope } from "effect";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import type { DynamoDB } from "../src/services/DynamoDB.ts";

/** Capacity units as reported by the server, split by table and index, read and write. */
export interface ReportedCapacity {
  tableWrite: number;
  indexWrite: number;
  tableRead: number;
  indexRead: number;
  /** Responses that carried a ConsumedCapacity. */
  responses: number;
}

export const emptyReported = (): ReportedCapacity => ({
  tableWrite: 0,
  indexWrite: 0,
  tableRead: 0,
  indexRead: 0,
  responses: 0,
});

interface Consumed {
  readonly CapacityUnits?: number;
  readonly Table?: { readonly CapacityUnits?: number };
  readonly GlobalSecondaryIndexes?: Record<string, { readonly CapacityUnits?: number }>;
}

const READS = new Set(["GetItemCommand", "QueryCommand", "BatchGetItemCommand", "ScanCommand"]);

/** Adds one response's ConsumedCapacity (an object, or a list for batch operations). */
const add = (into: ReportedCapacity, command: string, consumed: Consumed | Consumed[]) => {
  const read = READS.has(command);
  for (const c of Array.isArray(consumed) ? consumed : [consumed]) {
    into.responses += 1;
    let index = 0;
    for (const gsi of Object.values(c.GlobalSecondaryIndexes ?? {})) {
      index += gsi.CapacityUnits ?? 0;
    }
    const table = c.Table?.CapacityUnits ?? (c.CapacityUnits ?? 0) - index;
    if (read) {
      into.tableRead += table;
      into.indexRead += index;
    } else {
      into.tableWrite += table;
      into.indexWrite += index;
    }
  }
};

/** Options of the benchmark client. */
export interface ClientOptions {
  readonly endpoint: string;
  /** When given, every request asks for ConsumedCapacity and it is added up here. */
  readonly reported?: ReportedCapacity | undefined;
}

/** A live `DynamoDB` for the scope's lifetime (the client is destroyed when the scope closes). */
export const makeLive = (options: ClientOptions): Effect.Effect<DynamoDB, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = new DynamoDBClient({
        endpoint: options.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
        // The SDK's default pool (50 sockets) would queue requests at the higher concurrencies.
        requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 512 }) },
      });
      const reported = options.reported;
      if (reported !== undefined) {
        client.middlewareStack.add(
          (next, context) => async (args) => {
            (args.input as Record<string, unknown>).ReturnConsumedCapacity = "INDEXES";
            const result = await next(args);
            const consumed = (result.output as { ConsumedCapacity?: Consumed | Consumed[] })
              .ConsumedCapacity;
            if (consumed !== undefined) add(reported, context.commandName ?? "", consumed);
            return result;
          },
          { step: "initialize", name: "benchConsumedCapacity" },
        );
      }
      return client;
    }),
    (client) => Effect.sync(() => client.destroy()),
  ).pipe(
    Effect.map((client) =>
      DynamoDBLive.fromClient(
        // As the live layer configures it: undefined optional fields are dropped.
        DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
      )
    ),
  );

/**
 * Client CPU per message on a live server: the library (send ×32 in flight and a `Consumer` at
 * concurrency 32, no-op handler, a 1 KB payload decoded by a Schema, through
 * `DynamoDBLive.layer`) against a hand-written AWS SDK v3 loop making the same requests (per
 * message a conditional PutItem, a claim UpdateItem with ALL_NEW, a fenced UpdateItem to the ack's
 * tombstone; one index Query per 32 messages; the payload JSON-parsed), in interleaved rounds in
 * this one process.
 * Client CPU is this process's own counter (`process.cpuUsage()`), server CPU the server process's
 * (`/proc/<pid>/stat`, utime + stime).
 *
 * Run on its own: `deno run -A bench/clientCpu.ts [rounds] [messages] [library|"raw SDK"|""]
 * [endpoint pid]` (without an endpoint and the server's pid it starts DynamoDB Local itself).
 *
 * @module
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { Deferred, Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Schema } from "effect";
import process from "node:process";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import * as Consumer from "../src/services/Consumer.ts";
import * as Queue from "../src/services/Queue.ts";
import type { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Table from "../src/services/Table.ts";
import {
  ACK_TOMBSTONE_MILLIS,
  INDEX_NAME,
  indexSortKey,
  leaseToken,
  messageKey,
  sortableId,
} from "../src/internal/keys.ts";
import { type Server, start } from "./servers.ts";

const TABLE = "dynamomq-clientcpu";
const CONCURRENCY = 32;
const Payload = Schema.Struct({ id: Schema.Number, body: Schema.String });
const payload = (i: number) => ({ id: i, body: "x".repeat(1000) });

/** One round's figures, per message, microseconds. */
export interface CpuRound {
  readonly contender: "library" | "raw SDK";
  readonly clientMicros: number;
  readonly serverMicros: number;
}

const clientCpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** The server's CPU time in microseconds (its own counters). */
const serverCpu = (pid: number): number => {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 (1-based), in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};

let queueCounter = 0;

/** The library: `messages` sends (32 in flight) and a Consumer at concurrency 32. */
const libraryRound = (messages: number) =>
  Effect.gen(function* () {
    const queue = yield* Queue.make({
      table: TABLE,
      name: `lib-${Date.now().toString(36)}-${queueCounter++}`,
      schema: Payload,
    });
    let handled = 0;
    const done = yield* Deferred.make<void>();
    yield* Effect.scoped(Effect.gen(function* () {
      const consumer = yield* Consumer.run(queue, () =>
        Effect.sync(() => {
          if (++handled === messages) Deferred.unsafeDone(done, Exit.void);
        }), { concurrency: CONCURRENCY, poll: { min: "10 millis", max: "100 millis" } });
      yield* Effect.forEach(Array.from({ length: messages }), (_, i) => queue.send(payload(i)), {
        concurrency: CONCURRENCY,
        discard: true,
      });
      yield* Deferred.await(done);
      while ((yield* consumer.inFlight) > 0) yield* Effect.sleep("1 millis");
    }));
  });

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
/** A W3C `traceparent`, as the library stores with each message (tracing is on by default). */
const traceparent = () => `00-${hex(16)}-${hex(8)}-01`;

/**
 * The same requests by hand: put, claim and ack (the tombstone update) per message, a Query per
 * 32 messages.
 */
const rawRound = async (client: DynamoDBDocumentClient, messages: number) => {
  const queue = `raw-${Date.now().toString(36)}-${queueCounter++}`;
  const home = `${queue}#0`;
  let next = 0;
  const worker = async () => {
    while (next < messages) {
      const n = next++;
      const t0 = Date.now();
      const id = sortableId(t0 + n);
      const key = messageKey(queue, id);
      const gsk = indexSortKey(t0, id);
      await client.send(
        new PutCommand({
          TableName: TABLE,
          Item: {
            ...key,
            queue,
            id,
            state: "ready",
            home,
            gpk: home,
            gsk,
            visibleAt: t0,
            sentAt: t0,
            updatedAt: t0,
            receives: 0,
            attempts: [],
            priority: 0,
            enc: "json",
            payload: JSON.stringify(payload(n)),
            tok: leaseToken(),
            trace: traceparent(),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      if (n % CONCURRENCY === 0) {
        await client.send(
          new QueryCommand({
            TableName: TABLE,
            IndexName: INDEX_NAME,
            KeyConditionExpression: "gpk = :p AND gsk <= :t",
            ExpressionAttributeValues: { ":p": home, ":t": `${indexSortKey(Date.now(), "")}~` },
            Limit: CONCURRENCY,
          }),
        );
      }
      const lease = leaseToken();
      const t = Date.now();
      const claimed = await client.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression:
            "SET #s = :s, lease = :l, gsk = :g, visibleAt = :v, updatedAt = :u ADD receives :one",
          ConditionExpression: "gpk = :home AND gsk = :old AND receives = :zero",
          ExpressionAttributeNames: { "#s": "state" },
          ExpressionAttributeValues: {
            ":s": "inflight",
            ":l": lease,
            ":g": indexSortKey(t + 30_000, id),
            ":v": t + 30_000,
            ":u": t,
            ":one": 1,
            ":home": home,
            ":old": gsk,
            ":zero": 0,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      JSON.parse(claimed.Attributes!.payload as string);
      // The ack within five minutes of the send: the payload-less tombstone (issue #14).
      const acked = Date.now();
      await client.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression:
            "SET #s = :done, updatedAt = :u, #ttl = :ttl REMOVE gpk, gsk, payload, lease, attempts, #trace",
          ConditionExpression: "lease = :l AND #s = :s",
          ExpressionAttributeNames: { "#s": "state", "#ttl": "ttl", "#trace": "trace" },
          ExpressionAttributeValues: {
            ":l": lease,
            ":s": "inflight",
            ":done": "done",
            ":u": acked,
            ":ttl": Math.ceil((t0 + ACK_TOMBSTONE_MILLIS) / 1000),
          },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
};

const quiet = <A, E>(e: Effect.Effect<A, E>) =>
  Effect.runPromise(Logger.withMinimumLogLevel(e, LogLevel.Warning));

/** The library's rounds share one live layer (one client), as the raw rounds share one client. */
type Library = ManagedRuntime.ManagedRuntime<DynamoDB, never>;

const quietWith = <A, E>(library: Library, e: Effect.Effect<A, E, DynamoDB>) =>
  library.runPromise(Logger.withMinimumLogLevel(e, LogLevel.Warning));

/**
 * `rounds` interleaved rounds of each contender (library first), after one unmeasured round
 * of each; `messages` per round.
 */
export const clientCpuRounds = async (
  server: Pick<Server, "endpoint" | "pid">,
  rounds: number,
  messages: number,
  only?: CpuRound["contender"] | undefined,
): Promise<ReadonlyArray<CpuRound>> => {
  const raw = new DynamoDBClient({
    endpoint: server.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const doc = DynamoDBDocumentClient.from(raw);
  const library: Library = ManagedRuntime.make(Layer.orDie(DynamoDBLive.layer({
    endpoint: server.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  })));
  await quiet(
    Effect.provide(
      Table.create(TABLE),
      Layer.orDie(DynamoDBLive.layer({
        endpoint: server.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      })),
    ),
  );
  const results: Array<CpuRound> = [];
  const measure = async (contender: CpuRound["contender"], body: () => Promise<unknown>) => {
    const c0 = clientCpu();
    const s0 = serverCpu(server.pid);
    await body();
    results.push({
      contender,
      clientMicros: (clientCpu() - c0) / messages,
      serverMicros: (serverCpu(server.pid) - s0) / messages,
    });
  };
  try {
    // Warm-up: the JIT of both processes, the sockets.
    if (only !== "raw SDK") await quietWith(library, libraryRound(messages));
    if (only !== "library") await rawRound(doc, messages);
    for (let r = 0; r < rounds; r++) {
      if (only !== "raw SDK") {
        await measure("library", () => quietWith(library, libraryRound(messages)));
      }
      if (only !== "library") await measure("raw SDK", () => rawRound(doc, messages));
    }
  } finally {
    raw.destroy();
    await library.dispose();
  }
  return results;
};

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 3);
  const messages = Number(Deno.args[1] ?? 1000);
  const only = (Deno.args[2] || undefined) as CpuRound["contender"] | undefined;
  // A running server (its endpoint and pid), or one of its own.
  const [endpoint, pid] = Deno.args.slice(3);
  const server = endpoint !== undefined && pid !== undefined
    ? { endpoint, pid: Number(pid), stop: () => Promise.resolve() }
    : await start("dynamodb-local");
  try {
    const results = await clientCpuRounds(server, rounds, messages, only);
    for (const r of results) console.log(JSON.stringify(r));
  } finally {
    await server.stop();
  }
}

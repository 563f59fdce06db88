/**
 * Peak RSS of a consumer process over many messages (issue #16: "stays flat"): a `Consumer` at
 * concurrency 32 (no-op handler, a 1 KB payload decoded by a Schema) processing `messages`
 * messages that this process refills with `sendBatch` in steps of 1,000, so the backlog stays
 * between 1,000 and 2,000. RSS is sampled every 50 ms and the peak so far is recorded at 10 %,
 * 25 %, 50 %, 75 % and 100 % of the messages: flat means the later figures stay near the first.
 *
 * Against a server (`DynamoDBLive.layer`, e.g. DynamoDB Local) the process is the consumer
 * alone. On the memory layer the process is also the table, so its RSS includes what the table
 * stores: every message acked within five minutes of its send leaves a tombstone there (as on
 * DynamoDB, issue #14), which the layer's TTL removes only after `ttlDeletionDelay`.
 *
 * Run on its own, in a fresh process: `deno run -A bench/consumerRss.ts <endpoint|memory>
 * [messages]`; prints one JSON line.
 *
 * @module
 */
import { Deferred, Effect, Exit, Layer, Logger, LogLevel, Schema } from "effect";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import * as Consumer from "../src/services/Consumer.ts";
import type { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";

/** The peak RSS of the consumer process, so far, at each checkpoint. */
export interface RssFigure {
  /** `memory`, or the server the consumer ran against. */
  readonly backend: string;
  readonly messages: number;
  readonly seconds: number;
  readonly checkpoints: ReadonlyArray<{ readonly handled: number; readonly peakRssMB: number }>;
}

const TABLE = "dynamomq-rss";
const REFILL = 1000;
const Payload = Schema.Struct({ id: Schema.Number, body: Schema.String });
const payload = (i: number) => ({ id: i, body: "x".repeat(1000) });

/** Processes `messages` messages; records the peak RSS at each checkpoint. */
export const consumerRss = (
  backend: string,
  messages: number,
): Effect.Effect<RssFigure, unknown, DynamoDB> =>
  Effect.gen(function* () {
    yield* Table.create(TABLE);
    const queue = yield* Queue.make({
      table: TABLE,
      name: `rss-${Date.now().toString(36)}`,
      schema: Payload,
      compressAbove: false,
    });
    const fill = (n: number) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(n / 100) }, (_, i) => Math.min(100, n - i * 100)),
        (size) => queue.sendBatch(Array.from({ length: size }, (_, i) => ({ body: payload(i) }))),
        { discard: true },
      );
    const marks = [0.1, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * messages));
    const checkpoints: Array<{ handled: number; peakRssMB: number }> = [];
    let peak = 0;
    const sample = () => {
      peak = Math.max(peak, Deno.memoryUsage().rss);
    };
    let handled = 0;
    const done = yield* Deferred.make<void>();
    const started = Date.now();
    const timer = setInterval(sample, 50);
    yield* Effect.scoped(Effect.gen(function* () {
      yield* fill(Math.min(REFILL, messages));
      const consumer = yield* Consumer.run(queue, () =>
        Effect.sync(() => {
          handled++;
          if (handled === marks[checkpoints.length]) {
            sample();
            checkpoints.push({ handled, peakRssMB: peak / (1024 * 1024) });
          }
          if (handled === messages) Deferred.unsafeDone(done, Exit.void);
        }), { concurrency: 32, poll: { min: "1 millis", max: "20 millis" } });
      for (let sent = REFILL; sent < messages; sent += REFILL) {
        while (sent - handled > REFILL) yield* Effect.sleep("5 millis");
        yield* fill(Math.min(REFILL, messages - sent));
      }
      yield* Deferred.await(done);
      while ((yield* consumer.inFlight) > 0) yield* Effect.sleep("1 millis");
    })).pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))));
    return { backend, messages, seconds: (Date.now() - started) / 1000, checkpoints };
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning));

if (import.meta.main) {
  const target = Deno.args[0] ?? "memory";
  const messages = Number(Deno.args[1] ?? 20_000);
  const layer = target === "memory" ? layerMemory : Layer.orDie(DynamoDBLive.layer({
    endpoint: target,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  }));
  const figure = await Effect.runPromise(
    Effect.provide(consumerRss(target === "memory" ? "memory" : "DynamoDB Local", messages), layer),
  );
  console.log(JSON.stringify(figure));
}

/**
 * The zero-set-up demo: `deno task demo`.
 *
 * Starts dynalite inside this process (or uses `AWS_ENDPOINT_URL_DYNAMODB` when set), creates the
 * table, sends 2,000 messages while 16 handler fibers consume them, shows live progress on
 * stderr, and ends with a summary on stdout. Some messages fail on purpose: one in 20 fails on its
 * first delivery and then succeeds (retried with a short backoff), one in 200 always fails and is
 * dead-lettered after `maxReceives` (3) deliveries. Ctrl-C shuts down gracefully and prints a
 * partial summary.
 *
 * ```sh
 * deno task demo                                   # 2,000 messages, 16 handlers
 * deno task demo -- --messages 10000 --concurrency 32
 * ```
 *
 * Flags: `--messages N` (default 2000), `--concurrency N` handler fibers (default 16),
 * `--producers N` sends of 25 messages (one `BatchWriteItem` each) in flight (default 1),
 * `--table NAME` (default `dynamomq`).
 *
 * One producer by default: the emulator is single-threaded and serves requests in arrival order,
 * so every `BatchWriteItem` in flight is queued in front of the consumer's receives, claims and
 * acks. With 16 writes of 25 items in flight (the former default), a receive-and-ack round trip
 * took 8 times as long as on an idle emulator, and a consumer polling with 16 handlers moved
 * 16 messages per round trip: it crawled until the sends were done.
 */
import * as Clock from "effect/Clock";
import * as Data from "effect/Data";
import * as Deferred from "effect/Deferred";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Layer from "effect/Layer";
import * as Logger from "effect/Logger";
import * as LogLevel from "effect/LogLevel";
import * as Queue from "effect/Queue";
import * as Schema from "effect/Schema";
import * as DynamoDBMetered from "../src/layers/DynamoDBMetered.ts";
import * as Consumer from "../src/services/Consumer.ts";
import * as MQ from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { describeBackend, layerEmbedded } from "./_embedded.ts";
import { runMain } from "./_runMain.ts";
import { parseFlags, positiveInt } from "./_shared.ts";

const flags = parseFlags({
  messages: { type: "string", default: "2000" },
  concurrency: { type: "string", default: "16" },
  producers: { type: "string", default: "1" },
  table: { type: "string", default: "dynamomq" },
});
const total = positiveInt("messages", flags.messages);
const concurrency = positiveInt("concurrency", flags.concurrency);
const producers = positiveInt("producers", flags.producers);
const MAX_RECEIVES = 3;
/** Messages per `sendBatch`: one `BatchWriteItem` request. */
const BATCH = 25;

/** Which messages fail, by their number: fixed, so that every run shows the same outcome. */
const failsOnce = (n: number): boolean => n % 20 === 7;
const failsAlways = (n: number): boolean => n % 200 === 13;

const countWhere = (p: (n: number) => boolean): number => {
  let c = 0;
  for (let n = 0; n < total; n++) if (p(n)) c++;
  return c;
};

const Job = Schema.Struct({ n: Schema.Number });

class DemoFailure extends Data.TaggedError("DemoFailure")<{ readonly n: number }> {
  override get message(): string {
    return failsAlways(this.n)
      ? `job ${this.n} always fails (it will be dead-lettered)`
      : `job ${this.n} fails on its first delivery`;
  }
}

/** What the demo has seen, updated from the consumer's events. */
interface Tally {
  produced: number;
  succeeded: number;
  retried: number;
  deadLettered: number;
  released: number;
  leaseLost: number;
  pollFailed: number;
  startedAt: number;
  producedAt: number | undefined;
  finishedAt: number | undefined;
}

const encoder = new TextEncoder();
const isTTY = Deno.stderr.isTerminal();
const writeErr = (text: string) => Effect.sync(() => Deno.stderr.writeSync(encoder.encode(text)));

const rate = (count: number, millis: number): string =>
  millis <= 0 ? "n/a" : String(Math.round(count / (millis / 1000)));

const progressLine = (t: Tally, inFlight: number, now: number): string => {
  const elapsed = now - t.startedAt;
  const done = t.succeeded + t.deadLettered;
  return `produced ${t.produced}/${total} · processed ${done} (${rate(done, elapsed)} msg/s)` +
    ` · retried ${t.retried} · dead-lettered ${t.deadLettered} · in flight ${inFlight}` +
    ` · ${(elapsed / 1000).toFixed(1)} s`;
};

const pad = (label: string, value: string | number): string =>
  `  ${label.padEnd(28)}${String(value).padStart(10)}`;

const summary = (
  t: Tally,
  counts: DynamoDBMetered.Counts,
  now: number,
  interrupted: boolean,
): string => {
  const end = t.finishedAt ?? now;
  const elapsed = end - t.startedAt;
  const processed = t.succeeded + t.deadLettered;
  const perMessage = processed === 0 ? "n/a" : (counts.total / processed).toFixed(2);
  return [
    "",
    interrupted ? "DynamoMQ demo — interrupted: partial summary" : "DynamoMQ demo — summary",
    pad("produced", t.produced),
    pad("processed", processed),
    pad("  succeeded", t.succeeded),
    pad("  dead-lettered", t.deadLettered),
    pad("retried", t.retried),
    pad("released on shutdown", t.released),
    ...(t.leaseLost > 0 ? [pad("leases lost", t.leaseLost)] : []),
    ...(t.pollFailed > 0 ? [pad("failed polls", t.pollFailed)] : []),
    pad("elapsed (s)", (elapsed / 1000).toFixed(2)),
    pad("messages/s (end to end)", rate(processed, elapsed)),
    ...(t.producedAt === undefined
      ? []
      : [pad("sends/s", rate(t.produced, t.producedAt - t.startedAt))]),
    pad("DynamoDB requests", counts.total),
    pad("DynamoDB requests per message", perMessage),
    `  requests by operation: ${DynamoDBMetered.formatRequests(counts) || "none"}`,
    "",
  ].join("\n");
};

/** The first line, written before dynalite starts so that the demo shows a sign of life at once. */
const header = Effect.suspend(() =>
  writeErr(
    `DynamoMQ demo on ${describeBackend(true)}: ${total} messages ` +
      `(${countWhere(failsOnce)} fail once, ${countWhere(failsAlways)} always fail), ` +
      `${concurrency} handler fibers, ${producers} batch send(s) of ${BATCH} in flight\n`,
  )
);

const program = Effect.gen(function* () {
  yield* Table.create(flags.table);
  // A fresh queue per run, so that a shared table never mixes in an earlier run's messages.
  const queue = yield* MQ.make({
    table: flags.table,
    name: `demo-${crypto.randomUUID().slice(0, 8)}`,
    schema: Job,
    maxReceives: MAX_RECEIVES,
    visibilityTimeout: "30 seconds",
  });
  const meter = yield* DynamoDBMetered.DynamoDBMeter;
  // Count the queue's work only, not the table set-up.
  yield* meter.reset;

  const t: Tally = {
    produced: 0,
    succeeded: 0,
    retried: 0,
    deadLettered: 0,
    released: 0,
    leaseLost: 0,
    pollFailed: 0,
    startedAt: yield* Clock.currentTimeMillis,
    producedAt: undefined,
    finishedAt: undefined,
  };
  const allSettled = yield* Deferred.make<void>();

  // Registered before the consumer starts, so it runs after the consumer's graceful shutdown
  // (finalizers run in reverse order): the summary includes the messages released on the way out.
  yield* Effect.addFinalizer((exit) =>
    Effect.gen(function* () {
      const counts = yield* meter.snapshot;
      const now = yield* Clock.currentTimeMillis;
      const interrupted = Exit.isInterrupted(exit);
      if (isTTY) yield* writeErr("\n");
      yield* Effect.sync(() => console.log(summary(t, counts, now, interrupted)));
    })
  );

  const handler = (message: { readonly body: typeof Job.Type; readonly receives: number }) => {
    const n = message.body.n;
    return (failsAlways(n) || (failsOnce(n) && message.receives === 1)
      ? Effect.fail(new DemoFailure({ n }))
      : Effect.void).pipe(
        // Counted here, not from the event stream, which ends as the consumer stops: a handler
        // interrupted by the shutdown has its message released for another consumer.
        Effect.onInterrupt(() => Effect.sync(() => t.released++)),
      );
  };
  const consumer = yield* Consumer.run(queue, handler, {
    concurrency,
    // Short waits so that the demo ends quickly: retries come back within a fraction of a second.
    backoff: { base: "20 millis", max: "200 millis" },
    poll: { min: "10 millis", max: "250 millis" },
    shutdownTimeout: "5 seconds",
  });

  // Tally the events. `subscribe` starts listening now, before any message is sent.
  const events = yield* consumer.subscribe;
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.flatMap(Queue.takeBetween(events, 1, 4096), (chunk) =>
        Effect.gen(function* () {
          for (const event of chunk) {
            switch (event._tag) {
              case "Succeeded":
                t.succeeded++;
                break;
              case "Retried":
                t.retried++;
                break;
              case "DeadLettered":
                t.deadLettered++;
                break;
              case "LeaseLost":
                t.leaseLost++;
                break;
              case "PollFailed":
                t.pollFailed++;
                break;
            }
          }
          if (t.succeeded + t.deadLettered >= total && t.finishedAt === undefined) {
            t.finishedAt = yield* Clock.currentTimeMillis;
            yield* Deferred.succeed(allSettled, undefined);
          }
        })),
    ),
  );

  // Live progress: one line rewritten in place on a terminal, a line every 2 s otherwise (the
  // first one after 1 s).
  yield* Effect.forkScoped(
    Effect.gen(function* () {
      yield* Effect.sleep(isTTY ? "200 millis" : "1 second");
      while (true) {
        const line = progressLine(t, yield* consumer.inFlight, yield* Clock.currentTimeMillis);
        yield* writeErr(isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
        yield* Effect.sleep(isTTY ? "200 millis" : "2 seconds");
      }
    }),
  );

  // One BatchWriteItem (25 messages) per send; `producers` of them in flight (see the module comment).
  const batches = Array.from(
    { length: Math.ceil(total / BATCH) },
    (_, b) =>
      Array.from({ length: Math.min(BATCH, total - b * BATCH) }, (_, i) => ({
        body: { n: b * BATCH + i },
      })),
  );
  yield* Effect.forEach(
    batches,
    (batch) =>
      Effect.flatMap(
        queue.sendBatch(batch),
        (results) =>
          Effect.forEach(results, (result) =>
            Either.isRight(result)
              ? Effect.sync(() =>
                void t.produced++
              )
              : Effect.logError(`send failed: ${result.left.message}`)),
      ),
    { concurrency: producers, discard: true },
  );
  t.producedAt = yield* Clock.currentTimeMillis;
  yield* Deferred.await(allSettled);
}).pipe(Effect.scoped);

header.pipe(
  Effect.zipRight(
    program.pipe(Effect.provide(DynamoDBMetered.layer.pipe(Layer.provide(layerEmbedded)))),
  ),
  // The progress line and the summary tell the story; per-message warnings (each dead-lettered
  // message is logged by the consumer) would only break up the progress line.
  Logger.withMinimumLogLevel(LogLevel.Error),
  runMain,
);

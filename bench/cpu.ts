/**
 * Client CPU per message on the memory layer, from this process's own counters
 * (`process.cpuUsage()`: user + system CPU of the whole process, every thread):
 *
 * - `send`: produce-only, `send` with 32 in flight;
 * - `sendBatch`: produce-only, `sendBatch` of 100;
 * - `steady`: `send` ×32 in flight and a `Consumer` at concurrency 32 together, the producer held
 *   back so the backlog stays between 100 and 200 (the measured figure covers both sides),
 *   measured after `STEADY_WARM_UP` messages;
 * - `backlog`: a backlog of N messages (sent with `sendBatch`, not measured) consumed by a
 *   `Consumer` at concurrency 1.
 *
 * The peak RSS of a consumer over many messages is `consumerRss.ts`.
 *
 * Run on its own: `deno run -A bench/cpu.ts [scenario] [messages]`; prints one JSON line.
 * `deno task bench` runs it through `memoryCpu` (bench/main.ts).
 *
 * @module
 */
import { Deferred, Effect, Exit, Logger, LogLevel, Schema } from "effect";
import process from "node:process";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import * as Consumer from "../src/services/Consumer.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";

/** One memory-layer CPU figure. */
export interface CpuFigure {
  readonly scenario: string;
  readonly messages: number;
  /** Client CPU (user + system) per message, microseconds. */
  readonly cpuPerMessage: number;
  readonly peakRssMB: number;
}

const TABLE = "dynamomq-cpu";
/** Messages through the steady state before it is measured. */
export const STEADY_WARM_UP = 4000;
/** A 1 KB payload decoded by a Schema, as in the measurement. */
const Payload = Schema.Struct({ id: Schema.Number, body: Schema.String });
const payload = (i: number) => ({ id: i, body: "x".repeat(1000) });

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const makeQueue = (name: string) =>
  Effect.zipRight(
    Table.create(TABLE),
    Queue.make({ table: TABLE, name, schema: Payload, compressAbove: false }),
  );

const fill = (queue: Queue.Queue<typeof Payload.Type>, n: number) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(n / 100) }, (_, i) => Math.min(100, n - i * 100)),
    (size) => queue.sendBatch(Array.from({ length: size }, (_, i) => ({ body: payload(i) }))),
    { discard: true },
  );

const consumeAll = (
  queue: Queue.Queue<typeof Payload.Type>,
  n: number,
  concurrency: number,
  onHandled?: () => void,
) =>
  Effect.gen(function* () {
    let handled = 0;
    const done = yield* Deferred.make<void>();
    const consumer = yield* Consumer.run(queue, () =>
      Effect.sync(() => {
        handled++;
        onHandled?.();
        if (handled === n) Deferred.unsafeDone(done, Exit.void);
      }), { concurrency, poll: { min: "1 millis", max: "20 millis" } });
    return Effect.gen(function* () {
      yield* Deferred.await(done);
      while ((yield* consumer.inFlight) > 0) yield* Effect.sleep("1 millis");
    });
  });

let peak = 0;
const sampleRss = () => {
  const rss = Deno.memoryUsage().rss;
  if (rss > peak) peak = rss;
};

/** Runs one scenario on a fresh memory store; returns its CPU per message. */
export const runScenario = (scenario: string, n: number): Effect.Effect<CpuFigure, unknown> =>
  Effect.gen(function* () {
    const queue = yield* makeQueue(`cpu-${scenario}`);
    const timer = setInterval(sampleRss, 50);
    peak = 0;
    let cpu = 0;
    if (scenario === "send") {
      yield* Effect.forEach(Array.from({ length: 200 }), (_, i) => queue.send(payload(i)), {
        concurrency: 32,
        discard: true,
      });
      const c0 = cpuNow();
      yield* Effect.forEach(Array.from({ length: n }), (_, i) => queue.send(payload(i)), {
        concurrency: 32,
        discard: true,
      });
      cpu = cpuNow() - c0;
    } else if (scenario === "sendBatch") {
      yield* fill(queue, 200);
      const c0 = cpuNow();
      yield* fill(queue, n);
      cpu = cpuNow() - c0;
    } else if (scenario === "steady") {
      // Steady state: the JIT has settled. With 1,000 messages of warm-up the figure still
      // carries compilation (its threads count in the process's CPU): 20-30 % more.
      const warm = STEADY_WARM_UP;
      yield* fill(queue, 150);
      let handled = 0;
      let sent = 150;
      let c0 = 0;
      cpu = yield* Effect.scoped(Effect.gen(function* () {
        const finish = yield* consumeAll(queue, warm + n + 150, 32, () => {
          handled++;
          if (handled === warm) c0 = cpuNow();
        });
        // Producer: 32 in flight, held back while the backlog is over 200.
        yield* Effect.forEach(Array.from({ length: warm + n }), (_, i) =>
          Effect.gen(function* () {
            while (sent - handled > 200) yield* Effect.sleep("1 millis");
            sent++;
            yield* queue.send(payload(i));
          }), { concurrency: 32, discard: true });
        yield* finish;
        return cpuNow() - c0;
      }));
      // The last 150 handled are the initial backlog's worth, counted in `n + 150`.
      n = n + 150;
    } else if (scenario === "backlog") {
      yield* fill(queue, n);
      const c0 = cpuNow();
      yield* Effect.scoped(Effect.flatten(consumeAll(queue, n, 1)));
      cpu = cpuNow() - c0;
    } else {
      throw new Error(`unknown scenario ${scenario}`);
    }
    clearInterval(timer);
    sampleRss();
    return {
      scenario,
      messages: n,
      cpuPerMessage: cpu / n,
      peakRssMB: peak / (1024 * 1024),
    };
  }).pipe(Effect.provide(layerMemory), Logger.withMinimumLogLevel(LogLevel.Warning));

if (import.meta.main) {
  const scenario = Deno.args[0] ?? "steady";
  const n = Number(Deno.args[1] ?? 5000);
  const figure = await Effect.runPromise(runScenario(scenario, n));
  console.log(JSON.stringify(figure));
}

/**
 * Effect run-loop steps per message on the memory layer, counted by an op-supervising
 * `Supervisor` and grouped by the span each step ran under. Unlike CPU time, a step count does not
 * depend on the machine's load, so it shows what a change to the hot path saves even on a busy
 * machine (issue #16): `send` ×32 in flight, then a `Consumer` at concurrency 32 draining twice as
 * many messages, each counted after a warm-up. Outside any span are, for the sends, mostly this
 * benchmark's own `forEach`; for the consumer, its poller, intake and a receive's claim fan-out.
 *
 * Run on its own: `deno run -A bench/steps.ts [messages]`; prints one JSON line.
 *
 * @module
 */
import {
  Deferred,
  Effect,
  Exit,
  type Fiber,
  Logger,
  LogLevel,
  RuntimeFlags,
  RuntimeFlagsPatch,
  Schema,
  Supervisor,
} from "effect";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import * as Consumer from "../src/services/Consumer.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";

/** Steps and fibers per message, and the steps per message under each span. */
export interface StepCount {
  readonly steps: number;
  readonly fibers: number;
  readonly bySpan: Readonly<Record<string, number>>;
}

const Payload = Schema.Struct({ id: Schema.Number, body: Schema.String });
const payload = (i: number) => ({ id: i, body: "x".repeat(1000) });

/** Counts every step and every fiber started, by the innermost span of the stepping fiber. */
class StepCounter extends Supervisor.AbstractSupervisor<void> {
  readonly value: Effect.Effect<void> = Effect.void;
  steps = 0;
  fibers = 0;
  bySpan = new Map<string, number>();
  override onStart(): void {
    this.fibers++;
  }
  override onEffect<A, E>(fiber: Fiber.RuntimeFiber<A, E>): void {
    this.steps++;
    const span = fiber.currentSpan;
    const name = span?._tag === "Span" ? span.name : "(outside any span)";
    this.bySpan.set(name, (this.bySpan.get(name) ?? 0) + 1);
  }
  reset(): void {
    this.steps = 0;
    this.fibers = 0;
    this.bySpan.clear();
  }
  per(messages: number): StepCount {
    return {
      steps: this.steps / messages,
      fibers: this.fibers / messages,
      bySpan: Object.fromEntries(
        [...this.bySpan].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / messages]),
      ),
    };
  }
}

/** Counts the steps of `messages` sends, then of consuming `2 × messages`. */
export const countSteps = (
  messages: number,
): Promise<{ readonly send: StepCount; readonly consume: StepCount }> => {
  const counter = new StepCounter();
  const program = Effect.gen(function* () {
    yield* Table.create("dynamomq-steps");
    const queue = yield* Queue.make({
      table: "dynamomq-steps",
      name: "steps",
      schema: Payload,
      compressAbove: false,
    });
    const sendAll = Effect.forEach(
      Array.from({ length: messages }),
      (_, i) => queue.send(payload(i)),
      { concurrency: 32, discard: true },
    );
    yield* sendAll; // warm-up, and half of what is consumed
    counter.reset();
    yield* sendAll;
    const send = counter.per(messages);
    let handled = 0;
    const done = yield* Deferred.make<void>();
    counter.reset();
    yield* Effect.scoped(Effect.gen(function* () {
      const consumer = yield* Consumer.run(queue, () =>
        Effect.sync(() => {
          if (++handled === 2 * messages) Deferred.unsafeDone(done, Exit.void);
        }), { concurrency: 32, poll: { min: "1 millis", max: "20 millis" } });
      yield* Deferred.await(done);
      while ((yield* consumer.inFlight) > 0) yield* Effect.sleep("1 millis");
    }));
    return { send, consume: counter.per(2 * messages) };
  }).pipe(
    Effect.provide(layerMemory),
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.supervised(counter),
    Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
  );
  return Effect.runPromise(program);
};

if (import.meta.main) {
  console.log(JSON.stringify(await countSteps(Number(Deno.args[0] ?? 2000))));
}

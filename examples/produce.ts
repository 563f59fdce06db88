/**
 * Sends orders to a queue.
 *
 * ```sh
 * deno task produce -- --count 100 --queue orders --table dynamomq
 * ```
 *
 * Runs against `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local, dynalite) or AWS (`AWS_REGION` and the
 * SDK's credential chain). Creates the table if it does not exist.
 *
 * Flags: `--count N` (default 100), `--queue NAME` (default `orders`), `--table NAME` (default
 * `dynamomq`), `--concurrency N` batches of 100 in flight (default 4), `--delay DURATION` (e.g.
 * `"10 seconds"`) to deliver later.
 */
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { duration, Order, parseFlags, positiveInt } from "./_shared.ts";
import { describeBackend, layerConfigured } from "./_embedded.ts";
import { runMain } from "@effect/platform-node/NodeRuntime";

const flags = parseFlags({
  count: { type: "string", default: "100" },
  queue: { type: "string", default: "orders" },
  table: { type: "string", default: "dynamomq" },
  concurrency: { type: "string", default: "4" },
  delay: { type: "string" },
});

const count = positiveInt("count", flags.count);
const concurrency = positiveInt("concurrency", flags.concurrency);

const program = Effect.gen(function* () {
  yield* Effect.log(
    `producing ${count} orders to ${flags.table}/${flags.queue} on ${describeBackend(false)}`,
  );
  const table = yield* Table.create(flags.table);
  if (table.created) yield* Effect.log(`created table ${flags.table}`);
  const queue = yield* Queue.make({ table: flags.table, name: flags.queue, schema: Order });
  const started = performance.now();
  const runId = crypto.randomUUID().slice(0, 8);
  const options = flags.delay === undefined ? undefined : { delay: duration(flags.delay) };
  // sendBatch writes 25 messages per BatchWriteItem request; `concurrency` batches of 100 at once.
  const batches = Array.from(
    { length: Math.ceil(count / 100) },
    (_, b) =>
      Array.from({ length: Math.min(100, count - b * 100) }, (_, j) => {
        const i = b * 100 + j;
        return {
          body: { id: `${runId}-${i}`, customer: `customer-${i % 97}`, total: (i % 500) + 0.99 },
          options,
        };
      }),
  );
  let failed = 0;
  yield* Effect.forEach(
    batches,
    (batch) =>
      Effect.flatMap(
        queue.sendBatch(batch),
        (results) =>
          Effect.forEach(results, (r) =>
            Either.isLeft(r)
              ? Effect.zipRight(
                Effect.sync(() => failed++),
                Effect.logError(`send failed: ${r.left.message}`),
              )
              : Effect.void),
      ),
    { concurrency, discard: true },
  );
  if (failed > 0) return yield* Effect.fail(`${failed} of ${count} sends failed`);
  const seconds = (performance.now() - started) / 1000;
  yield* Effect.log(
    `sent ${count} orders in ${seconds.toFixed(2)} s (${(count / seconds).toFixed(0)} msg/s)`,
  );
});

program.pipe(Effect.provide(layerConfigured), runMain);

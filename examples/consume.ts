/**
 * Consumes a queue until SIGINT or SIGTERM, then shuts down gracefully: it stops claiming, lets
 * running handlers finish (up to `--shutdown-timeout`), releases whatever is still held so other
 * consumers can take it at once, and logs what it did.
 *
 * ```sh
 * deno task consume -- --queue orders --table dynamomq --concurrency 8
 * ```
 *
 * Runs against `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local, dynalite) or AWS (`AWS_REGION` and the
 * SDK's credential chain). Creates the table if it does not exist.
 *
 * Flags: `--queue NAME` (default `orders`), `--table NAME` (default `dynamomq`), `--concurrency N`
 * (default 8), `--work DURATION` simulated handling time per message (default `0 millis`),
 * `--visibility-timeout DURATION` (default `30 seconds`), `--shutdown-timeout DURATION` (default
 * `10 seconds`), `--verbose` to log one line per handled message. Payloads are never logged.
 *
 * Graceful shutdown comes from `NodeRuntime.runMain` (`@effect/platform-node`), which works as is
 * under Deno: SIGINT or SIGTERM interrupts the main fiber, the consumer's scope closes (its
 * graceful shutdown), and the process exits 0; a second signal exits at once.
 */
import * as Effect from "effect/Effect";
import * as Queue from "effect/Queue";
import * as Consumer from "../src/services/Consumer.ts";
import * as MQ from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { describeBackend, layerConfigured } from "./_embedded.ts";
import { runMain } from "@effect/platform-node/NodeRuntime";
import { duration, Order, parseFlags, positiveInt } from "./_shared.ts";

const flags = parseFlags({
  queue: { type: "string", default: "orders" },
  table: { type: "string", default: "dynamomq" },
  concurrency: { type: "string", default: "8" },
  work: { type: "string", default: "0 millis" },
  "visibility-timeout": { type: "string", default: "30 seconds" },
  "shutdown-timeout": { type: "string", default: "10 seconds" },
  verbose: { type: "boolean", default: false },
});
const concurrency = positiveInt("concurrency", flags.concurrency);

const program = Effect.gen(function* () {
  yield* Table.create(flags.table);
  const queue = yield* MQ.make({
    table: flags.table,
    name: flags.queue,
    schema: Order,
  });
  const work = duration(flags.work);
  // Counted in the handler rather than from the event stream, so the final tally is exact.
  const counts = { handled: 0, released: 0 };
  const consumer = yield* Consumer.run(
    queue,
    (message) =>
      Effect.sleep(work).pipe(
        Effect.zipRight(Effect.sync(() => counts.handled++)),
        Effect.zipRight(
          flags.verbose
            ? Effect.log(`handled ${message.id} (receive ${message.receives})`)
            : Effect.void,
        ),
        // Interrupted by the shutdown deadline: the consumer releases the message.
        Effect.onInterrupt(() => Effect.sync(() => counts.released++)),
      ),
    {
      concurrency,
      // This consumer's own lease length; the queue keeps its stored default for other readers.
      visibilityTimeout: duration(flags["visibility-timeout"]),
      shutdownTimeout: duration(flags["shutdown-timeout"]),
    },
  );

  // The consumer logs dead-letters, lost leases and failed polls itself; retries it only
  // reports as events. (This handler does not fail, but decoding or the table may.)
  const events = yield* consumer.subscribe;
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.flatMap(Queue.take(events), (event) =>
        event._tag === "Retried"
          ? Effect.logWarning(
            `retrying ${event.messageId} (receive ${event.receives}): ${event.error.tag}`,
          )
          : Effect.void),
    ),
  );

  yield* Effect.log(
    `consuming ${flags.table}/${flags.queue} on ${describeBackend(false)} with ${concurrency} ` +
      `handler fibers; Ctrl-C or SIGTERM stops gracefully`,
  );
  yield* Effect.onInterrupt(Effect.never, () =>
    Effect.gen(function* () {
      yield* Effect.log("stopping: no new messages; waiting for running handlers");
      const inFlight = yield* consumer.inFlight;
      yield* consumer.stop;
      yield* Effect.log(
        `stopped: handled ${counts.handled} message(s); ${inFlight} were in flight at the signal, ` +
          `${counts.released} released unfinished for other consumers`,
      );
    }));
}).pipe(Effect.scoped);

program.pipe(Effect.provide(layerConfigured), runMain);

/**
 * A consumer process for `tests/processes.test.ts`. It consumes one queue until SIGINT / SIGTERM
 * (graceful shutdown through `examples/_runMain.ts`) or SIGKILL, and appends one JSON line per
 * handler event to `--out`:
 *
 * - `{"e":"ready"}` once the consumer runs;
 * - `{"e":"start"|"end"|"interrupted","id":…,"r":receives}` around each handler call (`end` is
 *   written when the handler succeeds, before the ack; `interrupted` when the shutdown interrupts
 *   it); `start` also carries `"v"`, the message's `visibleAt` as claimed (when its lease ran
 *   out, unless extended);
 * - `{"e":"acked","pk":…}` when an ack (the conditional delete of the message item, key `pk`, or
 *   its update to a tombstone) has succeeded — observed on the `DynamoDB` service itself, so no
 *   event can be missed;
 * - `{"e":"stopped"}` when the consumer has shut down.
 *
 * Every line carries `pid` and `t` (epoch ms). The endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB`.
 *
 * Flags: `--table`, `--queue`, `--out`, `--concurrency N`, `--visibility-ms N`, `--handler-ms N`,
 * `--shutdown-ms N`, `--hang-after N` (the handler calls after the first N never end: a test can
 * then kill the worker mid-handler without racing the handler's end).
 */
import { parseArgs } from "node:util";
import { Effect, Layer, Queue, Schema } from "effect";
import { runMain } from "../examples/_runMain.ts";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import * as Consumer from "../src/services/Consumer.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as MQ from "../src/services/Queue.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    table: { type: "string" },
    queue: { type: "string" },
    out: { type: "string" },
    concurrency: { type: "string", default: "8" },
    "visibility-ms": { type: "string", default: "2000" },
    "handler-ms": { type: "string", default: "5" },
    "shutdown-ms": { type: "string", default: "5000" },
    "hang-after": { type: "string" },
  },
});
if (flags.table === undefined || flags.queue === undefined || flags.out === undefined) {
  console.error("usage: _worker.ts --table T --queue Q --out FILE [options]");
  Deno.exit(2);
}
const endpoint = Deno.env.get("AWS_ENDPOINT_URL_DYNAMODB");
if (endpoint === undefined) {
  console.error("AWS_ENDPOINT_URL_DYNAMODB is not set");
  Deno.exit(2);
}

const out = Deno.openSync(flags.out, { append: true, create: true });
const encoder = new TextEncoder();
const record = (fields: Record<string, unknown>): Effect.Effect<void> =>
  Effect.sync(() => {
    // One write per line, so a SIGKILL leaves at most a torn last line.
    out.writeSync(
      encoder.encode(JSON.stringify({ ...fields, pid: Deno.pid, t: Date.now() }) + "\n"),
    );
  });

const program = Effect.gen(function* () {
  const visibility = `${Number(flags["visibility-ms"])} millis` as const;
  const hangAfter = flags["hang-after"] === undefined ? Infinity : Number(flags["hang-after"]);
  let calls = 0;
  const queue = yield* MQ.make({
    table: flags.table!,
    name: flags.queue!,
    schema: Schema.Struct({ n: Schema.Number }),
    // The queue's stored definition is adopted (the test made the queue); this worker's
    // visibility is its consumer's own, below.
  });
  const consumer = yield* Consumer.run(
    queue,
    (message) =>
      Effect.gen(function* () {
        yield* record({ e: "start", id: message.id, r: message.receives, v: message.visibleAt });
        if (++calls > hangAfter) yield* Effect.never;
        yield* Effect.sleep(`${Number(flags["handler-ms"])} millis`);
        yield* record({ e: "end", id: message.id, r: message.receives });
      }).pipe(
        Effect.onInterrupt(() => record({ e: "interrupted", id: message.id, r: message.receives })),
      ),
    {
      concurrency: Number(flags.concurrency),
      visibilityTimeout: visibility,
      shutdownTimeout: `${Number(flags["shutdown-ms"])} millis`,
      poll: { min: "20 millis", max: "200 millis" },
    },
  );
  const events = yield* consumer.subscribe;
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.flatMap(
        Queue.take(events),
        (event) =>
          event._tag === "LeaseLost"
            ? record({ e: "leaseLost", id: event.messageId, op: event.operation })
            : Effect.void,
      ),
    ),
  );
  yield* record({ e: "ready" });
  yield* Effect.onInterrupt(
    Effect.never,
    () => Effect.zipRight(consumer.stop, record({ e: "stopped" })),
  );
}).pipe(Effect.scoped);

/**
 * Records every ack: a successful delete (the queue deletes a message item only to ack it) or an
 * update to a tombstone (`state = done`), which an ack within five minutes of the send writes.
 */
const RecordAcks = Layer.effect(
  DynamoDB,
  Effect.map(DynamoDB, (db): DynamoDB => ({
    ...db,
    delete: (table, key, options) =>
      Effect.tap(db.delete(table, key, options), () => record({ e: "acked", pk: key.pk })),
    update: (table, key, update, options) =>
      Effect.tap(
        db.update(table, key, update, options),
        (item) => item.state === "done" ? record({ e: "acked", pk: key.pk }) : Effect.void,
      ),
  })),
);

program.pipe(
  Effect.provide(RecordAcks.pipe(Layer.provide(DynamoDBLive.layer({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  })))),
  runMain,
);

/**
 * The example programs, run as the user runs them: as subprocesses.
 *
 * - `examples/http.ts`: POST an order, see it consumed, the read-only dashboard mounted in it,
 *   SIGTERM, exit 0.
 * - `examples/demo.ts --messages 300`: exits 0 with a summary whose numbers add up.
 * - `examples/produce.ts` then `examples/consume.ts`: all handled, then Ctrl-C stops it cleanly.
 *
 * The HTTP app and produce/consume use the shared dynalite of `deno task test`
 * (`DYNAMOMQ_DYNALITE_ENDPOINT`) when set; the demo always runs as on a fresh machine, on its own
 * embedded dynalite with no endpoint configured.
 *
 * Every wait is a hang guard scaled by `DYNAMOMQ_TIME_SCALE` (`tests/_timing.ts`): a busy machine
 * makes them slower, never fails them.
 */
import assert from "node:assert/strict";
import { Effect, Schema } from "effect";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import { startDynalite } from "./_emulators.ts";
import { hangGuard, waitUntil } from "./_timing.ts";

const dynalite = Deno.env.get("DYNAMOMQ_DYNALITE_ENDPOINT") || undefined;
/** The longest a wait may take on an idle machine; `hangGuard` scales it. */
const WAIT_MS = 30_000;

/** Polls `check` every 50 ms until it returns true; fails (hang guard) after `WAIT_MS`. */
const waitFor = (what: string, check: () => boolean | Promise<boolean>) =>
  waitUntil(what, check, { ms: WAIT_MS, intervalMs: 50 });

/** A subprocess whose stdout and stderr are collected as they come. */
interface Proc {
  readonly child: Deno.ChildProcess;
  readonly output: () => string;
  readonly done: Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }>;
}

const spawn = (args: ReadonlyArray<string>, env: Record<string, string>): Proc => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const collect = (stream: ReadableStream<Uint8Array>, onText: (s: string) => void) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream({ write: onText }));
  const streams = Promise.all([
    collect(child.stdout, (s) => void (stdout += s)),
    collect(child.stderr, (s) => void (stderr += s)),
  ]);
  return {
    child,
    output: () => stdout + stderr,
    done: Promise.all([child.status, streams]).then(([status]) => ({ status, stdout, stderr })),
  };
};

/**
 * Waits for the process to exit, killing it after `ms` on an idle machine (scaled by
 * `hangGuard`): a hang then shows as a failed exit status.
 */
const finish = async (proc: Proc, ms = WAIT_MS) => {
  const timer = setTimeout(() => {
    try {
      proc.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, hangGuard(ms));
  try {
    return await proc.done;
  } finally {
    clearTimeout(timer);
  }
};

const endpointEnv = (): Record<string, string> =>
  dynalite === undefined ? {} : { AWS_ENDPOINT_URL_DYNAMODB: dynalite };

/** Deletes a table on the shared dynalite (nothing to do with an embedded one). */
const dropTable = async (table: string) => {
  if (dynalite === undefined) return;
  await Effect.runPromise(
    Effect.flatMap(DynamoDB, (db) => db.deleteTable(table)).pipe(
      Effect.ignore,
      Effect.provide(DynamoDBLive.layer({
        endpoint: dynalite,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      })),
    ),
  );
};

Deno.test("examples/http.ts enqueues a POSTed order, consumes it, and stops on SIGTERM", async () => {
  const table = `http-${crypto.randomUUID()}`;
  const app = spawn([new URL("../examples/http.ts", import.meta.url).pathname], {
    ...endpointEnv(),
    PORT: "0",
    TABLE: table,
    QUEUE: "orders",
  });
  try {
    let base = "";
    await waitFor("the server to listen", () => {
      const m = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(app.output());
      if (m !== null) base = m[1]!;
      return m !== null;
    });

    const post = async (body: string) => {
      const response = await fetch(`${base}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      return { status: response.status, json: await response.json() };
    };
    const accepted = await post(JSON.stringify({ id: "A-1", customer: "ada", total: 42 }));
    assert.equal(accepted.status, 202);
    const messageId: string = accepted.json.messageId;
    assert.match(messageId, /^[0-9A-Z]+$/);

    const invalid = await post(JSON.stringify({ id: "A-2", total: "lots" }));
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.error, "not an order");
    const notJson = await post("{ nope");
    assert.equal(notJson.status, 400);

    await waitFor("the order to be consumed", async () => {
      const response = await fetch(`${base}/stats`);
      const stats = await response.json();
      return stats.ready + stats.delayed + stats.inflight === 0 &&
        app.output().includes(`order message ${messageId} processed`);
    });
    const stats = await (await fetch(`${base}/stats`)).json();
    assert.deepEqual(
      { ready: stats.ready, delayed: stats.delayed, inflight: stats.inflight, dead: stats.dead },
      { ready: 0, delayed: 0, inflight: 0, dead: 0 },
    );

    // The dashboard mounted read-only under /admin/queues/: it sees the queue, changes nothing.
    const page = await fetch(`${base}/admin/queues/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /DynamoMQ dashboard/);
    const queues = await (await fetch(`${base}/admin/queues/api/queues`)).json();
    assert.deepEqual(queues.queues.map((q: { name: string }) => q.name), ["orders"]);
    const redrive = await fetch(`${base}/admin/queues/api/queues/orders/redrive`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ all: true }),
    });
    assert.equal(redrive.status, 403);
    assert.equal((await redrive.json()).error, "ReadOnly");

    app.child.kill("SIGTERM");
    const { status } = await finish(app);
    assert.equal(status.code, 0, app.output());
    assert.ok(app.output().includes("consumer stopped"), app.output());
  } finally {
    try {
      app.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await app.done;
    await dropTable(table);
  }
});

/** Reads `label   value` from the demo's summary. */
const summaryValue = (summary: string, label: string): number => {
  const m = new RegExp(`^\\s*${label}\\s+([0-9.]+)\\s*$`, "m").exec(summary);
  assert.ok(m !== null, `no "${label}" in the summary:\n${summary}`);
  return Number(m[1]);
};

Deno.test("examples/demo.ts --messages 300 exits 0 with a summary that adds up", async () => {
  const table = `demo-${crypto.randomUUID()}`;
  const demo = spawn(
    [
      new URL("../examples/demo.ts", import.meta.url).pathname,
      "--messages",
      "300",
      "--table",
      table,
    ],
    // Zero set-up, as `deno task demo` on a clean clone: no endpoint, the embedded dynalite.
    { AWS_ENDPOINT_URL_DYNAMODB: "" },
  );
  try {
    const { status, stdout, stderr } = await finish(demo, 60_000);
    assert.equal(status.code, 0, stdout + stderr);
    // The first line comes before dynalite starts, so that the demo shows a sign of life at once.
    assert.match(stderr.split("\n")[0]!, /^DynamoMQ demo on embedded dynalite .*: 300 messages/);
    assert.match(stdout, /DynamoMQ demo — summary/);
    const n = 300;
    // The demo's rule: n % 20 === 7 fails once, n % 200 === 13 always fails (maxReceives 3).
    const failsOnce = Array.from({ length: n }, (_, i) => i).filter((i) => i % 20 === 7).length;
    const failsAlways = Array.from({ length: n }, (_, i) => i).filter((i) => i % 200 === 13)
      .length;
    const produced = summaryValue(stdout, "produced");
    const processed = summaryValue(stdout, "processed");
    const succeeded = summaryValue(stdout, "succeeded");
    const dead = summaryValue(stdout, "dead-lettered");
    assert.equal(produced, n);
    assert.equal(processed, n);
    assert.equal(succeeded + dead, processed);
    assert.equal(dead, failsAlways);
    // Each fail-once message is retried once; each always-failing one twice, then dead-lettered
    // by its third failure.
    assert.equal(summaryValue(stdout, "retried"), failsOnce + 2 * failsAlways);
    assert.equal(summaryValue(stdout, "released on shutdown"), 0);
    const requests = summaryValue(stdout, "DynamoDB requests");
    const perMessage = summaryValue(stdout, "DynamoDB requests per message");
    assert.equal(perMessage, Number((requests / processed).toFixed(2)));
    // At least a claim and an ack (or dead-letter) per message, plus a claim per retry.
    const retried = summaryValue(stdout, "retried");
    assert.ok(requests >= 2 * n + retried, `only ${requests} requests for ${n} messages`);
    assert.ok(summaryValue(stdout, "messages/s \\(end to end\\)") > 0);
  } finally {
    try {
      demo.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await demo.done;
  }
});

Deno.test("examples/produce.ts then consume.ts: every order is handled, and Ctrl-C stops cleanly", async () => {
  // produce and consume talk to an endpoint; without the shared dynalite, start one here.
  const own = dynalite === undefined ? await startDynalite() : undefined;
  const endpoint = dynalite ?? own!.endpoint;
  const table = `examples-pc-${crypto.randomUUID().slice(0, 8)}`;
  const env = { AWS_ENDPOINT_URL_DYNAMODB: endpoint };
  try {
    const produced = await finish(
      spawn(["examples/produce.ts", "--count", "25", "--table", table, "--queue", "pc"], env),
    );
    assert.equal(produced.status.code, 0, produced.stderr);
    const consumer = spawn([
      "examples/consume.ts",
      "--table",
      table,
      "--queue",
      "pc",
      "--concurrency",
      "4",
      "--work",
      "20 millis",
    ], env);
    const drained = Effect.gen(function* () {
      const q = yield* Queue.make({ table, name: "pc", schema: Schema.Unknown });
      const stats = yield* q.stats;
      return stats.ready + stats.delayed + stats.inflight === 0;
    }).pipe(Effect.provide(DynamoDBLive.layer({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    })));
    await waitFor("the consumer to drain the queue", () => Effect.runPromise(drained));
    consumer.child.kill("SIGINT");
    const stopped = await finish(consumer);
    assert.equal(stopped.status.code, 0, stopped.stderr);
    assert.match(stopped.stdout + stopped.stderr, /stopped: handled 25 message\(s\)/);
  } finally {
    await dropTable(table);
    await own?.close();
  }
});

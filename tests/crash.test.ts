/**
 * Crash test on DynamoDB Local: consumer processes (`tests/_worker.ts`) are SIGKILLed and
 * restarted at random (seeded) while they work through a queue. Nothing may be lost: every
 * message ends up acked (deleted after a handler ran it to the end) or dead-lettered, none is
 * left ready or in flight, none is acked twice, and the workers still alive at the end shut down
 * cleanly. Prints one `CRASH {...}` line with the figures.
 *
 * Size: `DYNAMOMQ_CRASH_MESSAGES` (default 1,000), chaos phase `DYNAMOMQ_CRASH_CHAOS_MS`
 * (default 8,000), seed `DYNAMOMQ_CRASH_SEED` (default 1). Needs `DYNAMOMQ_DDBLOCAL_ENDPOINT`
 * (set by `deno task test`); without it the test is ignored with a warning, or fails under
 * `CI=true`.
 *
 * The machine's speed decides only how much work the chaos phase covers (at least `MIN_KILLS`
 * kills, however slow), never the verdict: the drain is waited for as long as the workers make
 * progress (`tests/_timing.ts`).
 */
import assert from "node:assert/strict";
import { Effect, Either, ManagedRuntime, Option, Schema } from "effect";
import { messageKey } from "../src/internal/keys.ts";
import { seededRandom } from "../src/internal/seededRandom.ts";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { selectedBackends } from "./_emulators.ts";
import { sleep, TIME_SCALE, waitUntil } from "./_timing.ts";
import { startWorker, type Worker } from "./_workers.ts";

const MESSAGES = Number(Deno.env.get("DYNAMOMQ_CRASH_MESSAGES") ?? "1000");
const CHAOS_MS = Number(Deno.env.get("DYNAMOMQ_CRASH_CHAOS_MS") ?? "8000");
const SEED = Number(Deno.env.get("DYNAMOMQ_CRASH_SEED") ?? "1");
const QUEUE = "crash";
const VISIBILITY_MS = 1500;
const WORKERS = 4;
/** The chaos phase goes on until this many kills, however long it takes. */
const MIN_KILLS = 3;
/**
 * A bound against a hang, not an expectation: the drain fails only when no worker recorded
 * anything and the queue's counts did not change for this long (idle machine; scaled).
 */
const DRAIN_MS = 60_000;

const endpoint = Deno.env.get("DYNAMOMQ_DDBLOCAL_ENDPOINT") || undefined;
const wanted = selectedBackends().has("dynamodb-local");
const inCI = Deno.env.get("CI") === "true";
if (wanted && endpoint === undefined && !inCI) {
  console.warn(
    [
      "",
      "!!! DYNAMOMQ_DDBLOCAL_ENDPOINT is not set: tests/crash.test.ts is IGNORED.",
      "!!! Run it with `deno task test tests/crash.test.ts` (starts DynamoDB Local; needs java).",
      "",
    ].join("\n"),
  );
}

Deno.test({
  name: `crash: ${MESSAGES} messages, ${WORKERS} worker processes SIGKILLed and restarted at ` +
    "random; everything is acked or dead-lettered, nothing lost",
  ignore: !wanted || (endpoint === undefined && !inCI),
  fn: async () => {
    if (endpoint === undefined) {
      throw new Error("CI=true but DYNAMOMQ_DDBLOCAL_ENDPOINT is not set: run `deno task test`");
    }
    const started = performance.now();
    // Seeded, so a run's kill schedule repeats.
    const random = seededRandom(SEED);
    const runtime = ManagedRuntime.make(DynamoDBLive.layer({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }));
    const run = <A, E>(effect: Effect.Effect<A, E, DynamoDB>): Promise<A> =>
      runtime.runPromise(effect);
    const dir = await Deno.makeTempDir({ prefix: "dynamomq-crash-" });
    const table = `crash-${crypto.randomUUID()}`;
    const all: Array<Worker> = [];
    try {
      await run(Table.create(table));
      const queue = await run(Queue.make({
        table,
        name: QUEUE,
        schema: Schema.Struct({ n: Schema.Number }),
        visibilityTimeout: `${VISIBILITY_MS} millis`,
      }));
      const chunks = Array.from(
        { length: Math.ceil(MESSAGES / 100) },
        (_, i) =>
          Array.from(
            { length: Math.min(100, MESSAGES - i * 100) },
            (_, j) => ({ body: { n: i * 100 + j } }),
          ),
      );
      const results = (await run(Effect.forEach(chunks, queue.sendBatch, { concurrency: 4 })))
        .flat();
      const ids = results.map((r) => {
        if (Either.isLeft(r)) throw new Error(`a send failed: ${r.left.message}`);
        return r.right.id;
      });
      assert.equal(new Set(ids).size, MESSAGES);
      const idOfPk = new Map(ids.map((id) => [messageKey(QUEUE, id).pk, id]));

      // --- chaos: kill a random live worker every 200-800 ms, start a fresh one at once --------
      let next = 0;
      const live: Array<Worker> = [];
      const spawn = () => {
        const w = startWorker(dir, `w${next++}`, {
          endpoint: endpoint!,
          table: table,
          queue: QUEUE,
          concurrency: 8,
          visibilityMs: VISIBILITY_MS,
          handlerMs: 20,
          shutdownMs: 5000,
        });
        live.push(w);
        all.push(w);
      };
      for (let i = 0; i < WORKERS; i++) spawn();
      let kills = 0;
      const chaosEnd = Date.now() + CHAOS_MS;
      while (Date.now() < chaosEnd || kills < MIN_KILLS) {
        await sleep(200 + Math.floor(random() * 600));
        const victim = live.splice(Math.floor(random() * live.length), 1)[0]!;
        victim.child.kill("SIGKILL");
        const status = await victim.status;
        assert.equal(status.signal, "SIGKILL");
        kills++;
        spawn();
      }

      // --- drain: the survivors finish the queue ---------------------------------------------
      let stats: Queue.QueueStats = await run(queue.stats);
      const recorded = () => all.reduce((n, w) => n + w.records().length, 0);
      await waitUntil(
        "the queue to drain",
        async () => {
          stats = await run(queue.stats);
          return stats.ready + stats.delayed + stats.inflight === 0;
        },
        {
          ms: DRAIN_MS,
          intervalMs: 250,
          // Not oldestReadyAge: it grows by itself.
          progress: () =>
            [recorded(), stats.ready, stats.delayed, stats.inflight, stats.dead].join(),
          detail: () => `stats ${JSON.stringify(stats)}`,
        },
      );
      for (const w of live) w.child.kill("SIGTERM");
      for (const w of live) {
        const status = await w.status;
        assert.equal(status.code, 0, `${w.name} exit code; stderr:\n${await w.stderr}`);
      }

      // --- every message accounted for ------------------------------------------------------
      const records = all.flatMap((w) => w.records().map((r) => ({ ...r, worker: w.name })));
      const ends = new Map<string, number>();
      const starts = new Map<string, number>();
      const acks = new Map<string, number>();
      for (const r of records) {
        const id = r.id ?? (r.pk === undefined ? undefined : idOfPk.get(r.pk));
        if (id === undefined) continue;
        const bump = (m: Map<string, number>) => m.set(id, (m.get(id) ?? 0) + 1);
        if (r.e === "start") bump(starts);
        else if (r.e === "end") bump(ends);
        else if (r.e === "acked") bump(acks);
      }
      let acked = 0;
      let dead = 0;
      for (const id of ids) {
        const info = await run(queue.get(id));
        if (Option.isSome(info)) {
          // Still in the table: only as a dead letter (received maxReceives times, every time
          // by a worker that was killed before it could finish).
          assert.equal(info.value.state, "dead", `${id} is ${info.value.state}`);
          assert.equal(info.value.deadReason?.tag, "MaxReceivesExceeded", id);
          dead++;
        } else {
          // Deleted: only an ack deletes, and a worker acks only after its handler ended.
          assert.ok((ends.get(id) ?? 0) >= 1, `${id} is gone but was never handled to the end`);
          acked++;
        }
        assert.ok((acks.get(id) ?? 0) <= 1, `${id} was acked ${acks.get(id)} times`);
      }
      assert.equal(acked + dead, MESSAGES);
      assert.equal(stats.dead, dead);
      assert.ok(kills >= MIN_KILLS, `only ${kills} kills`);
      const redelivered = [...starts.values()].filter((n) => n > 1).length;
      console.log(`CRASH ${
        JSON.stringify({
          messages: MESSAGES,
          seed: SEED,
          timeScale: TIME_SCALE,
          kills,
          processes: all.length,
          acked,
          deadLettered: dead,
          lost: MESSAGES - acked - dead,
          redelivered,
          handlerStarts: [...starts.values()].reduce((a, b) => a + b, 0),
          seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
        })
      }`);
    } finally {
      for (const w of all) {
        if (w.exitedAt === undefined) {
          try {
            w.child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
        }
        await w.status;
        await w.stderr;
      }
      await run(Effect.ignore(Effect.flatMap(DynamoDB, (db) => db.deleteTable(table))));
      await runtime.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

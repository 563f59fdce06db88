/**
 * The admin CLI (`src/cli/main.ts`) run as subprocesses, as an operator runs it: every command,
 * human and `--json` output, error lines and exit codes, purge's confirmation, the redrive dry
 * run, NDJSON input with progress, `watch`, and the interactive shell driven through stdin.
 *
 * Runs against DynamoDB Local (`DYNAMOMQ_DDBLOCAL_ENDPOINT`, set by `deno task test`), else the
 * shared dynalite (`DYNAMOMQ_DYNALITE_ENDPOINT`), else an in-process dynalite started here. Each
 * test uses its own table. Independent invocations run concurrently to keep the file fast.
 */
import assert from "node:assert/strict";
import { Effect, Either, Option, Schema } from "effect";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import type { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { commandNames, helpText, parserUsage } from "../src/cli/commands.ts";
import { suggest } from "../src/cli/help.ts";
import {
  duration,
  parseDuration,
  parseJson,
  parseTime,
  relative,
  shellWords,
  table,
} from "../src/cli/format.ts";
import { bestEndpoint } from "./_emulators.ts";

const endpoint: string = await bestEndpoint();

const CLI = new URL("../src/cli/main.ts", import.meta.url).pathname;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * At most this many CLI processes at once: each spends ~0.5 s of CPU loading its modules, so
 * more than a few at a time only thrash the machine's cores.
 */
const MAX_PROCESSES = 4;
let running = 0;
const waiting: Array<() => void> = [];
const slot = async (): Promise<() => void> => {
  if (running >= MAX_PROCESSES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
};

/** Runs the CLI with a clean environment pointed at the emulator. */
const cli = async (
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly env?: Record<string, string> } = {},
): Promise<Run> => {
  const release = await slot();
  try {
    return await spawnCli(args, options);
  } finally {
    release();
  }
};

const spawnCli = async (
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly env?: Record<string, string> } = {},
): Promise<Run> => {
  const env: Record<string, string> = { AWS_ENDPOINT_URL_DYNAMODB: endpoint, NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    clearEnv: true,
    env: { ...env, ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
};

/** Asserts a run succeeded, showing its output when it did not. */
const ok = (run: Run): Run => {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

/** Asserts a run failed with `code` and exactly one error line matching `pattern`. */
const fails = (run: Run, code: number, pattern: RegExp): void => {
  assert.equal(run.code, code, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one error line expected, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
};

const json = (run: Run): Record<string, unknown> => JSON.parse(ok(run).stdout);

/**
 * Any duration as `duration()` prints it (`350ms`, `12s`, `1m 05s`, `2h 13m`, `4d 2h`). Output
 * that shows elapsed time is matched with this, never with the units a fast machine produces:
 * on a loaded one, "12s ago" reads "1m 05s ago".
 */
const DURATION = String.raw`\d+ms|\d+s|\d+m \d\ds|\d+h \d\dm|\d+d \d+h`;

/** The milliseconds a `duration()` text stands for (to its precision). */
const millisOf = (text: string): number => {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(n) * units[unit!]!;
  return total;
};

/** The duration in `text` after `prefix` (e.g. "receivable in "), in milliseconds. */
const durationAfter = (text: string, prefix: string): number => {
  const m = new RegExp(`${prefix}(${DURATION})`).exec(text);
  assert.ok(m, `no duration after ${JSON.stringify(prefix)} in:\n${text}`);
  return millisOf(m[1]!);
};

/**
 * The scenarios below are independent (each has its own table), so they run concurrently as
 * steps of one test: the file's time is then bound by CPU, not by a chain of process starts.
 */
const scenarios: Array<readonly [string, () => Promise<void>]> = [];
const scenario = (name: string, fn: () => Promise<void>) => void scenarios.push([name, fn]);

let tables = 0;
/** A fresh table (created through the library: only `create-table`'s own test uses the CLI). */
const freshTable = async (name: string): Promise<string> => {
  const table = `cli-${name}-${Date.now().toString(36)}-${tables++}`;
  await Effect.runPromise(Table.create(table).pipe(Effect.provide(live)));
  return table;
};

const live = DynamoDBLive.layer({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});

/** Sends bodies through the library (setup for commands under test). */
const seed = (
  table: string,
  queue: string,
  entries: ReadonlyArray<{ body: unknown; id?: string }>,
): Promise<void> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const q = yield* Queue.make({ table, name: queue, schema: Schema.Unknown });
      for (const e of entries) yield* q.send(e.body, { id: e.id });
    }).pipe(Effect.provide(live)),
  );

/** Reads a queue's counts through the library (checks that need no CLI process). */
const statsOf = (table: string, queue: string): Promise<Queue.QueueStats> =>
  Effect.runPromise(
    Effect.flatMap(Queue.make({ table, name: queue, schema: Schema.Unknown }), (q) => q.stats)
      .pipe(Effect.provide(live)),
  );

/** Reads one message through the library. */
const infoOf = (table: string, queue: string, id: string) =>
  Effect.runPromise(
    Effect.flatMap(Queue.make({ table, name: queue, schema: Schema.Unknown }), (q) => q.get(id))
      .pipe(Effect.provide(live), Effect.map(Option.getOrThrow)),
  );

/** The column where each `label  value` line's value starts: all equal when aligned. */
const valueColumns = (block: string): Array<number> =>
  block.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const m = /^(.+?)\s{2,}\S/.exec(l);
    assert.ok(m, `not a "label  value" line: ${JSON.stringify(l)}`);
    return m[0].length - 1;
  });

/** Asserts a table's rows have `column`'s values starting where its header does. */
const assertColumn = (text: string, column: string, values: ReadonlyArray<string>) => {
  const lines = text.split("\n");
  const header = lines.find((l) => l.includes(column));
  assert.ok(header, `no header with ${column} in:\n${text}`);
  const at = header.indexOf(column);
  for (const value of values) {
    const row: string | undefined = lines.find((l) => l.includes(value) && l !== header);
    assert.ok(row, `no row with ${value} in:\n${text}`);
    assert.equal(row.indexOf(value), at, `${value} is not under ${column}:\n${text}`);
  }
};

scenario(
  "create-table is idempotent; a missing table is one error line with the hint",
  async () => {
    const table = `cli-create-${Date.now().toString(36)}`;
    const [missing, missingJson] = await Promise.all([
      cli(["stats", "--table", table]),
      cli(["stats", "--table", table, "--json"]),
    ]);
    fails(
      missing,
      3,
      new RegExp(
        `^error: table "${table}" does not exist at .*: create it with \`dynamomq create-table --table ${table}\`$`,
      ),
    );
    assert.equal(missing.stdout, "");
    assert.equal(missingJson.code, 3);
    const error = JSON.parse(missingJson.stderr);
    assert.equal(error.error, "TableNotFound");
    assert.equal(error.exitCode, 3);
    assert.match(error.message, /create-table/);

    const created = ok(await cli(["create-table", "--table", table]));
    assert.match(created.stdout, new RegExp(`^created table "${table}" \\(index "ready", `));
    const again = json(await cli(["create-table", "--table", table, "--json"]));
    assert.equal(again.table, table);
    assert.equal(again.created, false);
    assert.equal(again.endpoint, endpoint);
    assert.ok(again.ttl === "enabled" || again.ttl === "unsupported");
    const found = ok(await cli(["create-table", "--table", table]));
    assert.match(found.stdout, /^found table ".*" with the right shape/);
    // A name DynamoDB would refuse is refused before any request.
    fails(await cli(["stats", "--table", "ab"]), 2, /^error: --table must be 3-255 characters/);
  },
);

scenario("send, get, ls, peek and stats: human and JSON output", async () => {
  const table = await freshTable("look");
  const g = ["--table", table, "--queue", "orders"];
  // Two priority bands, stored in the table: every later command reads them.
  ok(await cli(["queue", "create", ...g, "--priorities", "2"]));
  const [first, delayed, named, badJson, noPriorities, dedup1] = await Promise.all([
    cli(["send", ...g, "--data", '{"id":"A-101","total":42}', "--json"]),
    cli(["send", ...g, "--data", '{"id":"A-102"}', "--delay", "10m"]),
    cli(["send", ...g, "--data", '"named"', "--id", "order-7"]),
    cli(["send", ...g, "--data", '{"id": "A-103",\n "total": }']),
    cli(["send", ...g, "--data", "1", "--priority", "2"]),
    cli(["send", ...g, "--data", '{"dedup":1}', "--dedup-id", "k-1", "--json"]),
  ]);
  const sent = json(first);
  assert.equal(typeof sent.id, "string");
  assert.equal(sent.duplicate, false);
  // Receivable 10m after the send, measured after it: at most 10m, however long the send took.
  assert.match(ok(delayed).stdout, new RegExp(`^sent \\S+ \\(receivable in (${DURATION})\\)\n$`));
  assert.ok(durationAfter(delayed.stdout, "receivable in ") <= 600_000, delayed.stdout);
  assert.equal(ok(named).stdout, "sent order-7\n");
  fails(badJson, 2, /^error: bad JSON in --data at line 2, column 11: unexpected "}"$/);
  fails(noPriorities, 2, /priority.*from 0 to 1, got 2/);
  const firstDedup = json(dedup1);

  const [dupId, dedup2, withPriority, grouped] = await Promise.all([
    cli(["send", ...g, "--data", '"again"', "--id", "order-7"]),
    cli(["send", ...g, "--data", '{"dedup":2}', "--dedup-id", "k-1", "--json"]),
    cli(["send", ...g, "--priorities", "2", "--data", '"urgent"', "--priority", "1", "--json"]),
    cli(["send", ...g, "--data", '{"step":1}', "--group", "customer-1", "--json"]),
  ]);
  fails(dupId, 4, /^error: message order-7 already exists in queue orders$/);
  const secondDedup = json(dedup2);
  assert.equal(secondDedup.duplicate, true);
  assert.equal(secondDedup.id, firstDedup.id);
  assert.equal(json(withPriority).duplicate, false);
  const groupedId = json(grouped).id as string;

  const [getHuman, getJson, getGrouped, lsHuman, lsPage, peek, statsHuman, statsJson] =
    await Promise.all([
      cli(["get", ...g, "--id", sent.id as string]),
      cli(["get", ...g, "--id", "order-7", "--json"]),
      cli(["get", ...g, "--id", groupedId, "--json"]),
      cli(["ls", ...g]),
      cli(["ls", ...g, "--limit", "1", "--json"]),
      cli(["peek", ...g, "--state", "delayed"]),
      cli(["stats", ...g]),
      cli(["stats", ...g, "--priorities", "2", "--json"]),
    ]);
  const block = ok(getHuman).stdout.trimEnd();
  assert.match(block, /^id +\S+$/m);
  assert.match(block, /^state +ready$/m);
  assert.match(
    block,
    new RegExp(`^sent +(just now|(${DURATION}) ago) \\(\\d{4}-\\d\\d-\\d\\dT`, "m"),
  );
  assert.match(block, /^body +\{"id":"A-101","total":42\}$/m);
  assert.equal(new Set(valueColumns(block)).size, 1, `labels not aligned:\n${block}`);
  const info = json(getJson);
  assert.equal(info.id, "order-7");
  assert.equal(info.state, "ready");
  assert.equal(info.body, "named");
  assert.equal(json(getGrouped).group, "customer-1");

  const ls = ok(lsHuman).stdout;
  assert.match(ls, /^ID +RECEIVES +PRIO +SENT +VISIBLE +BODY$/m);
  assertColumn(ls, "BODY", ['{"id":"A-101","total":42}', '"named"']);
  assertColumn(ls, "VISIBLE", ["since "]);
  assert.match(ls, /\n\d+ ready messages\n$/);
  const page = json(lsPage);
  assert.equal((page.messages as Array<unknown>).length, 1);
  assert.equal(typeof page.cursor, "string");
  const next = json(
    await cli(["ls", ...g, "--limit", "1", "--cursor", page.cursor as string, "--json"]),
  );
  assert.notEqual(
    (next.messages as Array<{ id: string }>)[0]!.id,
    (page.messages as Array<{ id: string }>)[0]!.id,
  );
  const peeked = ok(peek).stdout;
  assert.match(peeked, /^state +delayed$/m);
  // The time left depends on how long the run took since the send: check the shape only.
  assert.match(peeked, new RegExp(`^visible +in (${DURATION})$`, "m"));
  assert.match(peeked, /^body +\{"id":"A-102"\}$/m);
  assert.match(peeked, /^1 delayed message$/m);

  const human = ok(statsHuman).stdout;
  assert.match(human, /^STATE +COUNT$/m);
  assert.match(human, /^delayed +1$/m);
  // How long ago depends on the machine's speed (a loaded one reads "1m 05s ago"): the shape only.
  assert.match(human, new RegExp(`^oldest ready message: sent (${DURATION}) ago$`, "m"));
  const stats = json(statsJson);
  assert.equal(stats.delayed, 1);
  assert.equal(stats.inflight, 0);
  assert.equal(stats.dead, 0);
  // A-101, order-7, the deduplicated one, the urgent one, and the grouped one (or its group).
  assert.ok((stats.ready as number) >= 4, JSON.stringify(stats));
});

scenario("receive, extend, release, nack, ack; lost lease and unknown id", async () => {
  const table = await freshTable("lease");
  const g = ["--table", table, "--queue", "work"];
  await seed(table, "work", [{ body: { n: 1 }, id: "m1" }]);

  const received = json(await cli(["receive", ...g, "--json"]));
  const [m] = received.messages as Array<{ id: string; lease: string; receives: number }>;
  assert.equal(m!.id, "m1");
  assert.equal(m!.receives, 1);
  const lease = ["--id", "m1", "--lease", m!.lease];
  // 5m from the time the extend was sent, printed from a time read before: at least 5m.
  const extended = ok(await cli(["extend", ...g, ...lease, "--timeout", "5m"])).stdout;
  assert.match(extended, new RegExp(`^extended the lease on m1: it ends in (${DURATION})\n$`));
  assert.ok(durationAfter(extended, "ends in ") >= 300_000, extended);
  assert.match(ok(await cli(["release", ...g, ...lease])).stdout, /^released m1: receivable now/);
  fails(
    await cli(["release", ...g, ...lease]),
    4,
    /^error: lost lease: release of message m1 refused: this lease is no longer held/,
  );

  // Human receive: the lease is on its own aligned line.
  const human = ok(await cli(["receive", ...g, "--visibility", "1m"])).stdout.trimEnd();
  assert.equal(new Set(valueColumns(human)).size, 1, human);
  assert.match(human, /^receives +1$/m, "release did not count the receive");
  // A 1m lease, printed after the receive returned: at most 1m left, however long that took.
  assert.match(human, new RegExp(`^lease ends +in (${DURATION})$`, "m"));
  assert.ok(durationAfter(human, "lease ends +in ") <= 60_000, human);
  const token = /^lease +(\S+)$/m.exec(human)?.[1];
  assert.ok(token, human);
  assert.match(
    ok(
      await cli([
        "nack",
        ...g,
        "--id",
        "m1",
        "--lease",
        token,
        "--delay",
        "1h",
        "--reason",
        "boom",
      ]),
    )
      .stdout,
    /^nacked m1: receivable in (59m 59s|1h 00m)\n$/,
  );
  const after = await infoOf(table, "work", "m1");
  assert.equal(after.state, "delayed");
  assert.deepEqual(after.attempts.map((a) => a.message), ["boom"]);

  await seed(table, "work", [{ body: "two", id: "m2" }]);
  const second = json(await cli(["receive", ...g, "--json"]));
  const [m2] = second.messages as Array<{ id: string; lease: string }>;
  assert.equal(m2!.id, "m2");
  const wrongLease = await cli(["ack", ...g, "--id", "m2", "--lease", "not-the-lease", "--json"]);
  assert.equal(wrongLease.code, 4);
  assert.equal(JSON.parse(wrongLease.stderr).error, "LeaseLost");
  assert.equal(
    ok(await cli(["ack", ...g, "--id", "m2", "--lease", m2!.lease])).stdout,
    "acked m2\n",
  );
  const [ackAgain, ackUnknown, empty] = await Promise.all([
    cli(["ack", ...g, "--id", "m2", "--lease", m2!.lease]),
    cli(["ack", ...g, "--id", "nope", "--lease", "x"]),
    cli(["receive", ...g]),
  ]);
  // Acked: the message is gone, so its id is unknown now.
  fails(ackAgain, 3, /^error: unknown message id "m2"/);
  fails(ackUnknown, 3, /^error: unknown message id "nope" in queue "work"$/);
  assert.equal(ok(empty).stdout, "no message is ready to receive\n");

  // At --max-receives, receive dead-letters the message instead of delivering it.
  await seed(table, "work", [{ body: "poison", id: "m3" }]);
  const r3 = json(await cli(["receive", ...g, "--json"]));
  const [m3] = r3.messages as Array<{ lease: string }>;
  ok(await cli(["nack", ...g, "--id", "m3", "--lease", m3!.lease]));
  // A flag cannot contradict the stored maxReceives: the queue is changed explicitly.
  fails(
    await cli(["receive", ...g, "--max-receives", "1"]),
    4,
    /^error: queue work is defined differently: maxReceives is 5 in the table, 1 requested/,
  );
  ok(await cli(["queue", "update", ...g, "--max-receives", "1"]));
  const dead = ok(await cli(["receive", ...g])).stdout;
  assert.match(
    dead,
    /^no message is ready to receive\ndead-lettered m3 instead: .* was received 1 time \(max 1\)/,
  );
  // The stored reason is pluralised the same way wherever the CLI shows it.
  const [dlqAfter, getAfter] = await Promise.all([
    cli(["dlq", ...g]),
    cli(["get", ...g, "--id", "m3"]),
  ]);
  for (const out of [dead, ok(dlqAfter).stdout, ok(getAfter).stdout]) {
    assert.doesNotMatch(out, /\b1 times\b/, out);
  }
  assert.match(getAfter.stdout, /^dead reason +MaxReceivesExceeded: .*received 1 time \(max 1\)/m);
});

scenario("settling a message of another queue says which queue it belongs to", async () => {
  const table = await freshTable("wrongq");
  const left = ["--table", table, "--queue", "left"];
  const right = ["--table", table, "--queue", "right"];
  // "x1" is only in left; "x2" is in both, and only left's is received.
  await seed(table, "left", [{ body: 1, id: "x1" }, { body: 2, id: "x2" }]);
  await seed(table, "right", [{ body: 3, id: "x2" }]);
  const received = json(await cli(["receive", ...left, "--max", "2", "--json"]));
  const leases = Object.fromEntries(
    (received.messages as Array<{ id: string; lease: string }>).map((m) => [m.id, m.lease]),
  );
  assert.deepEqual(Object.keys(leases).sort(), ["x1", "x2"]);
  const [onlyLeft, inBoth, nackBoth, asJson, shell] = await Promise.all([
    cli(["ack", ...right, "--id", "x1", "--lease", leases.x1!]),
    cli(["ack", ...right, "--id", "x2", "--lease", leases.x2!]),
    cli(["nack", ...right, "--id", "x2", "--lease", leases.x2!, "--delay", "1m"]),
    cli(["ack", ...right, "--id", "x1", "--lease", leases.x1!, "--json"]),
    cli(right, { stdin: `id x2 ${leases.x2}\n` }),
  ]);
  const belongs = (id: string) =>
    new RegExp(
      `^error: message ${id} belongs to queue "left", not "right" \\(the lease was issued there\\): use --queue left$`,
    );
  fails(onlyLeft, 2, belongs("x1"));
  fails(inBoth, 2, belongs("x2"));
  fails(nackBoth, 2, belongs("x2"));
  assert.equal(JSON.parse(asJson.stderr).error, "WrongQueue");
  assert.match(ok(shell).stderr.trimEnd(), belongs("x2"));
  // Nothing was settled in either queue; in the right queue, both ack for real.
  assert.equal((await statsOf(table, "right")).ready, 1);
  const [ackX1, ackX2] = await Promise.all([
    cli(["ack", ...left, "--id", "x1", "--lease", leases.x1!]),
    cli(["ack", ...left, "--id", "x2", "--lease", leases.x2!]),
  ]);
  assert.equal(ok(ackX1).stdout, "acked x1\n");
  assert.equal(ok(ackX2).stdout, "acked x2\n");
  // Acked, x1 is gone and no other queue has it: an unknown id, as before.
  fails(
    await cli(["ack", ...left, "--id", "x1", "--lease", leases.x1!]),
    3,
    /^error: unknown message id "x1" in queue "left"$/,
  );
});

scenario("move-to-dlq, delete, dlq and redrive (dry run, --id, --all with filters)", async () => {
  const table = await freshTable("dlq");
  const g = ["--table", table, "--queue", "jobs"];
  await seed(table, "jobs", [
    { body: { job: 1 }, id: "d1" },
    { body: { job: 2 }, id: "d2" },
    { body: { job: 3 }, id: "d3" },
  ]);
  const [moved1, moved2] = await Promise.all([
    cli(["move-to-dlq", ...g, "--id", "d1", "--reason", "bad customer"]),
    cli(["move-to-dlq", ...g, "--id", "d2"]),
  ]);
  assert.equal(ok(moved1).stdout, "moved d1 to the dead-letter queue\n");
  ok(moved2);

  const [dlqHuman, dlqJson, dry, dryFiltered, notDead, noTarget, dryOne] = await Promise.all([
    cli(["dlq", ...g]),
    cli(["dlq", ...g, "--json"]),
    cli(["redrive", ...g, "--all", "--dry-run", "--json"]),
    cli(["redrive", ...g, "--all", "--reason", "Manual", "--dead-before", "1h", "--dry-run"]),
    cli(["redrive", ...g, "--id", "d3"]),
    cli(["redrive", ...g]),
    cli(["redrive", ...g, "--id", "d1", "--dry-run"]),
  ]);
  const human = ok(dlqHuman).stdout;
  assert.match(human, /^dead-letter queue of "jobs": 2 messages$/m);
  assert.match(human, /^ID +RECEIVES +DEAD SINCE +REASON +BODY$/m);
  assertColumn(human, "REASON", ["Manual: bad customer", "Manual: moved to the dead-letter queue"]);
  assertColumn(human, "BODY", ['{"job":1}', '{"job":2}']);
  const list = json(dlqJson);
  assert.equal(list.count, 2);
  assert.deepEqual(
    (list.messages as Array<{ id: string; deadReason: { message: string } }>).map((m) => [
      m.id,
      m.deadReason.message,
    ]).sort(),
    [["d1", "bad customer"], ["d2", "moved to the dead-letter queue"]],
  );
  const plan = json(dry);
  assert.equal(plan.dryRun, true);
  assert.equal(plan.count, 2);
  assert.deepEqual((plan.ids as Array<string>).sort(), ["d1", "d2"]);
  assert.match(ok(dryFiltered).stdout, /^would redrive 0 messages \(dry run: nothing changed\)$/m);
  fails(notDead, 4, /^error: redrive of message d3 in queue jobs: it is ready, expected dead$/);
  fails(noTarget, 2, /^error: say which messages: --id <id> for one, or --all/);
  assert.equal(ok(dryOne).stdout, "would redrive d1 (dry run: nothing changed)\n");
  // The dry runs changed nothing.
  assert.equal((await statsOf(table, "jobs")).dead, 2);

  assert.equal(
    ok(await cli(["redrive", ...g, "--id", "d1"])).stdout,
    "redrove d1: ready now, receive count reset\n",
  );
  const all = json(await cli(["redrive", ...g, "--all", "--reason", "Manual", "--json"]));
  assert.deepEqual(all, { dryRun: false, count: 1 });
  const stats = await statsOf(table, "jobs");
  assert.equal(stats.dead, 0);
  assert.equal(stats.ready, 3);
  assert.equal(ok(await cli(["delete", ...g, "--id", "d3"])).stdout, "deleted d3\n");
  fails(await cli(["delete", ...g, "--id", "d3"]), 3, /^error: unknown message id "d3"/);
});

scenario("purge asks first: n or no answer refuses, y and --yes purge", async () => {
  const table = await freshTable("purge");
  const g = ["--table", table, "--queue", "junk"];
  await seed(table, "junk", [{ body: 1 }, { body: 2 }, { body: 3 }]);
  const [no, eof] = await Promise.all([
    cli(["purge", ...g], { stdin: "n\n" }),
    cli(["purge", ...g], { stdin: "" }),
  ]);
  assert.equal(no.code, 5);
  assert.match(no.stderr, /^purge 3 messages from queue "junk" in table ".*"\? \[y\/N\] /);
  assert.match(no.stderr, /error: purge cancelled: nothing was deleted\n$/);
  assert.equal(eof.code, 5);
  assert.match(eof.stderr, /no answer on stdin; pass --yes/);
  assert.equal((await statsOf(table, "junk")).ready, 3);

  assert.equal(
    ok(await cli(["purge", ...g, "--state", "ready"], { stdin: "y\n" })).stdout,
    'purged 3 ready messages from queue "junk"\n',
  );
  await seed(table, "junk", [{ body: 4 }, { body: 5 }]);
  assert.deepEqual(json(await cli(["purge", ...g, "--yes", "--json"])), { purged: 2 });
  assert.equal(
    ok(await cli(["purge", ...g, "-y"])).stdout,
    'nothing to purge: queue "junk" has no messages\n',
  );
});

scenario("send reads NDJSON from stdin with progress; a bad line sends nothing", async () => {
  const table = await freshTable("ndjson");
  const g = ["--table", table, "--queue", "bulk"];
  const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ n: i }));
  const bad = ['{"n":1}', '{"n":2}', '{"n": 3,, }', '{"n":4}'].join("\n");
  const [bulk, broken, small] = await Promise.all([
    cli(["send", ...g], { stdin: lines.join("\n") + "\n" }),
    cli(["send", ...g], { stdin: bad }),
    cli(["send", "--table", table, "--queue", "small", "--json"], {
      stdin: '{"a":1}\n\n{"a":2}\r\n{"a":3}',
    }),
  ]);
  assert.match(
    ok(bulk).stdout,
    new RegExp(`^sent 1000 messages to queue "bulk" in (${DURATION})\n$`),
  );
  assert.deepEqual(bulk.stderr.trimEnd().split("\n"), [
    "sending: 250/1000 (25%)",
    "sending: 500/1000 (50%)",
    "sending: 750/1000 (75%)",
    "sending: 1000/1000 (100%)",
  ]);
  fails(
    broken,
    2,
    /^error: bad JSON on stdin line 3, column 9: expected a property name in quotes; nothing was sent$/,
  );
  const report = json(small);
  assert.equal(report.sent, 3);
  assert.equal(report.failed, 0);
  assert.deepEqual((report.results as Array<{ line: number }>).map((r) => r.line), [1, 3, 4]);
  assert.equal(small.stderr, "", "no progress for small inputs");

  const ids = await cli(["send", ...g, "--dedup-id", "x"], { stdin: "1\n2\n" });
  assert.equal((await statsOf(table, "bulk")).ready, 1000, "the bad input sent nothing");
  fails(ids, 2, /^error: --dedup-id names one message, but stdin has 2$/);
});

scenario("watch refreshes counts and rates; --json is one line per refresh", async () => {
  const table = await freshTable("watch");
  const g = ["--table", table, "--queue", "live"];
  await seed(table, "live", [{ body: 1 }, { body: 2 }]);
  const [frames, once] = await Promise.all([
    cli(["watch", ...g, "--iterations", "2", "--interval", "200ms"]),
    cli(["watch", ...g, "--once", "--json"]),
  ]);
  const text = ok(frames).stdout;
  const [a, b] = text.split("\n\n");
  assert.match(a!, /^queue "live" in table ".*" — \d\d:\d\d:\d\d UTC, every 200ms\n/);
  assert.match(a!, /^STATE +COUNT +RATE$/m);
  assert.match(a!, /^ready +2 +—$/m);
  assert.match(b!, /^ready +2 +0\.0\/s$/m);
  assert.match(b!, new RegExp(`^oldest ready message: sent (${DURATION}) ago$`, "m"));
  const lines = ok(once).stdout.trimEnd().split("\n");
  assert.equal(lines.length, 1);
  const frame = JSON.parse(lines[0]!);
  assert.equal(frame.ready, 2);
  assert.equal(frame.rates, null);
  assert.equal(typeof frame.at, "number");
});

scenario("iam-policy prints least-privilege JSON for the table", async () => {
  const policy = json(
    await cli(["iam-policy", "--table", "orders-table", "--account", "123456789012", "--admin"]),
  );
  const statements = policy.Statement as Array<{ Action: Array<string>; Resource: Array<string> }>;
  const arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders-table";
  assert.deepEqual(statements[0]!.Resource, [arn]);
  assert.deepEqual(statements[1]!.Resource, [`${arn}/index/ready`]);
  assert.ok(statements.some((s) => s.Action.includes("dynamodb:CreateTable")));
  assert.ok(!statements.some((s) => s.Action.some((a) => a.includes("*"))));
});

/** Runs a library program against the emulator. */
const withLive = <A>(program: Effect.Effect<A, unknown, DynamoDB>): Promise<A> =>
  Effect.runPromise(program.pipe(Effect.provide(live)));

scenario("declared queues: every command reads the stored definition", async () => {
  const table = await freshTable("declared");
  const at = (queue: string) => ["--table", table, "--queue", queue];
  await withLive(Effect.gen(function* () {
    // A 4-shard app with 20 messages; a 3-band, 4-shard producer with 8; maxReceives 20 with 1.
    const wide = yield* Queue.make({ table, name: "wide", schema: Schema.Unknown, shards: 4 });
    for (let i = 0; i < 20; i++) yield* wide.send({ i });
    const banded = yield* Queue.make({
      table,
      name: "banded",
      schema: Schema.Unknown,
      priorities: 3,
      shards: 4,
    });
    for (let i = 0; i < 8; i++) yield* banded.send({ i }, { priority: i % 3 });
    const patient = yield* Queue.make({
      table,
      name: "patient",
      schema: Schema.Unknown,
      maxReceives: 20,
    });
    yield* patient.send("retry me", { id: "p1" });
    for (let i = 0; i < 5; i++) {
      const { messages } = yield* patient.receive();
      yield* patient.nack(messages[0]!);
    }
  }));
  const [stats, received, patient, contradict, describeWide] = await Promise.all([
    cli(["stats", ...at("wide"), "--json"]),
    cli(["receive", ...at("banded"), "--max", "20", "--json"]),
    cli(["receive", ...at("patient"), "--json"]),
    cli(["stats", ...at("wide"), "--shards", "2"]),
    cli(["queue", "describe", ...at("wide"), "--json"]),
  ]);
  assert.equal(json(stats).ready, 20);
  assert.equal((json(received).messages as Array<unknown>).length, 8);
  const p = json(patient);
  assert.equal((p.messages as Array<unknown>).length, 1);
  assert.deepEqual(p.deadLettered, []);
  fails(
    contradict,
    4,
    /^error: queue wide is defined differently: shards is 4 in the table, 2 requested/,
  );
  assert.equal(json(describeWide).shards, 4);
  // A send without --shards keeps the definition: purge (and the dashboard) still see all 21.
  ok(await cli(["send", ...at("wide"), "--data", '"one more"']));
  assert.equal(json(await cli(["queue", "describe", ...at("wide"), "--json"])).shards, 4);
  const purged = ok(await cli(["purge", ...at("wide"), "--yes"]));
  assert.equal(purged.stdout, 'purged 21 messages from queue "wide"\n');
  assert.equal((await statsOf(table, "wide")).ready, 0);
});

scenario("queue create, describe, update, delete and list", async () => {
  const table = await freshTable("lifecycle");
  const g = ["--table", table, "--queue", "jobs"];
  const created = json(
    await cli(["queue", "create", ...g, "--shards", "2", "--max-receives", "7", "--json"]),
  );
  assert.equal(created.version, 1);
  assert.equal(created.shards, 2);
  const [same, clash, missing] = await Promise.all([
    cli(["queue", "create", ...g, "--shards", "2"]),
    cli(["queue", "create", ...g, "--shards", "3"]),
    cli(["queue", "describe", "--table", table, "--queue", "nope"]),
  ]);
  ok(same);
  fails(clash, 4, /shards is 2 in the table, 3 requested/);
  fails(missing, 3, /^error: no queue "nope" is defined in table/);
  const updated = json(
    await cli([
      "queue",
      "update",
      ...g,
      "--visibility-timeout",
      "2m",
      "--max-receives",
      "9",
      "--json",
    ]),
  );
  assert.equal(updated.version, 2);
  assert.equal(updated.visibilityTimeoutMillis, 120_000);
  assert.equal(updated.maxReceives, 9);
  const [reshard, stale, list] = await Promise.all([
    cli(["queue", "update", ...g, "--shards", "4"]),
    cli(["queue", "update", ...g, "--max-receives", "3", "--expected-version", "1"]),
    cli(["queue", "list", "--table", table]),
  ]);
  fails(reshard, 2, /shards cannot change in place \(2 stored, 4 asked\)/);
  fails(stale, 4, /version/);
  assert.match(ok(list).stdout, /^QUEUE +VERSION +SHARDS +PRIORITIES +MAX RECEIVES +VISIBILITY$/m);
  assert.match(list.stdout, /^jobs +2 +2 +1 +9 +2m/m);
  ok(await cli(["send", ...g, "--data", '"work"']));
  fails(await cli(["queue", "delete", ...g]), 4, /still holds 1 message/);
  const deleted = json(await cli(["queue", "delete", ...g, "--force", "--json"]));
  assert.deepEqual(deleted, { deleted: "jobs", messages: 1 });
  fails(await cli(["queue", "describe", ...g]), 3, /no queue "jobs"/);
});

scenario("--help reads like gh: summaries, global flags once, examples", async () => {
  // Every command's help, in-process (20 subprocesses would cost ~15 s), checked against the
  // parser: each option @effect/cli accepts is documented, and nothing else.
  assert.equal(commandNames.length, 20);
  const root = helpText("dynamomq")!;
  const globals = ["table", "queue", "region", "endpoint-url", "json", "priorities", "shards"];
  for (const name of commandNames) {
    const help = helpText(name)!;
    assert.match(help, new RegExp(`^USAGE\n {2}dynamomq ${name} .*\\[flags\\]$`, "m"), name);
    assert.match(help, /^EXAMPLES\n {2}\$ dynamomq /m, name);
    const parsed = new Set(parserUsage(name)!.match(/--[a-z-]+/g));
    const documented = new Set(
      help.match(/^ {2}(?:-\w, | {4})(--[a-z-]+)/gm)?.map((l) => l.trim()),
    );
    for (const flag of parsed) {
      if (globals.includes(flag.slice(2)) || flag === "--max-receives") continue;
      assert.ok([...documented].some((d) => d.endsWith(flag)), `${name}: ${flag} undocumented`);
    }
    // The global flags are named once, on one line, not described under every command.
    assert.match(help, /^GLOBAL FLAGS\n {2}--table, --queue, /m, name);
    assert.doesNotMatch(help, /The DynamoMQ table/, name);
    // One line per command in the root help.
    assert.equal(root.match(new RegExp(`^ {2}${name} +\\S`, "gm"))?.length, 1, name);
  }
  for (const help of [root, ...commandNames.map((n) => helpText(n)!)]) {
    assert.doesNotMatch(help, /user-defined piece of text|This setting is optional|--wizard/);
    assert.ok(help.split("\n").every((l) => l.length <= 100), help);
  }
  assert.equal(root.match(/The DynamoMQ table/g)?.length, 1, "global flags listed once");
  assert.match(helpText("ack")!, /^USAGE\n {2}dynamomq ack --id <id> --lease <token> \[flags\]$/m);
  assert.match(
    helpText("ack")!,
    /^ {6}--lease <token> +The lease token printed by receive\. Required\.$/m,
  );

  // And through the real entry point, as a user types it.
  const [rootHelp, ackHelp, helpSend, typo, typoJson, unknown, wizard, badFlag] = await Promise
    .all([
      cli(["--help"]),
      cli(["ack", "--help"]),
      cli(["help", "send"]),
      cli(["stast"]),
      cli(["stast", "--json"]),
      cli(["frobnicate"]),
      cli(["send", "--wizard"]),
      cli(["stats", "--tabel", "x"]),
    ]);
  assert.equal(ok(rootHelp).stdout, `${root}\n`);
  assert.match(rootHelp.stdout, /^MESSAGE COMMANDS\n {2}send +Send a message/m);
  assert.match(rootHelp.stdout, /^GLOBAL FLAGS/m);
  assert.equal(ok(ackHelp).stdout, `${helpText("ack")}\n`);
  assert.equal(ok(helpSend).stdout, `${helpText("send")}\n`);
  fails(typo, 2, /^error: unknown command 'stast'\. Did you mean 'stats'\?$/);
  assert.deepEqual(JSON.parse(typoJson.stderr), {
    error: "Usage",
    message: "unknown command 'stast'. Did you mean 'stats'?",
    exitCode: 2,
  });
  fails(unknown, 2, /^error: unknown command 'frobnicate'\. Run 'dynamomq help' for the list/);
  fails(wizard, 2, /^error: unknown option '--wizard' for 'send'\./);
  fails(badFlag, 2, /^error: unknown option '--tabel' for 'stats'\. Did you mean '--table'\?$/);
});

scenario("usage errors are one line with exit code 2", async () => {
  const [missing, badDelay, unreachable, version] = await Promise.all([
    cli(["ack", "--id", "x", "--json"]),
    cli(["send", "--delay", "5 fortnights", "--data", "1"]),
    cli(["stats", "--table", "any-table", "--endpoint-url", "http://127.0.0.1:9"]),
    cli(["--version"]),
  ]);
  assert.equal(missing.code, 2);
  assert.deepEqual(JSON.parse(missing.stderr), {
    error: "Usage",
    message: "Expected to find option: '--lease'",
    exitCode: 2,
  });
  fails(badDelay, 2, /^error: --delay: not a duration: "5 fortnights".* \(see --help\)$/);
  fails(unreachable, 1, /^error: cannot reach DynamoDB at http:\/\/127\.0\.0\.1:9: /);
  assert.match(ok(version).stdout, /^dynamomq \d+\.\d+\.\d+\n$/);
});

scenario(
  "a malformed endpoint or a missing region is a usage error naming what to set",
  async () => {
    // No profile files, so the SDK's chain finds no region either.
    const noProfile = {
      AWS_CONFIG_FILE: "/nonexistent",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    };
    const [flag, variable, noRegion, noRegionJson] = await Promise.all([
      cli(["stats", "--endpoint-url", "127.0.0.1:8000"]),
      cli(["stats"], { env: { AWS_ENDPOINT_URL_DYNAMODB: "127.0.0.1:8000" } }),
      cli(["stats"], { env: { ...noProfile, AWS_ENDPOINT_URL_DYNAMODB: "" } }),
      cli(["stats", "--json"], { env: { ...noProfile, AWS_ENDPOINT_URL_DYNAMODB: "" } }),
    ]);
    fails(
      flag,
      2,
      /^error: --endpoint-url: "127\.0\.0\.1:8000" is not a URL: write it with its scheme, e\.g\. http:\/\/127\.0\.0\.1:8000$/,
    );
    fails(variable, 2, /^error: AWS_ENDPOINT_URL_DYNAMODB: "127\.0\.0\.1:8000" is not a URL/);
    fails(noRegion, 2, /^error: no AWS region: pass --region or set AWS_REGION/);
    assert.deepEqual(JSON.parse(noRegionJson.stderr), {
      error: "Usage",
      message: "no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)",
      exitCode: 2,
    });
  },
);

scenario("the interactive shell, driven through stdin", async () => {
  const table = await freshTable("shell");
  const g = ["--table", table, "--queue", "chat"];
  const session = [
    "help",
    "",
    'send {"hello": "world"}',
    "stats",
    "   ",
    "receive",
    "ack",
    "id nope",
    "get",
    "frobnicate",
    "ack",
    "id",
    "ls",
    "QUIT",
    "stats",
  ].join("\n") + "\n";
  const run = ok(await cli(g, { stdin: session }));
  const out = run.stdout;
  assert.match(out, new RegExp(`^dynamomq interactive shell — table "${table}", queue "chat"`));
  assert.match(out, /^dynamomq:chat> help\ncommands:\n/m);
  assert.match(out, /^dynamomq:chat> send \{"hello": "world"\}\nsent (\S+)$/m);
  assert.match(out, /^dynamomq:chat> stats\nqueue "chat" in table ".*"\nSTATE +COUNT\nready +1$/m);
  const id = /^dynamomq:chat> receive\nid +(\S+)$/m.exec(out)?.[1];
  assert.ok(id, out);
  assert.ok(out.includes(`dynamomq:chat id ${id} (leased)> ack\nacked ${id}\n`), out);
  assert.match(out, /^dynamomq:chat> id nope\ndynamomq:chat id nope> get\n/m);
  assert.match(out, /^dynamomq:chat id nope> ack\ndynamomq:chat id nope> id\ndynamomq:chat> ls\n/m);
  assert.match(out, /^dynamomq:chat> QUIT\nbye\n$/m);
  assert.equal(out.match(/^STATE/gm)?.length, 1, "nothing runs after quit");
  assert.deepEqual(run.stderr.trimEnd().split("\n"), [
    'error: unknown message id "nope" in queue "chat"',
    'error: unknown command "frobnicate" (type help for the list)',
    "error: no lease for nope in this shell: receive it here, or select it with id nope <lease>",
  ]);

  // A message received by another process: `id <id> <lease>` selects it with that lease.
  await seed(table, "chat", [{ body: "elsewhere", id: "e1" }]);
  const received = json(await cli(["receive", ...g, "--json"]));
  const lease = (received.messages as Array<{ lease: string }>)[0]!.lease;
  const second = ok(
    await cli([...g, "--json"], { stdin: `id e1 ${lease}\nrelease\nstats\n` }),
  );
  assert.ok(second.stdout.includes(`dynamomq:chat id e1 (leased)> release\n{`), second.stdout);
  // Ended by the end of input, not quit; --json applies to each command.
  assert.match(second.stdout, /"released": true/);
  assert.match(second.stdout, /"ready": 1,/);
  assert.match(second.stdout, /\nbye\n$/);
  assert.equal(second.stderr, "");

  // JSON as a user types it: with spaces and braces, after --data, in single quotes; a typo.
  const typed = [
    'send --data {"note": "two words", "n": [1, 2]}',
    `send '{"quoted": "yes, with spaces"}'`,
    'send --data {"late": 1} --delay 5m',
    'send {"open": 1',
    "stast",
  ];
  const third = ok(
    await cli(["--table", table, "--queue", "typed"], { stdin: typed.join("\n") + "\n" }),
  );
  for (const line of typed.slice(0, 2)) {
    const echoed = new RegExp(`^dynamomq:typed> ${RegExp.escape(line)}\nsent \\S+$`, "m");
    assert.ok(echoed.test(third.stdout), third.stdout);
  }
  assert.match(
    third.stdout,
    /^dynamomq:typed> send --data \{"late": 1\} --delay 5m\nsent \S+ \(receivable in /m,
  );
  assert.deepEqual(third.stderr.trimEnd().split("\n"), [
    `error: unbalanced JSON: 1 "}" missing; e.g. send {"id": 1} or send --data '{"note": "two words"}'`,
    'error: unknown command "stast". Did you mean "stats"? (type help for the list)',
  ]);
  const bodies = (await Effect.runPromise(
    Effect.flatMap(
      Queue.make({ table, name: "typed", schema: Schema.Unknown }),
      (q) => Effect.all([q.list({ state: "ready" }), q.list({ state: "delayed" })]),
    ).pipe(Effect.provide(live)),
  )).flatMap((page) => page.messages.map((m) => Either.getOrThrow(m.body)));
  assert.deepEqual(bodies, [
    { note: "two words", n: [1, 2] },
    { quoted: "yes, with spaces" },
    { late: 1 },
  ]);
});

Deno.test("dynamomq CLI as subprocesses", async (t) => {
  // Concurrent steps are allowed when their sanitizers are off; each waits for its processes.
  const results = await Promise.all(
    scenarios.map(([name, fn]) =>
      t.step({ name, fn, sanitizeOps: false, sanitizeResources: false, sanitizeExit: false })
    ),
  );
  assert.ok(results.every((passed) => passed), "a scenario failed (see its step)");
});

Deno.test("format: durations, relative times, tables and JSON positions", () => {
  assert.deepEqual(
    ["500ms", "30s", "5m", "1h30m", "2d", "1.5", "10 seconds"].map((d) =>
      Either.getOrThrow(parseDuration(d))
    ),
    [500, 30_000, 300_000, 5_400_000, 172_800_000, 1500, 10_000],
  );
  assert.ok(Either.isLeft(parseDuration("5 fortnights")));
  assert.equal(Either.getOrThrow(parseTime("1h", 10_000_000)), 10_000_000 - 3_600_000);
  assert.equal(Either.getOrThrow(parseTime("2026-01-01T00:00:00Z", 0)), 1_767_225_600_000);
  assert.deepEqual([350, 12_000, 185_000, 7_980_000, 97_200_000].map(duration), [
    "350ms",
    "12s",
    "3m 05s",
    "2h 13m",
    "1d 3h",
  ]);
  assert.deepEqual([
    relative(0, 500),
    relative(1000, 500),
    relative(0, 90_000),
    relative(30_000, 0),
  ], [
    "just now",
    "in <1s",
    "1m 30s ago",
    "in 30s",
  ]);
  assert.equal(
    table(["ID", "N", "BODY"], [["a", "7", "x"], ["long-id", "12", "y"]], ["left", "right"]),
    "ID        N  BODY\na         7  x\nlong-id  12  y",
  );
  const problem = (text: string) => {
    const r = parseJson(text);
    assert.ok(Either.isLeft(r), text);
    return [r.left.line, r.left.column, r.left.reason];
  };
  assert.deepEqual(problem('{"a":'), [1, 6, "unexpected end of input"]);
  assert.deepEqual(problem("{a:1}"), [1, 2, "expected a property name in quotes"]);
  assert.deepEqual(problem('{"a":1}x'), [1, 8, 'unexpected "x" after the JSON value']);
  assert.deepEqual(problem("[1,\n 2,,]"), [2, 4, 'unexpected ","']);
  assert.deepEqual(problem('{"a": tru}'), [1, 10, 'unexpected "}"']);
  assert.deepEqual(problem('"abc'), [1, 5, "unterminated string"]);
  assert.deepEqual(Either.getOrThrow(parseJson('{"a":[1,true,null]}')), { a: [1, true, null] });
});

Deno.test("shell words and suggestions", () => {
  const words = (line: string) => Either.getOrThrow(shellWords(line));
  assert.deepEqual(words('send --data {"a": "b c", "d": [1, {"e": "}"}]} --delay 5m'), [
    "send",
    "--data",
    '{"a": "b c", "d": [1, {"e": "}"}]}',
    "--delay",
    "5m",
  ]);
  assert.deepEqual(words(`send '{"a": 1}'  "two words"  x'y z'`), [
    "send",
    '{"a": 1}',
    '"two words"',
    "xy z",
  ]);
  assert.deepEqual(words("   "), []);
  assert.deepEqual(
    ['send {"a": 1', 'send \'{"a": 1}', 'send "abc'].map((l) => Either.isLeft(shellWords(l))),
    [true, true, true],
  );
  const names = ["stats", "send", "receive", "ls", "peek", "purge", "dlq"];
  assert.deepEqual(
    ["stast", "recieve", "sned", "lss", "pek", "dql", "frobnicate", "x"].map((w) =>
      suggest(w, names)
    ),
    ["stats", "receive", "send", "ls", "peek", "dlq", undefined, undefined],
  );
});

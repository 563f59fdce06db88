/**
 * The "client CPU" section of `deno task bench` (issue #16): the library against a raw AWS SDK
 * loop on DynamoDB Local (`clientCpu.ts`, interleaved rounds in one process), the memory-layer
 * figures (`cpu.ts`, each scenario in a fresh process), the peak RSS of a consumer process over
 * 100,000 messages on the memory layer and on DynamoDB Local (`consumerRss.ts`, a fresh process
 * each) and a flame summary (the top 10 self-time functions of a `--cpu-prof` run of the memory
 * layer's steady state).
 *
 * `deno run -A bench/cpuSection.ts [--quick]` measures only this section and prints it.
 *
 * @module
 */
import { clientCpuRounds, type CpuRound } from "./clientCpu.ts";
import type { RssFigure } from "./consumerRss.ts";
import { type CpuFigure, STEADY_WARM_UP } from "./cpu.ts";
import type { StepCount } from "./steps.ts";
import { type Server, start } from "./servers.ts";

/** What the section measured. */
export interface CpuSectionResults {
  readonly rounds: ReadonlyArray<CpuRound>;
  readonly memory: ReadonlyArray<CpuFigure>;
  readonly rss: ReadonlyArray<RssFigure>;
  /** Effect run-loop steps per message on the memory layer (`steps.ts`). */
  readonly steps: { readonly send: StepCount; readonly consume: StepCount };
  /** Each contender's client CPU by owner (a profiled run of it alone), µs per message. */
  readonly owners: {
    readonly library: Readonly<Record<string, number>>;
    readonly raw: Readonly<Record<string, number>>;
  };
  readonly flame: ReadonlyArray<{ readonly percent: number; readonly name: string }>;
  readonly load: ReadonlyArray<number>;
}

/** Runs a bench script in a fresh process; its last stdout line is its JSON figure. */
const runFresh = async <A>(
  script: string,
  args: ReadonlyArray<string>,
  flags: ReadonlyArray<string> = [],
): Promise<A> => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, new URL(script, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  return JSON.parse(text) as A;
};

const runCpu = (args: ReadonlyArray<string>, flags: ReadonlyArray<string> = []) =>
  runFresh<CpuFigure>("./cpu.ts", args, flags);

/** The top self-time functions of a V8 `.cpuprofile`. */
export const flameSummary = (
  profile: {
    readonly nodes: ReadonlyArray<
      {
        readonly id: number;
        readonly callFrame: {
          readonly functionName: string;
          readonly url: string;
          readonly lineNumber: number;
        };
      }
    >;
    readonly samples: ReadonlyArray<number>;
    readonly timeDeltas: ReadonlyArray<number>;
  },
  top: number,
): Array<{ percent: number; name: string }> => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") return;
    const file = url.split("/").pop() ?? "";
    const name = `${functionName || "(anonymous)"}${
      file === "" ? "" : ` ${file}:${lineNumber + 1}`
    }`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => ({ name, percent: (100 * t) / total }));
};

type Profile = Parameters<typeof flameSummary>[0];

const REPOSITORY = new URL("..", import.meta.url).href;

/** Who runs a profiled function, by where its code lives. */
const ownerOf = (functionName: string, url: string): string | undefined => {
  if (functionName === "(idle)") return undefined;
  if (functionName === "(garbage collector)") return "garbage collector";
  if (url.includes("/effect/")) return "Effect";
  if (url.includes("/@aws-sdk/") || url.includes("/@smithy/")) return "AWS SDK";
  if (url.startsWith(`${REPOSITORY}src/`)) return "library (src/)";
  if (url.startsWith(`${REPOSITORY}bench/`)) return "benchmark loop";
  return "runtime (Deno, its Node APIs, I/O, other npm)";
};

/** A profile's CPU time by owner, in microseconds. */
const profileByOwner = (profile: Profile): Map<string, number> => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const owners = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const owner = frame === undefined ? undefined : ownerOf(frame.functionName, frame.url);
    if (owner !== undefined) {
      owners.set(owner, (owners.get(owner) ?? 0) + (profile.timeDeltas[i] ?? 0));
    }
  });
  return owners;
};

/** One contender of `clientCpu.ts` alone, profiled, in a fresh process: µs per message by owner. */
const profiledContender = async (
  server: Server,
  contender: CpuRound["contender"],
  rounds: number,
  messages: number,
): Promise<Record<string, number>> => {
  const dir = await Deno.makeTempDir();
  try {
    await runFresh<CpuRound>(
      "./clientCpu.ts",
      [`${rounds}`, `${messages}`, contender, server.endpoint, `${server.pid}`],
      ["--cpu-prof", `--cpu-prof-dir=${dir}`],
    );
    const [file] = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
    if (file === undefined) return {};
    const owners = profileByOwner(JSON.parse(Deno.readTextFileSync(`${dir}/${file.name}`)));
    // The warm-up round counts too: the profile covers the whole process.
    const handled = messages * (rounds + 1);
    return Object.fromEntries([...owners].map(([owner, t]) => [owner, t / handled]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
};

/** Measures the section. */
export const measureCpuSection = async (quick: boolean): Promise<CpuSectionResults> => {
  const load = Deno.loadavg();
  const n = quick ? 300 : 3000;
  const memory: Array<CpuFigure> = [];
  for (const scenario of ["send", "sendBatch", "steady"]) {
    memory.push(await runCpu([scenario, `${n}`]));
  }
  memory.push(await runCpu(["backlog", quick ? "1000" : "10000"]));
  const dir = await Deno.makeTempDir();
  await runCpu(["steady", `${n}`], ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const [file] = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
  const flame = file === undefined
    ? []
    : flameSummary(JSON.parse(Deno.readTextFileSync(`${dir}/${file.name}`)), 10);
  await Deno.remove(dir, { recursive: true });
  const steps = await runFresh<CpuSectionResults["steps"]>("./steps.ts", [quick ? "300" : "2000"]);
  const rssMessages = quick ? "2000" : "100000";
  const rss = [await runFresh<RssFigure>("./consumerRss.ts", ["memory", rssMessages])];
  const server = await start("dynamodb-local");
  try {
    rss.push(await runFresh<RssFigure>("./consumerRss.ts", [server.endpoint, rssMessages]));
    const rounds = await clientCpuRounds(server, quick ? 1 : 4, quick ? 200 : 1000);
    const owners = {
      library: await profiledContender(server, "library", quick ? 1 : 2, quick ? 200 : 1000),
      raw: await profiledContender(server, "raw SDK", quick ? 1 : 2, quick ? 200 : 1000),
    };
    return { rounds, owners, memory, steps, rss, flame, load: [...load, ...Deno.loadavg()] };
  } finally {
    await server.stop();
  }
};

const median = (values: ReadonlyArray<number>): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const us = (x: number) => Math.round(x).toLocaleString("en-US");

const ownerRows = (owners: CpuSectionResults["owners"]): Array<string> => {
  const names = [...new Set([...Object.keys(owners.library), ...Object.keys(owners.raw)])];
  const total = (r: Readonly<Record<string, number>>) =>
    Object.values(r).reduce((a, b) => a + b, 0);
  return [
    ...names
      .sort((a, b) =>
        (owners.library[b] ?? 0) - (owners.raw[b] ?? 0) -
        ((owners.library[a] ?? 0) - (owners.raw[a] ?? 0))
      )
      .map((name) => [name, owners.library[name] ?? 0, owners.raw[name] ?? 0] as const),
    ["total", total(owners.library), total(owners.raw)] as const,
  ].map(([name, lib, raw]) => `| ${name} | ${us(lib)} | ${us(raw)} | ${us(lib - raw)} |`);
};

/** The section as Markdown. */
export const cpuMarkdown = (r: CpuSectionResults): string => {
  const lib = r.rounds.filter((x) => x.contender === "library");
  const raw = r.rounds.filter((x) => x.contender === "raw SDK");
  const ratios = lib.map((l, i) => l.clientMicros / (raw[i]?.clientMicros ?? NaN));
  const fig = (s: string) => r.memory.find((m) => m.scenario === s);
  const lines = [
    "## Client CPU per message",
    "",
    "CPU time from the processes' own counters (client: `process.cpuUsage()`, user + system; " +
    "server: `/proc/<pid>/stat`), never wall-clock. " +
    `Load average before (1, 5, 15 min) ${
      r.load.slice(0, 3).map((x) => x.toFixed(2)).join(", ")
    }, after ${
      r.load.slice(3).map((x) => x.toFixed(2)).join(", ")
    } on ${navigator.hardwareConcurrency} CPUs.`,
    "",
    "### Library against a raw AWS SDK v3 loop (DynamoDB Local)",
    "",
    "Library: `send` ×32 in flight and `Consumer.run` at concurrency 32, a no-op handler, a 1 KB " +
    "payload decoded by a Schema, through `DynamoDBLive.layer`. Raw: 32 async workers making the " +
    "same requests with `DynamoDBDocumentClient` (conditional PutItem, claim UpdateItem with " +
    "ALL_NEW, a fenced UpdateItem to the ack's tombstone, one index Query per 32 messages, the " +
    "payload JSON-parsed). " +
    "Rounds alternate library, raw, library, raw … in one process, after a warm-up round of each; " +
    "each contender keeps one client (the library one live layer) for all its rounds.",
    "",
    "| round | library client µs/msg | raw client µs/msg | ratio | library server µs/msg | raw server µs/msg |",
    "| ----- | --------------------- | ----------------- | ----- | --------------------- | ----------------- |",
    ...lib.map((l, i) =>
      `| ${i + 1} | ${us(l.clientMicros)} | ${us(raw[i]?.clientMicros ?? NaN)} | ${
        ratios[i]!.toFixed(2)
      } | ${us(l.serverMicros)} | ${us(raw[i]?.serverMicros ?? NaN)} |`
    ),
    `| median | ${us(median(lib.map((x) => x.clientMicros)))} | ${
      us(median(raw.map((x) => x.clientMicros)))
    } | ${median(ratios).toFixed(2)} | ${us(median(lib.map((x) => x.serverMicros)))} | ${
      us(median(raw.map((x) => x.serverMicros)))
    } |`,
    "",
    "Where each contender's client CPU goes: each run alone in a fresh process under " +
    "`--cpu-prof`, its samples grouped by where the code lives, per message (the whole process " +
    "over its warm-up and measured rounds, so startup is in it; profiling adds its own cost).",
    "",
    "| owner | library µs/msg | raw µs/msg | library − raw |",
    "| ----- | -------------- | ---------- | ------------- |",
    ...ownerRows(r.owners),
    "",
    "### Memory layer",
    "",
    "| scenario | messages | client CPU µs/msg | peak RSS MB |",
    "| -------- | -------- | ----------------- | ----------- |",
    ...r.memory.map((m) =>
      `| ${m.scenario} | ${m.messages.toLocaleString("en-US")} | ${us(m.cpuPerMessage)} | ${
        m.peakRssMB.toFixed(0)
      } |`
    ),
    "",
    "- send: produce-only, `send` ×32 in flight; sendBatch: produce-only, batches of 100; steady: " +
    "send ×32 and a Consumer at 32 together, backlog held between 100 and 200, measured after " +
    `${STEADY_WARM_UP.toLocaleString("en-US")} messages of warm-up; backlog: a ` +
    "backlog consumed at concurrency 1.",
    fig("steady") !== undefined && fig("backlog") !== undefined
      ? `- backlog / steady: ${
        (fig("backlog")!.cpuPerMessage / fig("steady")!.cpuPerMessage).toFixed(2)
      }×.`
      : "",
    "",
    "Effect run-loop steps per message (`bench/steps.ts`: an op-supervising `Supervisor`, " +
    "by the span each step ran under; a count, so the machine's load does not move it):",
    "",
    "| side | steps/msg | fibers/msg | by span |",
    "| ---- | --------- | ---------- | ------- |",
    ...(["send", "consume"] as const).map((side) => {
      const c = r.steps[side];
      return `| ${side} | ${c.steps.toFixed(0)} | ${c.fibers.toFixed(2)} | ${
        Object.entries(c.bySpan).map(([span, n]) => `${span} ${n.toFixed(0)}`).join(", ")
      } |`;
    }),
    "",
    "### Peak RSS of a consumer process",
    "",
    "A `Consumer` at concurrency 32 in a fresh process, refilling its own backlog with " +
    "`sendBatch` in steps of 1,000; RSS sampled every 50 ms, the peak so far at each point.",
    "",
    `| backend | ${
      (r.rss[0]?.checkpoints ?? []).map((c) => `after ${c.handled.toLocaleString("en-US")}`)
        .join(" | ")
    } | messages/s |`,
    `| ------- | ${(r.rss[0]?.checkpoints ?? []).map(() => "---").join(" | ")} | --- |`,
    ...r.rss.map((f) =>
      `| ${f.backend} | ${f.checkpoints.map((c) => `${c.peakRssMB.toFixed(0)} MB`).join(" | ")} | ${
        us(f.messages / f.seconds)
      } |`
    ),
    "",
    "- Against DynamoDB Local the process is the consumer and its refills; the table is in the server. On the memory layer the process is also " +
    "the table, which keeps each acked message's tombstone (about 500 bytes) for five minutes " +
    "after its send plus `ttlDeletionDelay`.",
    "",
    "### Flame summary (memory layer, steady state): top 10 self time",
    "",
    "| self % | function |",
    "| ------ | -------- |",
    ...r.flame.map((f) => `| ${f.percent.toFixed(1)} | \`${f.name}\` |`),
    "",
  ];
  return lines.join("\n");
};

if (import.meta.main) {
  const results = await measureCpuSection(Deno.args.includes("--quick"));
  const json = Deno.args.indexOf("--json");
  if (json >= 0) Deno.writeTextFileSync(Deno.args[json + 1]!, JSON.stringify(results, null, 2));
  console.log(cpuMarkdown(results));
}

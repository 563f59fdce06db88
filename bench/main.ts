/**
 * `deno task bench`: starts DynamoDB Local and dynalite as separate processes, measures the raw
 * write ceiling, end-to-end throughput and latency, cost per message and partition heat, prints a
 * table, and writes `BENCHMARKS.md` and `bench/throughput.svg`.
 *
 * Flags:
 * - `--quick`: one short run of everything (< 2 minutes), for CI smoke use; writes no files unless
 *   `--out` is given.
 * - `--runs N` (default 3), `--messages N` (default 10000), `--levels 1,8,32`,
 *   `--backends dynamodb-local,dynalite`, `--ceiling-seconds S` (default 5).
 * - `--out DIR`: where BENCHMARKS.md and throughput.svg go (default: the repository root and
 *   `bench/`).
 * - `--cpu-only`: measure only the client CPU section (issue #16) and splice it into BENCHMARKS.md;
 *   `--no-cpu`: skip it.
 * - `--json FILE`: also save the results as JSON; `--render FILE`: measure nothing, re-render
 *   BENCHMARKS.md and the chart from such a file.
 */
import { Effect, Exit, Logger, LogLevel, type Scope } from "effect";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import { emptyReported, makeLive } from "./client.ts";
import {
  type BackendResults,
  consoleSummary,
  markdown,
  medianOf,
  type Results,
  svgChart,
} from "./report.ts";
import {
  ceiling,
  type CeilingResult,
  cost,
  endToEnd,
  type EndToEndResult,
  ensureTable,
  heat,
  type HeatResult,
  payloadSizes,
} from "./scenarios.ts";
import { type BackendName, type Server, start } from "./servers.ts";
import { cpuMarkdown, type CpuSectionResults, measureCpuSection } from "./cpuSection.ts";

/** Parsed command line. */
export interface Options {
  readonly quick: boolean;
  readonly runs: number;
  readonly messages: number;
  readonly levels: ReadonlyArray<number>;
  readonly backends: ReadonlyArray<BackendName>;
  readonly ceilingSeconds: number;
  /** Seconds per raw phase, and messages of one end-to-end run, to warm up before measuring. */
  readonly warmupSeconds: number;
  readonly warmupMessages: number;
  readonly costMessages: number;
  /** How long each paced (latency) run sends for. */
  readonly pacedSeconds: number;
  readonly heatMessages: number;
  readonly payloadBytes: number;
  /** Where to write BENCHMARKS.md and throughput.svg; undefined: no files. */
  readonly out: { readonly markdown: string; readonly svg: string } | undefined;
  /** Where to save the results as JSON. */
  readonly json: string | undefined;
  /** Re-render from this JSON file instead of measuring. */
  readonly render: string | undefined;
  /**
   * The client CPU section (bench/cpuSection.ts): measured with the rest ("with"), not at all
   * (`--no-cpu`), or alone (`--cpu-only`: spliced into the existing BENCHMARKS.md).
   */
  readonly cpu: "with" | "skip" | "only";
}

/** Parses the flags (see the module comment). */
export const parseOptions = (args: ReadonlyArray<string>): Options => {
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  const int = (flag: string, fallback: number): number => {
    const v = value(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: a positive integer, got ${v}`);
    return n;
  };
  const known = new Set([
    "--quick",
    "--runs",
    "--messages",
    "--levels",
    "--backends",
    "--ceiling-seconds",
    "--out",
    "--json",
    "--render",
    "--cpu-only",
    "--no-cpu",
  ]);
  for (const a of args) {
    if (a.startsWith("--") && !known.has(a)) throw new Error(`unknown flag ${a}`);
  }
  const quick = args.includes("--quick");
  const levels = (value("--levels") ?? "1,8,32").split(",").map(Number);
  if (levels.some((l) => !Number.isInteger(l) || l < 1)) throw new Error("--levels: integers ≥ 1");
  const backends = (value("--backends") ?? "dynamodb-local,dynalite").split(",");
  for (const b of backends) {
    if (b !== "dynamodb-local" && b !== "dynalite") throw new Error(`unknown backend ${b}`);
  }
  const outDir = value("--out");
  const root = new URL("../", import.meta.url).pathname;
  const out = outDir !== undefined
    ? { markdown: `${outDir}/BENCHMARKS.md`, svg: `${outDir}/throughput.svg` }
    : quick
    ? undefined
    : { markdown: `${root}BENCHMARKS.md`, svg: `${root}bench/throughput.svg` };
  const ceilingSeconds = Number(value("--ceiling-seconds") ?? (quick ? 1 : 5));
  if (!(ceilingSeconds > 0)) throw new Error("--ceiling-seconds: a positive number");
  return {
    quick,
    runs: int("--runs", quick ? 1 : 3),
    messages: int("--messages", quick ? 100 : 10_000),
    levels,
    backends: backends as ReadonlyArray<BackendName>,
    ceilingSeconds,
    // DynamoDB Local's JIT takes many seconds to reach speed on a busy machine.
    warmupSeconds: quick ? 1 : 10,
    warmupMessages: quick ? 100 : 1000,
    costMessages: quick ? 10 : 50,
    pacedSeconds: quick ? 1 : 5,
    heatMessages: quick ? 1000 : 10_000,
    payloadBytes: 256,
    out,
    json: value("--json"),
    render: value("--render"),
    cpu: args.includes("--cpu-only") ? "only" : args.includes("--no-cpu") ? "skip" : "with",
  };
};

const log = (line: string) => console.error(`[bench] ${line}`);

const loadAverage = (): ReadonlyArray<number> => {
  try {
    return Deno.loadavg();
  } catch {
    return [];
  }
};

/** Runs a scoped effect to completion, rethrowing a failure as an Error. */
const run = async <A>(effect: Effect.Effect<A, unknown, Scope.Scope>): Promise<A> => {
  // Consumers log their start and stop at Info: keep the console to the benchmark's own lines.
  const exit = await Effect.runPromiseExit(
    Effect.scoped(effect).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)),
  );
  if (Exit.isSuccess(exit)) return exit.value;
  throw new Error(String(exit.cause));
};

/** Everything measured against one server. */
const benchBackend = async (server: Server, options: Options): Promise<BackendResults> => {
  const payload = JSON.stringify("p".repeat(options.payloadBytes - 2));
  let serverPeak = 0;
  const sampleServer = () => {
    const rss = server.rssMB();
    if (rss !== undefined && rss > serverPeak) serverPeak = rss;
  };
  const serverTimer = setInterval(sampleServer, 200);
  try {
    return await run(Effect.gen(function* () {
      const db = yield* makeLive({ endpoint: server.endpoint });
      const provide = <A, E>(e: Effect.Effect<A, E, DynamoDB>) =>
        Effect.provideService(e, DynamoDB, db);
      yield* provide(ensureTable);

      // Warm up (the JVM's JIT, the sockets, dynalite's store) before anything is measured.
      log(`${server.name}: warming up`);
      yield* provide(ceiling({ concurrency: 8, seconds: options.warmupSeconds, payload }));
      yield* provide(
        endToEnd({ mode: "single", concurrency: 8, messages: options.warmupMessages, payload }),
      );

      const ceilings = new Map<number, Array<CeilingResult>>();
      const e2e = new Map<string, Array<EndToEndResult>>();
      for (let r = 0; r < options.runs; r++) {
        for (const c of options.levels) {
          const raw = yield* provide(
            ceiling({ concurrency: c, seconds: options.ceilingSeconds, payload }),
          );
          ceilings.set(c, [...(ceilings.get(c) ?? []), raw]);
          log(
            `${server.name} run ${r + 1}/${options.runs} c=${c}: raw put ${
              raw.put.toFixed(0)
            }/s update ${raw.update.toFixed(0)}/s delete ${
              raw.delete.toFixed(0)
            }/s → queue ceiling ${raw.queueCeiling.toFixed(0)}/s`,
          );
          for (const mode of ["single", "batch"] as const) {
            const saturated = yield* provide(
              endToEnd({ mode, concurrency: c, messages: options.messages, payload }),
            );
            // The saturated run's latency is the backlog's; a paced run at half its throughput
            // shows the queue's own delay from send to handler.
            const pacedRate = saturated.throughput / 2;
            const paced = mode === "batch" ? undefined : yield* provide(
              endToEnd({
                mode,
                concurrency: c,
                messages: Math.max(20, Math.round(pacedRate * options.pacedSeconds)),
                payload,
                rate: pacedRate,
              }),
            );
            const ratio = saturated.throughput / raw.queueCeiling;
            const result: EndToEndResult = paced === undefined ? { ...saturated, ratio } : {
              ...saturated,
              ratio,
              pacedRate,
              pacedP50: paced.p50,
              pacedP99: paced.p99,
            };
            const key = `${mode}:${c}`;
            e2e.set(key, [...(e2e.get(key) ?? []), result]);
            log(
              `${server.name} run ${r + 1}/${options.runs} c=${c} ${mode}: ${
                paced === undefined
                  ? ""
                  : `paced at ${pacedRate.toFixed(0)}/s: p50 ${paced.p50.toFixed(0)} ms, p99 ${
                    paced.p99.toFixed(0)
                  } ms; `
              }${result.throughput.toFixed(0)} msg/s (${
                (result.throughput / raw.queueCeiling * 100).toFixed(0)
              } % of ceiling), p50 ${result.p50.toFixed(0)} ms, p99 ${
                result.p99.toFixed(0)
              } ms, RSS ${result.rssMB.toFixed(0)} MB, ${
                result.requestsPerMessage.toFixed(2)
              } req/msg`,
            );
          }
        }
      }

      // Cost: deterministic, one run. DynamoDB Local also reports ConsumedCapacity to check the
      // computed units; a separate client asks for it so the throughput runs never did.
      const reported = server.name === "dynamodb-local" ? emptyReported() : undefined;
      const meteredDb = reported === undefined
        ? db
        : yield* makeLive({ endpoint: server.endpoint, reported });
      const sizes = yield* payloadSizes;
      const costs: Array<BackendResults["cost"][number]> = [];
      for (const size of sizes) {
        const rows = yield* Effect.provideService(
          cost({
            n: options.costMessages,
            payload: size.payload,
            transactions: server.name === "dynamodb-local",
            reported,
          }),
          DynamoDB,
          meteredDb,
        );
        costs.push({ size, rows });
        log(`${server.name}: cost measured for ${size.label}`);
      }

      return {
        name: server.name,
        ceiling: options.levels.map((c) => medianOf(ceilings.get(c)!)),
        endToEnd: (["single", "batch"] as const).flatMap((mode) =>
          options.levels.map((c) => {
            const runs = e2e.get(`${mode}:${c}`)!;
            return { ...medianOf(runs), ratios: runs.map((r) => r.ratio ?? NaN) };
          })
        ),
        serverRssMB: serverPeak > 0 ? serverPeak : undefined,
        cost: costs,
      };
    }));
  } finally {
    clearInterval(serverTimer);
  }
};

/** Servers started and not yet stopped: an interrupted run stops them on its way out. */
const running = new Set<Server>();

/** Runs the whole benchmark and returns the results (files are written by `main`). */
export const bench = async (options: Options): Promise<Results> => {
  const started = performance.now();
  const loadBefore = loadAverage();
  const backends: Array<BackendResults> = [];
  for (const name of options.backends) {
    log(`starting ${name}`);
    const server = await start(name);
    running.add(server);
    try {
      log(`${name} ready at ${server.endpoint} (pid ${server.pid})`);
      backends.push(await benchBackend(server, options));
    } finally {
      running.delete(server);
      await server.stop();
    }
  }
  const heats: Array<HeatResult> = [];
  for (const shards of [1, 4, 16]) {
    heats.push(await run(heat({ shards, messages: options.heatMessages })));
    log(`heat measured for ${shards} shard(s)`);
  }
  let cpu: CpuSectionResults | undefined;
  if (options.cpu === "with") {
    log("client CPU section");
    cpu = await measureCpuSection(options.quick);
  }
  return {
    ...(cpu === undefined ? {} : { cpu }),
    date: new Date().toISOString(),
    quick: options.quick,
    runs: options.runs,
    messages: options.messages,
    levels: options.levels,
    machine: {
      cpus: navigator.hardwareConcurrency,
      loadBefore,
      loadAfter: loadAverage(),
      deno: Deno.version.deno,
      seconds: (performance.now() - started) / 1000,
    },
    backends,
    heat: heats,
  };
};

/** Replaces (or appends) the client CPU section of a BENCHMARKS.md. */
const spliceCpuSection = (document: string, section: string): string => {
  const at = document.indexOf("## Client CPU per message");
  if (at < 0) return `${document.trimEnd()}\n\n${section}`;
  const next = document.indexOf("\n## ", at + 1);
  return document.slice(0, at) + section + (next < 0 ? "" : document.slice(next + 1));
};

const main = async () => {
  const options = parseOptions(Deno.args);
  if (options.cpu === "only") {
    const section = cpuMarkdown(await measureCpuSection(options.quick));
    console.log(section);
    if (options.out !== undefined) {
      const current = await Deno.readTextFile(options.out.markdown).catch(() => "# Benchmarks\n");
      await Deno.writeTextFile(options.out.markdown, spliceCpuSection(current, section));
      await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", options.out.markdown],
        stdout: "null",
        stderr: "inherit",
      }).output();
      log(`wrote the client CPU section of ${options.out.markdown}`);
    }
    return;
  }
  const results: Results = options.render !== undefined
    ? JSON.parse(await Deno.readTextFile(options.render))
    : await bench(options);
  if (options.json !== undefined) {
    await Deno.writeTextFile(options.json, JSON.stringify(results, null, 2) + "\n");
  }
  console.log(consoleSummary(results));
  if (options.out !== undefined) {
    const busy = Math.min(
      ...results.machine.loadBefore.slice(0, 1),
      ...results.machine.loadAfter.slice(0, 1),
    );
    const loadWarning = busy >= 2
      ? `the 1-minute load average never dropped below 2 on this ${results.machine.cpus}-CPU machine (other agents were working on it): the absolute numbers are depressed and noisier than on an idle machine; the ratios and the cost figures are not affected.`
      : undefined;
    for (const file of [options.out.markdown, options.out.svg]) {
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")) || ".", { recursive: true });
    }
    const cpu = (results as Results & { cpu?: CpuSectionResults }).cpu;
    await Deno.writeTextFile(
      options.out.markdown,
      markdown(results, { loadWarning }) + (cpu === undefined ? "" : `\n${cpuMarkdown(cpu)}`),
    );
    await Deno.writeTextFile(options.out.svg, svgChart(results));
    // The repository's `deno fmt --check` covers Markdown and SVG: write them formatted.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", options.out.markdown, options.out.svg],
      stdout: "null",
      stderr: "inherit",
    }).output();
    log(`wrote ${options.out.markdown} and ${options.out.svg}`);
  }
};

if (import.meta.main) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      log(`${signal}: stopping the servers`);
      Promise.allSettled([...running].map((s) => s.stop())).finally(() => Deno.exit(130));
    });
  }
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    Deno.exit(1);
  }
}

/**
 * `deno task simulate`: the deterministic simulation of issue #14 (tests/simulation/).
 *
 *   deno task simulate                    200 seeds from 1, a summary per invariant
 *   deno task simulate --seeds 20000      more seeds (progress every 500, seeds/second)
 *   deno task simulate --from 5001 --seeds 5000   seeds 5001…10000: one shard of a long run;
 *                                         run shards in separate processes, each prints its
 *                                         seeds/s, its failing seeds and its total time
 *   deno task simulate --jobs 2           run the seeds in 2 workers at once
 *   deno task simulate --timeout 300      a seed with no answer after 300 s of wall time is
 *                                         reported as hung (default 120) and the run goes on
 *   deno task simulate --every 100        progress every 100 seeds
 *   deno task simulate --budget 5000      scheduling points a seed may pass before it is taken
 *                                         for hung (default: DEFAULT_BUDGET in runner.ts)
 *   deno task simulate --seed 42          one seed: its trace up to the first violation, shrunk
 *   deno task simulate --seed 42 --full   … and the whole trace
 *   deno task simulate --seed 42 --focus message-lost   shrink and show that invariant's trace
 *   deno task simulate --strict           known defects (issue #14) fail the run too
 *   deno task simulate --set faultRate=0  pin a config field for every seed
 *
 * Every seed of a range runs in a worker (scripts/_simulateWorker.ts) under a wall-time watch, and
 * within a run the scheduler allows a budget of scheduling points (tests/simulation/runner.ts): a
 * seed that hangs either way is reported by number as a `hang` failure, and the run goes on.
 *
 * Exit code 1 when any seed fails (unknown violations, or any violation with --strict).
 */
import { configFor, type SimConfig } from "../tests/simulation/config.ts";
import {
  type InvariantName,
  isFailure,
  knownDefects,
  type Violation,
} from "../tests/simulation/invariants.ts";
import { type RunOptions, runSeed, shrink } from "../tests/simulation/runner.ts";
import type { SeedReport, SeedRequest } from "./_simulateWorker.ts";

const args = [...Deno.args];
const flag = (name: string): boolean => {
  const i = args.indexOf(name);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
};
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) return undefined;
  const v = args[i + 1]!;
  args.splice(i, 2);
  return v;
};

const strict = flag("--strict");
const full = flag("--full");
const noShrink = flag("--no-shrink");
const overrides: Partial<Record<keyof SimConfig, number | boolean>> = {};
for (let v = value("--set"); v !== undefined; v = value("--set")) {
  const [key, raw] = v.split("=");
  if (key === undefined || raw === undefined || !(key in configFor(1))) {
    console.error(
      `--set ${v}: expected <config field>=<value>; fields: ${
        Object.keys(configFor(1)).join(", ")
      }`,
    );
    Deno.exit(2);
  }
  overrides[key as keyof SimConfig] = raw === "true" ? true : raw === "false" ? false : Number(raw);
}
const budgetArg = value("--budget");
const budget = budgetArg === undefined ? undefined : Number(budgetArg);
if (budget !== undefined && !(budget > 0)) {
  console.error(`--budget ${budgetArg}: expected a number of scheduling points above 0`);
  Deno.exit(2);
}
const options: RunOptions = { strict, overrides, budget };
const one = value("--seed");
/** The flags a replay of one seed needs to run it as this run did. */
const replayFlags = [
  strict ? " --strict" : "",
  ...Object.entries(overrides).map(([k, v]) => ` --set ${k}=${v}`),
  budget === undefined ? "" : ` --budget ${budget}`,
].join("");
const focus = value("--focus") as InvariantName | undefined;

const describe = (v: Violation): string =>
  `${v.invariant}${
    v.defect === undefined ? "" : ` [known defect ${v.defect}]`
  } at step ${v.step}: ${v.detail}`;

if (one !== undefined) {
  const seed = Number(one);
  const started = performance.now();
  const result = await runSeed(seed, options);
  const ms = performance.now() - started;
  console.log(`seed ${seed}: ${JSON.stringify(result.config)}`);
  console.log(
    `${result.operations} operations, ${result.faults} faults, ${result.crashes} crashes, ${result.work} scheduling points, ${
      ms.toFixed(0)
    } ms`,
  );
  if (result.violations.length === 0) {
    console.log("no violation");
    if (full) console.log(result.trace.text());
    Deno.exit(0);
  }
  for (const v of result.violations) {
    console.log(`  ${isFailure(v, strict) ? "FAIL" : "known"} ${describe(v)}`);
  }
  const first = result.violations.find((v) => focus !== undefined && v.invariant === focus) ??
    result.violations.find((v) => isFailure(v, strict)) ?? result.violations[0]!;
  const shown = noShrink
    ? result
    : await shrink(result, { ...options, strict: true }, 60, first.invariant);
  const kept = shown.violations.find((v) => v.invariant === first.invariant) ?? first;
  if (shown !== result) {
    console.log(
      `\nshrunk: ${shown.faults} faults drawn, trace below leaves out those marked suppressed`,
    );
  }
  console.log(`\ntrace up to ${describe(kept)}\n`);
  console.log(full ? shown.trace.text() : shown.trace.upTo(kept.step));
  Deno.exit(result.failed ? 1 : 0);
}

const count = Number(value("--seeds") ?? "200");
const from = Number(value("--from") ?? "1");
const jobs = Number(value("--jobs") ?? "1");
const timeoutSeconds = Number(value("--timeout") ?? "120");
const every = Number(value("--every") ?? "500");
if (args.length > 0) {
  console.error(`unknown arguments: ${args.join(" ")}`);
  Deno.exit(2);
}
for (
  const [name, v] of [["--seeds", count], ["--from", from], ["--jobs", jobs], [
    "--every",
    every,
  ]] as const
) {
  if (!Number.isSafeInteger(v) || v < (name === "--from" ? 0 : 1)) {
    console.error(`${name} ${v}: expected a whole number${name === "--from" ? "" : " above 0"}`);
    Deno.exit(2);
  }
}
if (!(timeoutSeconds > 0)) {
  console.error(`--timeout ${timeoutSeconds}: expected seconds above 0`);
  Deno.exit(2);
}

const last = from + count - 1;
console.log(
  `seeds ${from}…${last} (${count}), ${jobs} worker${
    jobs === 1 ? "" : "s"
  }, a seed taken for hung after ${timeoutSeconds} s${strict ? ", strict" : ""}${
    Object.keys(overrides).length > 0 ? `, ${JSON.stringify(overrides)}` : ""
  }`,
);
const started = performance.now();
const byInvariant = new Map<string, Array<number>>();
const failing: Array<number> = [];
const hung: Array<number> = [];
let operations = 0;
let done = 0;
let slowest = { seed: 0, millis: 0 };

const record = (report: SeedReport) => {
  operations += report.operations;
  if (report.millis > slowest.millis) slowest = { seed: report.seed, millis: report.millis };
  for (const v of report.violations) {
    const key = `${v.invariant}${v.defect === undefined ? "" : ` [known defect ${v.defect}]`}`;
    const seeds = byInvariant.get(key) ?? [];
    if (!seeds.includes(report.seed)) seeds.push(report.seed);
    byInvariant.set(key, seeds);
    if (v.invariant === "hang" && !hung.includes(report.seed)) hung.push(report.seed);
  }
  if (report.failed) {
    failing.push(report.seed);
    const v = report.violations.find((x) => isFailure(x, strict))!;
    console.log(
      `seed ${report.seed} FAILS: ${
        describe(v)
      }  (replay: deno task simulate --seed ${report.seed}${replayFlags})`,
    );
  }
  done++;
  if (done % every === 0 || done === count) {
    const s = (performance.now() - started) / 1000;
    console.log(
      `${done}/${count} seeds, ${failing.length} failing, ${s.toFixed(1)} s (${
        (done / s).toFixed(2)
      } seeds/s)`,
    );
  }
};

/**
 * One worker: runs the seeds it takes from `next`, one at a time. A seed that does not answer
 * within the timeout (a loop that never yields, so the run's own guards cannot fire) is
 * reported as hung, the worker is terminated, and a fresh one goes on with the next seed.
 */
let nextSeed = from;
const runWorker = async (): Promise<void> => {
  let worker: Worker | undefined;
  const fresh = () =>
    new Worker(new URL("./_simulateWorker.ts", import.meta.url).href, { type: "module" });
  while (nextSeed <= last) {
    const seed = nextSeed++;
    worker ??= fresh();
    const w = worker;
    const report = await new Promise<SeedReport | undefined>((resolve, reject) => {
      const timer = setTimeout(() => resolve(undefined), timeoutSeconds * 1000);
      w.onmessage = (e: MessageEvent<SeedReport>) => {
        clearTimeout(timer);
        resolve(e.data);
      };
      w.onerror = (e) => {
        clearTimeout(timer);
        e.preventDefault();
        reject(new Error(`seed ${seed}: the worker failed: ${e.message}`));
      };
      w.postMessage({ seed, options } satisfies SeedRequest);
    });
    if (report !== undefined) {
      record(report);
      continue;
    }
    w.terminate();
    worker = undefined;
    record({
      seed,
      failed: true,
      violations: [{
        invariant: "hang",
        step: 0,
        detail: `no answer within ${timeoutSeconds} s of wall time (the worker was terminated)`,
      }],
      operations: 0,
      work: 0,
      millis: timeoutSeconds * 1000,
    });
  }
  worker?.terminate();
};
await Promise.all(Array.from({ length: Math.min(jobs, count) }, runWorker));

const seconds = (performance.now() - started) / 1000;
console.log(
  `\n${count} seeds (${from}…${last}), ${operations} operations in ${seconds.toFixed(1)} s: ${
    (count / seconds).toFixed(2)
  } seeds/s (${jobs} worker${jobs === 1 ? "" : "s"}); slowest seed ${slowest.seed}, ${
    (slowest.millis / 1000).toFixed(1)
  } s`,
);
for (const [key, seeds] of [...byInvariant].sort()) {
  const id = /known defect (\w+)/.exec(key)?.[1];
  const sorted = seeds.sort((a, b) => a - b);
  console.log(
    `  ${key}: ${seeds.length} seeds, e.g. ${sorted.slice(0, 8).join(", ")}${
      id !== undefined && id in knownDefects ? ` — ${knownDefects[id]}` : ""
    }`,
  );
}
if (hung.length > 0) console.log(`hung: ${hung.sort((a, b) => a - b).join(", ")}`);
if (failing.length > 0) console.log(`failing: ${failing.sort((a, b) => a - b).join(", ")}`);
console.log(
  `${failing.length === 0 ? "PASS" : `FAIL: ${failing.length} seeds`} (seeds ${from}…${last}, ${
    seconds.toFixed(1)
  } s in all)`,
);
Deno.exit(failing.length === 0 ? 0 : 1);

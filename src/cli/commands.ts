/**
 * The command tree of the admin CLI, built with `@effect/cli`: every subcommand with its own
 * options (the global ones of `options.ts` are accepted before the command and after it), its
 * help (rendered by `help.ts`), and the root command, which starts the interactive shell.
 *
 * @module
 */
import * as Args from "@effect/cli/Args";
import * as Command from "@effect/cli/Command";
import * as HelpDoc from "@effect/cli/HelpDoc";
import * as Options from "@effect/cli/Options";
import * as Usage from "@effect/cli/Usage";
import type * as ValidationError from "@effect/cli/ValidationError";
import type * as CliApp from "@effect/cli/CliApp";
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import * as Actions from "./actions.ts";
import { parseTime } from "./format.ts";
import { CommandLineError } from "./errors.ts";
import * as Io from "./io.ts";
import { dashboard } from "./dashboard.ts";
import { type CommandDoc, commandHelp, rootHelp, scan } from "./help.ts";
import {
  cursorOption,
  doc,
  durationOption,
  env,
  execute,
  flagsOf,
  globalFlags,
  globalOptions,
  type GlobalValues,
  invalid,
  leaseOption,
  limitOption,
  messageId,
  optionalInteger,
  optionalText,
  type Reported,
  required,
  stateOption,
} from "./options.ts";
import { shell } from "./shell.ts";
import { watch } from "./watch.ts";

/**
 * The CLI's version.
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = "0.1.0";

// --- commands --------------------------------------------------------------------------------

const root = Command.make("dynamomq", globalOptions, (g) => execute([g], shell)).pipe(
  Command.withDescription(
    "Administer DynamoMQ queues. With no command: an interactive shell (type help).",
  ),
);

/** What a command's help says besides its flags. */
type Doc = Omit<CommandDoc, "name" | "flags">;

/** The help of every subcommand, in the order of the root help's lists. */
const commandDocs: Array<CommandDoc> = [];

/** A subcommand taking the global options next to its own. */
const sub = <Name extends string, const Own extends Command.Command.Config>(
  name: Name,
  help: Doc,
  own: Own,
  action: (values: Command.Command.ParseConfig<Own>) => Effect.Effect<void, unknown, Actions.Env>,
) => {
  commandDocs.push({ name, ...help, flags: flagsOf(own) });
  return Command.make(
    name,
    // The command's own options first: they lead its usage line.
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
  ).pipe(Command.withDescription(help.summary));
};

const createTable = sub(
  "create-table",
  {
    family: "Admin",
    summary: "Create the table, or check an existing one",
    description:
      "Create the table with its index and TTL, or check that an existing one has the right shape (idempotent).",
    examples: [
      "dynamomq create-table --table jobs",
      "dynamomq create-table --table jobs --endpoint-url http://127.0.0.1:8000  # DynamoDB Local",
    ],
  },
  {},
  () => Actions.createTable,
);

const send = sub(
  "send",
  {
    family: "Messages",
    summary: "Send a message (--data), or one per line of NDJSON on stdin",
    description:
      "Send one message (--data), or one per line of NDJSON on stdin; all lines are checked before any is sent.",
    examples: [
      `dynamomq send --queue orders --data '{"id": "A-101", "total": 42}'`,
      `dynamomq send --queue orders --data '{"id": "A-102"}' --delay 10m`,
      "dynamomq send --queue orders < orders.ndjson",
    ],
  },
  {
    data: optionalText(
      "data",
      "The message body as JSON (quote it for your shell). Without it, NDJSON is read from stdin.",
      "json",
    ),
    id: optionalText("id", "The message id (one message only; a generated sortable id otherwise)."),
    delay: durationOption("delay").pipe(
      Options.optional,
      doc("Deliver no earlier than this from now: 30s, 5m, 2h, 1d …", "duration"),
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
  {
    family: "Messages",
    summary: "Receive messages, each with the lease token that settles it",
    description:
      "Receive messages and print each with its lease token, for ack, nack, release and extend.",
    examples: [
      "dynamomq receive --queue orders",
      "dynamomq receive --queue orders --max 10 --json",
    ],
  },
  {
    max: Options.integer("max").pipe(
      Options.withDefault(1),
      doc("The most messages to receive, 1-100 (default 1).", "n"),
    ),
    visibility: durationOption("visibility").pipe(
      Options.optional,
      doc("How long the lease lasts (default 30s).", "duration"),
    ),
  },
  (o) => Actions.receive({ max: o.max, visibilityMillis: Option.getOrUndefined(o.visibility) }),
);

const settleCommand = <Name extends string, const Own extends Command.Command.Config>(
  name: Name,
  help: Doc,
  own: Own,
  how: (values: Command.Command.ParseConfig<Own>) => Actions.Settle,
) =>
  sub(
    name,
    help,
    { id: messageId, lease: leaseOption, own: own as Command.Command.Config },
    (o) => {
      const settle = how(o.own as Command.Command.ParseConfig<Own>);
      return Effect.flatMap(
        Actions.leased(o.id, o.lease, SETTLE_OPERATION[settle._tag]),
        (m) => Actions.settle(m, settle),
      );
    },
  );

/** The queue operation each settle command makes (the name a `LeaseLost` reports). */
const SETTLE_OPERATION: Readonly<Record<Actions.Settle["_tag"], string>> = {
  ack: "ack",
  release: "release",
  nack: "nack",
  extend: "changeVisibility",
};

const ack = settleCommand(
  "ack",
  {
    family: "Messages",
    summary: "Ack a received message: it is done",
    description: "Ack a received message: it is done and deleted (fenced by its lease).",
    examples: ["dynamomq ack --queue orders --id 01J9ZK3V8Q2W5X7Y9A1B3C5D7E --lease <token>"],
  },
  {},
  () => ({ _tag: "ack" }),
);

const release = settleCommand(
  "release",
  {
    family: "Messages",
    summary: "Release a received message; the receive is not counted",
    description: "Release a received message: receivable again now, the receive not counted.",
    examples: ["dynamomq release --queue orders --id <id> --lease <token>"],
  },
  {},
  () => ({ _tag: "release" }),
);

const nack = settleCommand(
  "nack",
  {
    family: "Messages",
    summary: "Nack a received message: receivable again after --delay",
    description:
      "Nack a received message: receivable again after --delay, the failure kept in its history.",
    examples: [
      `dynamomq nack --queue orders --id <id> --lease <token> --delay 5m --reason "card declined"`,
    ],
  },
  {
    delay: durationOption("delay").pipe(
      Options.optional,
      doc("How long until it may be received again (default: now).", "duration"),
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
  {
    family: "Messages",
    summary: "Extend the lease of a received message",
    description: "Extend the lease of a received message to --timeout from now.",
    examples: ["dynamomq extend --queue orders --id <id> --lease <token> --timeout 5m"],
  },
  {
    timeout: durationOption("timeout").pipe(
      doc("The new lease length from now, e.g. 5m.", "duration", required),
    ),
  },
  (o) => ({ _tag: "extend", timeoutMillis: o.timeout }),
);

const deleteCommand = sub(
  "delete",
  {
    family: "Admin",
    summary: "Delete a message by id, in any state",
    description: "Delete a message by id, in any state (no lease needed).",
    examples: ["dynamomq delete --queue orders --id order-7"],
  },
  { id: messageId },
  (o) => Actions.deleteMessage(o.id),
);

const moveToDlq = sub(
  "move-to-dlq",
  {
    family: "Admin",
    summary: "Move a ready or delayed message to the dead-letter queue",
    description: "Move a ready or delayed message to the dead-letter queue.",
    examples: [`dynamomq move-to-dlq --queue orders --id order-7 --reason "bad customer"`],
  },
  {
    id: messageId,
    reason: optionalText("reason", "Why (kept as the dead-letter reason)."),
  },
  (o) => Actions.moveToDlq(o.id, Option.getOrUndefined(o.reason)),
);

const redrive = sub(
  "redrive",
  {
    family: "Admin",
    summary: "Move dead-lettered messages back to ready",
    description:
      "Move dead-lettered messages back to ready, resetting their receive counts: --id for one, --all with filters.",
    examples: [
      "dynamomq redrive --queue orders --id order-7",
      "dynamomq redrive --queue orders --all --reason MaxReceivesExceeded --dead-before 1h --dry-run",
    ],
  },
  {
    id: optionalText("id", "The dead-lettered message to redrive.", "id"),
    all: Options.boolean("all").pipe(
      doc("Redrive every dead-lettered message matching the filters."),
    ),
    reason: optionalText(
      "reason",
      "With --all: only messages whose dead-letter reason has this tag (e.g. MaxReceivesExceeded).",
      "tag",
    ),
    deadBefore: optionalText(
      "dead-before",
      "With --all: only messages dead-lettered before this time (ISO date, epoch ms, or a duration ago such as 1h).",
      "time",
    ),
    dryRun: Options.boolean("dry-run").pipe(doc("Show what would be redriven; change nothing.")),
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
  {
    family: "Admin",
    summary: "Delete every message of the queue, after confirmation",
    description:
      "Delete every message of the queue (or every one in --state), after confirmation on stdin.",
    examples: ["dynamomq purge --queue junk", "dynamomq purge --queue junk --state dead --yes"],
  },
  {
    state: stateOption.pipe(
      Options.optional,
      doc("Only messages in this state: ready, delayed, inflight or dead.", "state"),
    ),
    yes: Options.boolean("yes").pipe(
      Options.withAlias("y"),
      doc("Do not ask for confirmation.", undefined, { alias: "y" }),
    ),
  },
  (o) => Actions.purge({ state: Option.getOrUndefined(o.state), yes: o.yes }),
);

const get = sub(
  "get",
  {
    family: "Inspect",
    summary: "Show one message without receiving it",
    description: "Show one message without receiving it: state, times, attempts, body.",
    examples: ["dynamomq get --queue orders --id order-7"],
  },
  { id: messageId },
  (o) => Actions.get(o.id),
);

const listOptions = {
  state: stateOption.pipe(
    Options.withDefault("ready" as const),
    doc("The state to list: ready (default), delayed, inflight or dead.", "state"),
  ),
  limit: limitOption,
  cursor: cursorOption,
};

const ls = sub(
  "ls",
  {
    family: "Inspect",
    summary: "List messages in one state, a page at a time",
    description: "List messages in one state, oldest first, a page at a time (one row each).",
    examples: [
      "dynamomq ls --queue orders",
      "dynamomq ls --queue orders --state inflight --limit 50",
    ],
  },
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
  {
    family: "Inspect",
    summary: "Like ls, with each message in full",
    description: "Like ls, but each message in full (body, attempts), without receiving it.",
    examples: ["dynamomq peek --queue orders --state delayed --limit 5"],
  },
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
  {
    family: "Inspect",
    summary: "Counts per state and the age of the oldest ready message",
    description: "Counts per state and the age of the oldest ready message.",
    examples: ["dynamomq stats --queue orders", "dynamomq stats --queue orders --json"],
  },
  {},
  () => Actions.stats,
);

const dlq = sub(
  "dlq",
  {
    family: "Inspect",
    summary: "The dead-letter queue and why each message is there",
    description: "The dead-letter queue: how many, and a page of them with their reasons.",
    examples: ["dynamomq dlq --queue orders"],
  },
  { limit: limitOption, cursor: cursorOption },
  (o) => Actions.dlq({ limit: o.limit, cursor: Option.getOrUndefined(o.cursor) }),
);

const watchCommand = sub(
  "watch",
  {
    family: "Inspect",
    summary: "A live view of counts, rates and the oldest ready message",
    description:
      "A live view: counts per state, their rates, the oldest ready message; refreshed in place until Ctrl-C.",
    examples: ["dynamomq watch --queue orders", "dynamomq watch --queue orders --once --json"],
  },
  {
    interval: durationOption("interval").pipe(
      Options.withDefault(2000),
      doc("Time between refreshes (default 2s).", "duration"),
    ),
    iterations: optionalInteger("iterations", "Stop after this many refreshes."),
    once: Options.boolean("once").pipe(doc("Show one frame and stop.")),
  },
  (o) =>
    watch({
      intervalMillis: o.interval,
      iterations: o.once ? 1 : Option.getOrUndefined(o.iterations),
    }),
);

const iamPolicy = sub(
  "iam-policy",
  {
    family: "Admin",
    summary: "Print a least-privilege IAM policy for the table",
    description: "Print a least-privilege IAM policy (JSON) for the table.",
    examples: ["dynamomq iam-policy --table jobs --account 123456789012 --region eu-west-1"],
  },
  {
    account: optionalText("account", "The AWS account id (default *)."),
    partition: optionalText("partition", "The AWS partition (default aws)."),
    admin: Options.boolean("admin").pipe(
      doc("Also allow creating the table (what create-table needs)."),
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
  {
    family: "Admin",
    summary: "Serve the web dashboard of the table",
    description:
      "Serve the web dashboard of the table: counts, messages, the dead-letter queue (redrive, purge).",
    examples: ["dynamomq dashboard --table jobs", "dynamomq dashboard --port 0 --read-only"],
  },
  {
    host: Options.text("host").pipe(
      Options.withPseudoName("address"),
      Options.withDefault("127.0.0.1"),
      doc("The address to listen on (default 127.0.0.1: loopback only).", "address"),
    ),
    port: Options.integer("port").pipe(
      Options.withDefault(8090),
      doc("The port (default 8090); 0 picks a free one.", "n"),
    ),
    readOnly: Options.boolean("read-only").pipe(
      doc("Refuse every change (redrive, purge, delete)."),
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

const queueCommand = sub(
  "queue",
  {
    family: "Admin",
    summary: "Create, describe, update, delete or list queue definitions",
    description:
      "A queue's shape and settings are stored in the table: create defines it (--shards, --priorities, --max-receives, --visibility-timeout, --dedup-window), describe shows it, update changes the live settings as a new version (shards and priorities cannot change), delete removes an empty queue (--force: and its messages), list shows every queue of the table.",
    examples: [
      "dynamomq queue create --queue orders --shards 4 --max-receives 20",
      "dynamomq queue describe --queue orders",
      "dynamomq queue update --queue orders --visibility-timeout 2m --max-receives 10",
      "dynamomq queue delete --queue junk --force",
      "dynamomq queue list",
    ],
  },
  {
    action: Args.choice(
      [
        ["create", "create"],
        ["describe", "describe"],
        ["update", "update"],
        ["delete", "delete"],
        ["list", "list"],
      ] as const,
    ).pipe(Args.withDescription("create, describe, update, delete or list")),
    visibilityTimeout: durationOption("visibility-timeout").pipe(
      Options.optional,
      doc("create/update: the default visibility timeout, e.g. 30s, 2m.", "duration"),
    ),
    dedupWindow: durationOption("dedup-window").pipe(
      Options.optional,
      doc("create/update: the deduplication window, e.g. 5m, 1d.", "duration"),
    ),
    expectedVersion: optionalInteger(
      "expected-version",
      "update: apply only to this version of the definition (else a conflict).",
    ),
    force: Options.boolean("force").pipe(
      doc("delete: delete the queue's messages too (else a non-empty queue is refused)."),
    ),
  },
  (o) =>
    Actions.queueCommand({
      action: o.action,
      visibilityTimeoutMillis: Option.getOrUndefined(o.visibilityTimeout),
      deduplicationWindowMillis: Option.getOrUndefined(o.dedupWindow),
      expectedVersion: Option.getOrUndefined(o.expectedVersion),
      force: o.force,
    }),
);

const subcommands = [
  createTable,
  queueCommand,
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

/**
 * The names of the subcommands, in the order of the help.
 *
 * @since 0.1.0
 * @category commands
 */
export const commandNames: ReadonlyArray<string> = subcommands.map((c) =>
  [...Command.getNames(c as unknown as Command.Command<string, unknown, unknown, unknown>)][0]!
);

/**
 * The help of one subcommand, or the root help for `dynamomq`, as `--help` prints it; undefined
 * for an unknown name.
 *
 * @since 0.1.0
 * @category commands
 */
export const helpText = (name: string): string | undefined => {
  if (name === "dynamomq") return rootHelp(commandDocs, globalFlags);
  const found = commandDocs.find((c) => c.name === name);
  return found === undefined ? undefined : commandHelp(found, globalFlags);
};

/**
 * The usage line `@effect/cli` derives from a command's options (for tests that check the help
 * against the parser).
 *
 * @since 0.1.0
 * @category commands
 */
export const parserUsage = (name: string): string | undefined => {
  const c = subcommands[commandNames.indexOf(name)];
  return c === undefined ? undefined : HelpDoc.toAnsiText(
    Usage.getHelp(
      Command.getUsage(c as unknown as Command.Command<string, unknown, unknown, unknown>),
    ),
  );
};

/**
 * Parses the arguments (without the program name) and runs the command. `--help`, `-h` and
 * `help [command]` print the help; an unknown command fails with `CommandLineError` naming the
 * nearest one. Failures of a command are printed as one line and reported as `Reported`; other
 * parse errors are `ValidationError`s.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  args: ReadonlyArray<string>,
): Effect.Effect<
  void,
  Reported | CommandLineError | ValidationError.ValidationError,
  CliApp.CliApp.Environment
> => {
  const scanned = scan(args, commandDocs, globalFlags, VERSION);
  switch (scanned._tag) {
    case "Print":
      return Io.outLine(scanned.text);
    case "Usage":
      return Effect.fail(new CommandLineError({ message: scanned.message }));
    case "Run":
      return Command.run(cli, { name: "dynamomq", version: VERSION })([
        "deno",
        "dynamomq",
        ...args,
      ]);
  }
};

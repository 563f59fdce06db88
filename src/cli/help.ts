/**
 * The CLI's own help, in the style of `gh` and `aws`: the root help lists every command with a
 * one-line summary, grouped, and the global flags once; a command's help shows its usage, its own
 * flags and examples. It is rendered from the command table (`commands.ts`) rather than by
 * `@effect/cli`, whose help repeats every global option and boilerplate under each flag.
 *
 * `scan` reads a command line before `@effect/cli` does: it finds `--help`, `-h` and `help`,
 * refuses `--wizard`, and answers an unknown command with the nearest one.
 *
 * @module
 */

/**
 * One flag as its help shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlagDoc {
  /** The name without dashes, e.g. `dead-before`. */
  readonly name: string;
  /** A one-letter alias, e.g. `y`. */
  readonly alias?: string | undefined;
  /** The value's placeholder, e.g. `duration`; absent for a switch. */
  readonly value?: string | undefined;
  readonly text: string;
  /** Whether the command cannot run without it. */
  readonly required: boolean;
}

/**
 * The family a command is listed under in the root help.
 *
 * @since 0.1.0
 * @category models
 */
export type Family = "Messages" | "Inspect" | "Admin";

/**
 * One command as its help shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandDoc {
  readonly name: string;
  readonly family: Family;
  /** One line for the root help's list. */
  readonly summary: string;
  /** The command's own help: what it does, in a sentence or two. */
  readonly description: string;
  readonly flags: ReadonlyArray<FlagDoc>;
  /** Command lines (without the `$ `), each optionally followed by `  # comment`. */
  readonly examples: ReadonlyArray<string>;
}

const WIDTH = 100;

/** Wraps text to `width` columns, every line after the first indented by `indent` spaces. */
const wrap = (text: string, width: number, indent: number): string => {
  const lines: Array<string> = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
};

/** Two columns: names padded to the widest, descriptions wrapped beside them. */
const columns = (rows: ReadonlyArray<readonly [string, string]>): string => {
  const left = Math.max(...rows.map(([name]) => name.length)) + 2;
  return rows.map(([name, text]) =>
    `  ${name.padEnd(left)}${wrap(text, WIDTH - 2 - left, 2 + left)}`.trimEnd()
  ).join("\n");
};

const flagName = (f: FlagDoc): string =>
  `${f.alias === undefined ? "    " : `-${f.alias}, `}--${f.name}${
    f.value === undefined ? "" : ` <${f.value}>`
  }`;

const section = (title: string, body: string): string => `${title}\n${body}`;

const examples = (lines: ReadonlyArray<string>): string => lines.map((l) => `  $ ${l}`).join("\n");

const FAMILIES: ReadonlyArray<readonly [Family, string]> = [
  ["Messages", "MESSAGE COMMANDS"],
  ["Inspect", "INSPECT COMMANDS"],
  ["Admin", "ADMIN COMMANDS"],
];

const EXIT_CODES =
  "Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict, 5 cancelled, 130 interrupted.";

/**
 * The root help: every command with its summary, the global flags, examples.
 *
 * @since 0.1.0
 * @category help
 */
export const rootHelp = (
  commands: ReadonlyArray<CommandDoc>,
  globals: ReadonlyArray<FlagDoc>,
): string => {
  const nameWidth = Math.max(...commands.map((c) => c.name.length));
  return [
    "dynamomq administers DynamoMQ queues on DynamoDB: send, receive and settle messages, look",
    "into a queue, and bring its dead letters back.",
    "",
    section(
      "USAGE",
      columns([
        ["dynamomq <command> [flags]", "run one command"],
        ["dynamomq [flags]", "start the interactive shell (type help there)"],
      ]),
    ),
    ...FAMILIES.flatMap(([family, title]) => [
      "",
      section(
        title,
        columns(
          commands.filter((c) => c.family === family).map((c) => [
            c.name.padEnd(nameWidth),
            c.summary,
          ]),
        ),
      ),
    ]),
    "",
    section(
      "GLOBAL FLAGS (every command takes them)",
      columns(globals.map((f) => [flagName(f), f.text])),
    ),
    "",
    section(
      "EXAMPLES",
      examples([
        "dynamomq create-table --table jobs --endpoint-url http://127.0.0.1:8000",
        `dynamomq send --queue orders --data '{"id": "A-101", "total": 42}'`,
        "dynamomq receive --queue orders",
        "dynamomq stats --queue orders --json",
        "dynamomq help redrive",
      ]),
    ),
    "",
    "Run 'dynamomq <command> --help' (or 'dynamomq help <command>') for a command's flags.",
    EXIT_CODES,
  ].join("\n");
};

/**
 * One command's help: what it does, its usage, its flags, the global flags by name, examples.
 *
 * @since 0.1.0
 * @category help
 */
export const commandHelp = (command: CommandDoc, globals: ReadonlyArray<FlagDoc>): string => {
  const required = command.flags.filter((f) => f.required).map((f) =>
    `--${f.name}${f.value === undefined ? "" : ` <${f.value}>`}`
  );
  const usage = ["dynamomq", command.name, ...required, "[flags]"].join(" ");
  return [
    wrap(command.description, WIDTH, 0),
    "",
    section("USAGE", `  ${usage}`),
    ...(command.flags.length === 0 ? [] : [
      "",
      section(
        "FLAGS",
        columns(
          command.flags.map((f) => [flagName(f), f.required ? `${f.text} Required.` : f.text]),
        ),
      ),
    ]),
    "",
    section(
      "GLOBAL FLAGS",
      `  ${
        wrap(`${globals.map((f) => `--${f.name}`).join(", ")} (see 'dynamomq help')`, WIDTH - 2, 2)
      }`,
    ),
    ...(command.examples.length === 0 ? [] : ["", section("EXAMPLES", examples(command.examples))]),
  ].join("\n");
};

/**
 * Levenshtein distance: the fewest single-character edits turning `a` into `b`.
 *
 * @since 0.1.0
 * @category help
 */
export const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
};

/**
 * The known name nearest to `word`, if one is close enough to be what was meant: within two
 * edits (one for words of one or two letters), or a name that `word` starts.
 *
 * @since 0.1.0
 * @category help
 */
export const suggest = (word: string, names: ReadonlyArray<string>): string | undefined => {
  const w = word.toLowerCase();
  const limit = w.length <= 2 ? 1 : 2;
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(w, name);
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name ?? (w.length >= 2 ? names.find((n) => n.startsWith(w)) : undefined);
};

/**
 * What a command line asks for before `@effect/cli` parses it.
 *
 * @since 0.1.0
 * @category help
 */
export type Scanned =
  | { readonly _tag: "Run" }
  | { readonly _tag: "Print"; readonly text: string }
  | { readonly _tag: "Usage"; readonly message: string };

const SWITCH_VALUE = /^(true|false|yes|no|y|n|on|off|1|0)$/i;

/** `@effect/cli` built-ins left to it, unadvertised: they take a value. */
const BUILT_INS: ReadonlyArray<string> = ["completions", "log-level"];

/**
 * Reads a command line (without the program name): `--help`, `-h`, `help [command]` give the
 * help and `--version` the version; an unknown command or option is a usage error naming the
 * nearest one (`--wizard`, an `@effect/cli` built-in that prompts for every flag, is unknown
 * here). Anything else is left to the parser.
 *
 * @since 0.1.0
 * @category help
 */
export const scan = (
  args: ReadonlyArray<string>,
  commands: ReadonlyArray<CommandDoc>,
  globals: ReadonlyArray<FlagDoc>,
  version: string,
): Scanned => {
  let command: CommandDoc | undefined;
  let help = false;
  let showVersion = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--version") {
      showVersion = true;
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      const name = arg.replace(/^--?/, "").replace(/=.*$/, "");
      if (BUILT_INS.includes(name)) {
        if (!arg.includes("=")) i++;
        continue;
      }
      const known = [...globals, ...(command?.flags ?? [])];
      const flag = known.find((f) => f.name === name || f.alias === name);
      if (flag === undefined) return { _tag: "Usage", message: unknownOption(arg, known, command) };
      if (arg.includes("=")) continue;
      // A flag's value is skipped, even one that starts with a dash (`--priority -1`).
      if (flag.value !== undefined) i++;
      else if (SWITCH_VALUE.test(args[i + 1] ?? "")) i++;
      continue;
    }
    if (command !== undefined) continue; // a stray word: the parser reports it
    if (arg === "help") {
      const topic = args[i + 1];
      if (topic === undefined) return { _tag: "Print", text: rootHelp(commands, globals) };
      const found = commands.find((c) => c.name === topic);
      return found === undefined
        ? { _tag: "Usage", message: unknownCommand(topic, commands) }
        : { _tag: "Print", text: commandHelp(found, globals) };
    }
    command = commands.find((c) => c.name === arg);
    if (command === undefined) return { _tag: "Usage", message: unknownCommand(arg, commands) };
  }
  if (help) {
    return {
      _tag: "Print",
      text: command === undefined ? rootHelp(commands, globals) : commandHelp(command, globals),
    };
  }
  return showVersion ? { _tag: "Print", text: `dynamomq ${version}` } : { _tag: "Run" };
};

const unknownOption = (
  arg: string,
  known: ReadonlyArray<FlagDoc>,
  command: CommandDoc | undefined,
): string => {
  const name = arg.replace(/=.*$/, "");
  const near = arg.startsWith("--") ? suggest(name.slice(2), known.map((f) => f.name)) : undefined;
  const where = command === undefined ? "" : ` for '${command.name}'`;
  return `unknown option '${name}'${where}. ${
    near !== undefined
      ? `Did you mean '--${near}'?`
      : `Run 'dynamomq ${command === undefined ? "" : `${command.name} `}--help' for the flags.`
  }`;
};

const unknownCommand = (word: string, commands: ReadonlyArray<CommandDoc>): string => {
  const near = suggest(word, [...commands.map((c) => c.name), "help"]);
  return `unknown command '${word}'. ${
    near === undefined ? "Run 'dynamomq help' for the list of commands." : `Did you mean '${near}'?`
  }`;
};

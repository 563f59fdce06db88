/**
 * The interactive shell (`dynamomq` with no command), after the Go CLI's model: `id <X>`
 * selects a message and the prompt shows it; `receive` selects what it received, with its lease,
 * so `ack`, `nack`, `release` and `extend` work on it directly. A failing command prints its one
 * error line and the shell goes on; `quit`, `q`, `exit` or the end of input leave it.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Option from "effect/Option";
import type { MessageState, ReceivedMessage } from "../schema/Message.ts";
import * as Actions from "./actions.ts";
import { describe, failureOf, usage } from "./errors.ts";
import { describeJsonProblem, parseDuration, parseJson, shellWords } from "./format.ts";
import { suggest } from "./help.ts";
import * as Io from "./io.ts";
import { SettingsTag } from "./session.ts";

const HELP = `commands:
  stats (qstat)            counts per state, age of the oldest ready message
  dlq                      the dead-letter queue
  ls [state] [limit] [cursor]
                           list messages (state: ready, delayed, inflight, dead; default ready)
  peek [state] [limit] [cursor]
                           the same, each message in full
  send <json>              send one message: send {"id": 1} (quotes optional: '…' works too);
                           flags --delay, --id, --group, --dedup-id, --priority as in dynamomq send
  receive [max]            receive messages; the first one becomes the selection, with its lease
  id [<id> [<lease>]]      select a message (with a lease from another receive); no id: clear
  get [<id>] (info)        show the selected message, or <id>
  ack                      ack the selected received message
  nack [delay]             nack it: receivable again after delay (default now)
  release                  release it: receivable now, the receive not counted
  extend <timeout>         extend its lease to <timeout> from now
  delete [<id>]            delete the selected message, or <id>, in any state
  move-to-dlq [<id>]       move it to the dead-letter queue (alias: invalid)
  redrive [<id>]           move it back from the dead-letter queue
  purge [state]            delete every message (or every one in a state), after asking
  create-table             create the table if it is missing
  help (h, ?)              this list
  quit (q, exit)           leave (so does the end of input)`;

/** The selected message, and its lease when this session holds one. */
interface Selection {
  readonly id: string;
  readonly message?: ReceivedMessage<unknown> | undefined;
}

/** The shell's commands and aliases, for "did you mean". */
const COMMANDS: ReadonlyArray<string> = [
  "stats",
  "qstat",
  "dlq",
  "ls",
  "peek",
  "send",
  "receive",
  "id",
  "get",
  "info",
  "ack",
  "nack",
  "release",
  "extend",
  "delete",
  "move-to-dlq",
  "invalid",
  "redrive",
  "purge",
  "create-table",
  "help",
  "quit",
  "exit",
];

/** The flags of the shell's `send`, as `dynamomq send` names them. */
const SEND_FLAGS: ReadonlyArray<string> = ["data", "id", "delay", "group", "dedup-id", "priority"];

const SEND_EXAMPLE = `e.g. send {"id": 1} or send --data '{"note": "two words"}'`;

/**
 * Reads the words after `send`: one JSON body (bare or after `--data`) and the flags of
 * `dynamomq send`.
 */
const sendArgs = (words: ReadonlyArray<string>): Either.Either<Actions.SendInput, string> => {
  const flags: Record<string, string> = {};
  const bodies: Array<string> = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const flag = /^--(.+)$/.exec(word)?.[1];
    if (flag === undefined) {
      bodies.push(word);
      continue;
    }
    if (!SEND_FLAGS.includes(flag)) {
      return Either.left(
        `send: unknown flag --${flag} (it takes ${SEND_FLAGS.map((f) => `--${f}`).join(", ")})`,
      );
    }
    const value = words[++i];
    if (value === undefined) return Either.left(`send: --${flag} needs a value`);
    if (flag === "data") bodies.push(value);
    else flags[flag] = value;
  }
  if (bodies.length === 0) return Either.left(`send needs a JSON body, ${SEND_EXAMPLE}`);
  if (bodies.length > 1) {
    return Either.left(
      `send takes one JSON body, got ${bodies.length} words: ${
        bodies.map((b) => JSON.stringify(b)).join(", ")
      }; a string body needs its JSON quotes, ${SEND_EXAMPLE}`,
    );
  }
  const body = bodies[0]!;
  const parsed = parseJson(body);
  if (Either.isLeft(parsed)) {
    return Either.left(
      `bad JSON body at ${describeJsonProblem(parsed.left)}: type the JSON as is, ${SEND_EXAMPLE}`,
    );
  }
  const delay = flags.delay === undefined ? Either.right(undefined) : parseDuration(flags.delay);
  if (Either.isLeft(delay)) return Either.left(`send: --delay: ${delay.left}`);
  const priority = flags.priority;
  if (priority !== undefined && !/^\d+$/.test(priority)) {
    return Either.left(`send: --priority must be a whole number, got "${priority}"`);
  }
  return Either.right({
    data: body,
    id: flags.id,
    delayMillis: delay.right,
    group: flags.group,
    dedupId: flags["dedup-id"],
    priority: priority === undefined ? undefined : Number(priority),
  });
};

const STATES: ReadonlyArray<MessageState> = ["ready", "delayed", "inflight", "dead"];

const stateArg = (arg: string | undefined): Either.Either<MessageState | undefined, string> =>
  arg === undefined || arg === "all"
    ? Either.right(undefined)
    : (STATES as ReadonlyArray<string>).includes(arg)
    ? Either.right(arg as MessageState)
    : Either.left(`unknown state "${arg}" (use ${STATES.join(", ")})`);

const countArg = (arg: string | undefined, fallback: number, name: string) =>
  arg === undefined
    ? Either.right(fallback)
    : /^\d+$/.test(arg) && Number(arg) >= 1
    ? Either.right(Number(arg))
    : Either.left(`${name} must be a positive integer, got "${arg}"`);

/**
 * Runs the shell until `quit` or the end of stdin.
 *
 * @since 0.1.0
 * @category actions
 */
export const shell: Effect.Effect<void, never, Actions.Env> = Effect.gen(function* () {
  const settings = yield* SettingsTag;
  const echo = !Io.terminals().stdin;
  yield* Io.outLine(
    `dynamomq interactive shell — table "${settings.table}", queue "${settings.queue}"${
      settings.region === undefined ? "" : `, region ${settings.region}`
    }${settings.endpoint === undefined ? "" : `, endpoint ${settings.endpoint}`}`,
  );
  yield* Io.outLine(`type help for the commands, quit to leave`);
  let selection: Selection | undefined;

  const needSelected = (): Either.Either<Selection, string> =>
    selection === undefined
      ? Either.left("no message selected: use id <id>, or receive one")
      : Either.right(selection);
  const needLease = (): Either.Either<ReceivedMessage<unknown>, string> =>
    Either.flatMap(needSelected(), (sel) =>
      sel.message === undefined
        ? Either.left(
          `no lease for ${sel.id} in this shell: receive it here, or select it with id ${sel.id} <lease>`,
        )
        : Either.right(sel.message));
  const fail = (message: string) => Effect.fail(usage(message));
  const idOr = (arg: string | undefined) =>
    arg !== undefined ? Either.right(arg) : Either.map(needSelected(), (s) => s.id);

  /** One command line; resolves to false when the shell should end. */
  const run = (line: string): Effect.Effect<boolean, Actions.ActionError, Actions.Env> => {
    const words = shellWords(line);
    if (Either.isLeft(words)) {
      return fail(/^\s*send\b/i.test(line) ? `${words.left}; ${SEND_EXAMPLE}` : words.left);
    }
    const [word = "", ...args] = words.right;
    const command = word.toLowerCase();
    const go = <E>(effect: Effect.Effect<unknown, E, Actions.Env>) => Effect.as(effect, true);
    const withArg = <A>(
      arg: Either.Either<A, string>,
      f: (a: A) => Effect.Effect<unknown, Actions.ActionError, Actions.Env>,
    ) => Either.match(arg, { onLeft: fail, onRight: (a) => go(f(a)) });
    switch (command) {
      case "":
        return Effect.succeed(true);
      case "quit":
      case "q":
      case "exit":
        return Effect.succeed(false);
      case "help":
      case "h":
      case "?":
        return go(Io.outLine(HELP));
      case "stats":
      case "qstat":
        return go(Actions.stats);
      case "dlq":
        return withArg(countArg(args[0], 20, "limit"), (limit) => Actions.dlq({ limit }));
      case "ls":
      case "peek":
        return withArg(
          Either.all([stateArg(args[0] ?? "ready"), countArg(args[1], 20, "limit")]),
          ([state, limit]) =>
            state === undefined
              ? fail("ls takes one state: ready, delayed, inflight or dead")
              : Actions.list({ state, limit, cursor: args[2], full: command === "peek" }),
        );
      case "send":
        return withArg(sendArgs(args), Actions.send);
      case "receive":
        return withArg(
          countArg(args[0], 1, "max"),
          (max) =>
            Effect.map(Actions.receive({ max }), (messages) => {
              const first = messages[0];
              if (first !== undefined) selection = { id: first.id, message: first };
            }),
        );
      case "id":
        if (args[0] === undefined) {
          selection = undefined;
          return Effect.succeed(true);
        }
        if (args[1] !== undefined) {
          return go(
            Effect.map(Actions.leased(args[0], args[1]), (message) => {
              selection = { id: message.id, message };
            }),
          );
        }
        selection = { id: args[0] };
        return Effect.succeed(true);
      case "get":
      case "info":
        return withArg(idOr(args[0]), Actions.get);
      case "ack":
        return withArg(needLease(), (m) =>
          Effect.map(Actions.settle(m, { _tag: "ack" }), () => {
            selection = undefined;
          }));
      case "release":
        return withArg(
          needLease(),
          (m) =>
            Effect.map(Actions.settle(m, { _tag: "release" }), () => {
              selection = { id: m.id };
            }),
        );
      case "nack":
        return withArg(
          Either.all([
            needLease(),
            args[0] === undefined ? Either.right(0) : parseDuration(args[0]),
          ]),
          ([m, delayMillis]) =>
            Effect.map(Actions.settle(m, { _tag: "nack", delayMillis }), () => {
              selection = { id: m.id };
            }),
        );
      case "extend":
        return withArg(
          Either.all([
            needLease(),
            args[0] === undefined
              ? Either.left("extend needs a timeout, e.g. extend 5m")
              : parseDuration(args[0]),
          ]),
          ([m, timeoutMillis]) => Actions.settle(m, { _tag: "extend", timeoutMillis }),
        );
      case "delete":
        return withArg(idOr(args[0]), (id) =>
          Effect.map(Actions.deleteMessage(id), () => {
            if (selection?.id === id) selection = undefined;
          }));
      case "move-to-dlq":
      case "invalid":
        return withArg(idOr(args[0]), (id) =>
          Effect.map(Actions.moveToDlq(id, undefined), () => {
            if (selection?.id === id) selection = { id };
          }));
      case "redrive":
        return withArg(idOr(args[0]), (id) => Actions.redrive({ id, all: false, dryRun: false }));
      case "purge":
        return withArg(stateArg(args[0]), (state) => Actions.purge({ state, yes: false }));
      case "create-table":
        return go(Actions.createTable);
      default: {
        const near = suggest(word, COMMANDS);
        return fail(
          `unknown command "${word}"${
            near === undefined ? "" : `. Did you mean "${near}"?`
          } (type help for the list)`,
        );
      }
    }
  };

  for (;;) {
    const selected = selection === undefined
      ? ""
      : ` id ${selection.id}${selection.message === undefined ? "" : " (leased)"}`;
    yield* Io.out(`dynamomq:${settings.queue}${selected}> `);
    const line = yield* Io.readLine;
    if (line === undefined) {
      yield* Io.outLine("");
      break;
    }
    // Piped input is not echoed by a terminal: echo it, so the transcript reads as a session.
    if (echo) yield* Io.outLine(line);
    const exit = yield* Effect.exit(run(line));
    if (Exit.isSuccess(exit)) {
      if (!exit.value) break;
      continue;
    }
    const failure = failureOf(exit.cause);
    if (Option.isNone(failure)) return yield* Effect.interrupt;
    const d = describe(failure.value, settings);
    yield* Io.errLine(
      settings.json
        ? JSON.stringify({ error: d.tag, message: d.message, exitCode: d.code })
        : `error: ${d.message}`,
    );
  }
  yield* Io.outLine("bye");
});

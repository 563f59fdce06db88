/**
 * `dynamomq`: the admin CLI of DynamoMQ, the tool to keep open during an incident. Run a
 * command (`dynamomq stats --queue orders`), or no command for the interactive shell. Every
 * command takes `--help`, and the global options `--table`, `--queue`, `--region`,
 * `--endpoint-url` (also `DYNAMOMQ_TABLE`, `DYNAMOMQ_QUEUE`, `AWS_REGION`,
 * `AWS_ENDPOINT_URL_DYNAMODB`), `--priorities`, `--shards`, `--max-receives` and `--json`.
 *
 * ```sh
 * deno task cli -- stats --queue orders
 * deno install -g -A -n dynamomq jsr:@dynamomq/dynamomq/cli
 * ```
 *
 * @module
 */
import * as ValidationError from "@effect/cli/ValidationError";
import * as NodeContext from "@effect/platform-node/NodeContext";
import type * as Console from "effect/Console";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Fiber from "effect/Fiber";
import * as Option from "effect/Option";
import { run } from "./commands.ts";
import { Reported } from "./options.ts";
import { describe, ExitCode, failureOf } from "./errors.ts";
import * as Io from "./io.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Runs the CLI with the given arguments (without the program name) and resolves to its exit
 * code (see `errors.ts`: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict, 5 cancelled, 130
 * interrupted). SIGINT interrupts the running command.
 *
 * @since 0.1.0
 * @category running
 */
export const main = async (args: ReadonlyArray<string>): Promise<number> => {
  const json = args.includes("--json");
  // @effect/cli prints its parse errors through Console.error, padded with blank lines and
  // colours: collect them, and print them as the CLI's own one line instead.
  const parseErrors: Array<string> = [];
  const program = Effect.gen(function* () {
    const console = yield* Effect.console;
    const quiet: Console.Console = {
      ...console,
      error: (...parts: ReadonlyArray<unknown>) =>
        Effect.sync(() => void parseErrors.push(parts.map(String).join(" "))),
    };
    return yield* run(args).pipe(Effect.withConsole(quiet));
  }).pipe(Effect.provide(NodeContext.layer));
  const fiber = Effect.runFork(program);
  const onSignal = () => Effect.runFork(Fiber.interrupt(fiber));
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const exit = await Effect.runPromise(Fiber.await(fiber));
    if (Exit.isSuccess(exit)) return ExitCode.ok;
    const failure = failureOf(exit.cause);
    if (Option.isNone(failure)) return ExitCode.interrupted;
    const e = failure.value;
    if (e instanceof Reported) return e.code;
    // @effect/cli's own parse errors were collected above; anything else is unexpected here.
    const d = ValidationError.isValidationError(e)
      ? {
        tag: "Usage",
        message: parseErrors.join(" ").replace(ANSI, "").replace(/\s+/g, " ").trim() ||
          "invalid command line",
        code: ExitCode.usage,
      }
      : describe(e, { table: "?", queue: "?" });
    await Effect.runPromise(
      Io.errLine(
        json
          ? JSON.stringify({ error: d.tag, message: d.message, exitCode: d.code })
          : `error: ${d.message}${ValidationError.isValidationError(e) ? " (see --help)" : ""}`,
      ),
    );
    const code = d.code;
    return code;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
};

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

/**
 * How the admin CLI reports failure: every error becomes one line and an exit code that says
 * which kind of failure it was, so scripts can branch on it.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | DynamoDB or other runtime failure (throttling, network, access denied, …) |
 * | 2 | usage: a bad flag or value, bad JSON, an option out of range |
 * | 3 | not found: the table, the queue or the message id does not exist |
 * | 4 | conflict: lost lease, wrong state for the operation, duplicate id, a flag that contradicts the queue's definition, a non-empty queue to delete |
 * | 5 | cancelled: a confirmation was refused |
 * | 130 | interrupted (Ctrl-C) |
 *
 * @module
 */
import * as Cause from "effect/Cause";
import * as Data from "effect/Data";
import * as Option from "effect/Option";
import * as ParseResult from "effect/ParseResult";

/**
 * The CLI's exit codes (see the module documentation).
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode: {
  readonly ok: 0;
  readonly failure: 1;
  readonly usage: 2;
  readonly notFound: 3;
  readonly conflict: 4;
  readonly cancelled: 5;
  readonly interrupted: 130;
} = { ok: 0, failure: 1, usage: 2, notFound: 3, conflict: 4, cancelled: 5, interrupted: 130 };

/** @ignore */
export interface CliErrorFields {
  /** The one line shown to the operator. */
  readonly message: string;
  /** The process exit code. */
  readonly code: number;
  /** A short machine-readable kind, e.g. `BadJson`, `Cancelled`. */
  readonly kind: string;
}

const CliErrorBase: new (
  args: CliErrorFields,
) => Cause.YieldableError & { readonly _tag: "CliError" } & Readonly<CliErrorFields> = Data
  .TaggedError("CliError")<CliErrorFields>;

/**
 * A failure the CLI itself detected (bad input, a refused confirmation, a missing lease).
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends CliErrorBase {}

const CommandLineBase: new (
  args: { readonly message: string },
) => Cause.YieldableError & { readonly _tag: "CommandLine"; readonly message: string } = Data
  .TaggedError("CommandLine")<{ readonly message: string }>;

/**
 * A command line refused before parsing: an unknown command (with the nearest one) or option.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandLineError extends CommandLineBase {}

/**
 * A usage error (exit code 2).
 *
 * @since 0.1.0
 * @category constructors
 */
export const usage = (message: string, kind = "Usage"): CliError =>
  new CliError({ message, code: ExitCode.usage, kind });

/**
 * One failure as the operator sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Described {
  /** The error's tag (`LeaseLost`, `DynamoDBError`, `CliError`, …) or the CLI's kind. */
  readonly tag: string;
  readonly message: string;
  readonly code: number;
}

/** Where the CLI is pointed, for the hints in error lines. */
export interface Target {
  readonly table: string;
  readonly queue: string;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
}

const field = (e: unknown, key: string): unknown =>
  typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined;

const where = (t: Target): string =>
  t.endpoint !== undefined ? ` at ${t.endpoint}` : t.region !== undefined ? ` in ${t.region}` : "";

/**
 * Turns any failure of a command into its one line and exit code.
 *
 * @since 0.1.0
 * @category errors
 */
export const describe = (error: unknown, target: Target): Described => {
  const tag = String(field(error, "_tag") ?? "Error");
  const message = error instanceof Error ? error.message : String(error);
  switch (tag) {
    case "CliError": {
      const e = error as CliError;
      return { tag: e.kind, message: e.message, code: e.code };
    }
    case "DynamoDBError": {
      const reason = String(field(error, "reason"));
      const detail = String(field(error, "detail"));
      if (reason === "TableNotFound") {
        return {
          tag: "TableNotFound",
          message: `table "${target.table}" does not exist${
            where(target)
          }: create it with \`dynamomq create-table --table ${target.table}\``,
          code: ExitCode.notFound,
        };
      }
      if (reason === "Transport") {
        return {
          tag: "Transport",
          message: `cannot reach DynamoDB${where(target)}: ${detail}`,
          code: ExitCode.failure,
        };
      }
      return { tag, message, code: ExitCode.failure };
    }
    case "MessageNotFound":
      return {
        tag,
        message: `unknown message id "${field(error, "messageId")}" in queue "${target.queue}"`,
        code: ExitCode.notFound,
      };
    case "LeaseLost":
      return {
        tag,
        message: `lost lease: ${field(error, "operation")} of message ${
          field(error, "messageId")
        } refused: this lease is no longer held (it ran out and the message was received again, or it was already settled)`,
        code: ExitCode.conflict,
      };
    case "InvalidState":
    case "DuplicateMessage":
    case "QueueNotEmpty":
      return { tag, message, code: ExitCode.conflict };
    case "QueueDefinitionConflict":
      return {
        tag,
        message:
          `${message} (leave the flag out to use the stored value, or change the queue with \`dynamomq queue update\`)`,
        code: ExitCode.conflict,
      };
    case "QueueNotFound":
      return {
        tag,
        message: `no queue "${target.queue}" is defined in table "${target.table}"`,
        code: ExitCode.notFound,
      };
    case "InvalidOptions":
      return {
        tag,
        message: field(error, "option") === "priority"
          ? `${message} (see the queue's priorities with \`dynamomq queue describe\`)`
          : message,
        code: ExitCode.usage,
      };
    case "PayloadTooLarge":
      return { tag, message, code: ExitCode.usage };
    case "ParseError":
      return {
        tag,
        message: ParseResult.isParseError(error)
          ? ParseResult.TreeFormatter.formatErrorSync(error).replace(/\s*\n\s*/g, " ")
          : message,
        code: ExitCode.usage,
      };
    case "ValidationError":
      return { tag, message, code: ExitCode.usage };
    case "CommandLine":
      return { tag: "Usage", message, code: ExitCode.usage };
    default:
      return { tag, message, code: ExitCode.failure };
  }
};

/**
 * Finds what to report in a failed command's `Cause`: its first failure, else its first defect.
 * `None` for an interruption.
 *
 * @since 0.1.0
 * @category errors
 */
export const failureOf = (cause: Cause.Cause<unknown>): Option.Option<unknown> =>
  Option.orElse(Cause.failureOption(cause), () => Cause.dieOption(cause));

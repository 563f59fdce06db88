/**
 * What the CLI's actions share: their environment and error types, `emit` (human text or JSON),
 * the queue handle, and the formatting of messages that several commands print.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import type {
  DuplicateMessage,
  DynamoDBError,
  InvalidOptions,
  InvalidState,
  LeaseLost,
  MessageNotFound,
  PayloadTooLarge,
  QueueDefinitionConflict,
  QueueNotEmpty,
  QueueNotFound,
  TableMismatch,
} from "../../Errors.ts";
import { metadataJson } from "../../internal/messageJson.ts";
import type { MessageInfo } from "../../schema/Message.ts";
import type { DynamoDB } from "../../services/DynamoDB.ts";
import type * as Queue from "../../services/Queue.ts";
import { type CliError, usage } from "../errors.ts";
import { relative, table, truncate } from "../format.ts";
import * as Io from "../io.ts";
import { queue as queueOf, queueWith, type Settings, SettingsTag } from "../session.ts";

/**
 * What an action needs: the settings and DynamoDB.
 *
 * @since 0.1.0
 * @category models
 */
export type Env = Settings | DynamoDB;

/**
 * Any failure of an action.
 *
 * @since 0.1.0
 * @category models
 */
export type ActionError =
  | CliError
  | DynamoDBError
  | InvalidOptions
  | InvalidState
  | LeaseLost
  | MessageNotFound
  | DuplicateMessage
  | PayloadTooLarge
  | QueueDefinitionConflict
  | QueueNotFound
  | QueueNotEmpty
  | TableMismatch;

/**
 * One result, in both forms.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly json: unknown;
  readonly text: string;
}

/**
 * Prints a result on stdout: pretty JSON with `--json`, else the text.
 *
 * @since 0.1.0
 * @category output
 */
export const emit = (report: Report): Effect.Effect<void, never, Settings> =>
  Effect.flatMap(
    SettingsTag,
    (s) => Io.outLine(s.json ? JSON.stringify(report.json, null, 2) : report.text),
  );

/** The current time (epoch ms), from Effect's clock. */
export const now: Effect.Effect<number> = Clock.currentTimeMillis;

/** Invalid options as usage errors. */
const asUsage = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, Exclude<E, InvalidOptions> | CliError, R> =>
  Effect.catchIf(
    effect,
    (e): e is Extract<E, InvalidOptions> => e._tag === "InvalidOptions",
    (e) => Effect.fail(usage(e.message, "InvalidOptions")),
  ) as Effect.Effect<A, Exclude<E, InvalidOptions> | CliError, R>;

/**
 * The queue, with its stored definition (a flag that contradicts it is a
 * `QueueDefinitionConflict`); a queue without one is read with the flags, never defined.
 */
export const theQueue: Effect.Effect<
  Queue.Queue<unknown>,
  CliError | QueueDefinitionConflict | DynamoDBError,
  Env
> = asUsage(queueOf);

/** The queue for `send`: a queue without a definition gets one from the flags. */
export const theQueueToSend: Effect.Effect<
  Queue.Queue<unknown>,
  CliError | QueueDefinitionConflict | DynamoDBError,
  Env
> = asUsage(queueWith("create"));

/** A body as one line of JSON. */
export const bodyText = (body: unknown): string => JSON.stringify(body);

/** A message as listed or fetched, as JSON. */
export const infoJson = (m: MessageInfo<unknown>): Record<string, unknown> => ({
  ...metadataJson(m),
  attempts: m.attempts,
  ...(Either.isRight(m.body) ? { body: m.body.right } : { bodyError: m.body.left }),
});

/** A listed message's body as one line, or why it could not be decoded. */
export const infoBody = (m: MessageInfo<unknown>): string =>
  Either.isRight(m.body) ? bodyText(m.body.right) : `<undecodable: ${m.body.left}>`;

/** A time as ISO 8601. */
export const iso = (t: number): string => new Date(t).toISOString();

/** A count and its noun, pluralised: `1 message`, `2 messages`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * A library message as the CLI prints it. The library words `MaxReceivesExceeded` "was received
 * N times" even when N is 1 (and stores that as the dead-letter reason): pluralised here.
 */
export const libraryText = (message: string): string => message.replace(/\b1 times\b/g, "1 time");

/** A dead-letter reason as one line. */
export const reasonText = (reason: { readonly tag: string; readonly message: string }): string =>
  `${reason.tag}: ${libraryText(reason.message)}`;

/** Dead-lettered messages as a table: `dlq` and `redrive --all --dry-run`. */
export const deadTable = (messages: ReadonlyArray<MessageInfo<unknown>>, t: number): string =>
  table(
    ["ID", "RECEIVES", "DEAD SINCE", "REASON", "BODY"],
    messages.map((m) => [
      m.id,
      String(m.receives),
      relative(m.updatedAt, t),
      truncate(m.deadReason === undefined ? "" : reasonText(m.deadReason), 50),
      truncate(infoBody(m), 40),
    ]),
    ["left", "right"],
  );

/**
 * The message commands of the CLI: `send` (one body or NDJSON on stdin), `receive`, and the
 * settles fenced by a lease (`ack`, `nack`, `release`, `extend`), including the rebuilding of
 * a message received in another process from its id and lease token.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import { type DynamoDBError, LeaseLost } from "../../Errors.ts";
import { parseItem, type StoredMessage } from "../../internal/envelope.ts";
import { groupMessageSk, groupPk, messageKey, parseGroupedId } from "../../internal/keys.ts";
import type { ReceivedMessage } from "../../schema/Message.ts";
import * as Catalog from "../../services/Catalog.ts";
import { DynamoDB, type Key } from "../../services/DynamoDB.ts";
import type * as Queue from "../../services/Queue.ts";
import { CliError, ExitCode, usage } from "../errors.ts";
import {
  describeJsonProblem,
  duration,
  fields,
  parseJson,
  relative,
  table,
  truncate,
} from "../format.ts";
import * as Io from "../io.ts";
import { SettingsTag } from "../session.ts";
import {
  type ActionError,
  bodyText,
  emit,
  type Env,
  iso,
  libraryText,
  now,
  plural,
  theQueue,
  theQueueToSend,
} from "./shared.ts";

const receivedJson = (m: ReceivedMessage<unknown>): Record<string, unknown> => ({
  id: m.id,
  lease: m.lease,
  receives: m.receives,
  priority: m.priority,
  sentAt: m.sentAt,
  visibleAt: m.visibleAt,
  ...(m.group === undefined ? {} : { group: m.group }),
  ...(m.deduplication === undefined ? {} : { deduplicationId: m.deduplication.id }),
  attempts: m.attempts,
  body: m.body,
});

// --- send ------------------------------------------------------------------------------------

/**
 * Options of `send`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendInput {
  /** One JSON body; when absent, NDJSON (one body per line) is read from stdin. */
  readonly data?: string | undefined;
  readonly id?: string | undefined;
  readonly delayMillis?: number | undefined;
  readonly group?: string | undefined;
  readonly dedupId?: string | undefined;
  readonly priority?: number | undefined;
}

const sendOptions = (input: SendInput): Queue.SendOptions => ({
  id: input.id,
  delay: input.delayMillis,
  group: input.group,
  deduplicationId: input.dedupId,
  priority: input.priority,
});

/** Entries sent per `sendBatch` call: one progress step. */
const SEND_CHUNK = 250;
/** Inputs with at least this many messages report progress on stderr. */
const PROGRESS_FROM = 100;

/**
 * Sends one message (`--data`) or every line of NDJSON on stdin. All lines are parsed before
 * anything is sent, so a bad line sends nothing.
 *
 * @since 0.1.0
 * @category actions
 */
export const send = (input: SendInput): Effect.Effect<void, ActionError, Env> =>
  input.data !== undefined ? sendOne(input.data, input) : sendStdin(input);

/**
 * Parses one JSON body, failing with a usage error that names where it went wrong.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBody = (text: string, where: string): Either.Either<unknown, CliError> =>
  Either.mapLeft(
    parseJson(text),
    (p) => usage(`bad JSON in ${where} at ${describeJsonProblem(p)}`, "BadJson"),
  );

const sendOne = (data: string, input: SendInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const body = yield* parseBody(data, "--data");
    const q = yield* theQueueToSend;
    const result = yield* q.send(body, sendOptions(input)).pipe(
      Effect.catchTag("ParseError", (e) => Effect.fail(usage(e.message))),
    );
    const t = yield* now;
    yield* emit({
      json: result,
      text: `sent ${result.id}${
        result.visibleAt > t ? ` (receivable ${relative(result.visibleAt, t)})` : ""
      }${result.duplicate ? " — a duplicate: the original was kept, nothing was written" : ""}`,
    });
  });

const sendStdin = (input: SendInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    if (Io.terminals().stdin) {
      return yield* usage(
        "no message to send: give --data '<json>', or pipe NDJSON (one JSON body per line) on stdin",
      );
    }
    const bodies: Array<{ line: number; body: unknown }> = [];
    for (let line = 1;; line++) {
      const text = yield* Io.readLine;
      if (text === undefined) break;
      if (text.trim() === "") continue;
      const parsed = parseJson(text);
      if (Either.isLeft(parsed)) {
        return yield* usage(
          `bad JSON on stdin line ${line}, column ${parsed.left.column}: ${parsed.left.reason}; nothing was sent`,
          "BadJson",
        );
      }
      bodies.push({ line, body: parsed.right });
    }
    if (bodies.length === 0) return yield* usage("no message to send: stdin was empty");
    if (bodies.length > 1 && (input.id !== undefined || input.dedupId !== undefined)) {
      return yield* usage(
        `--${
          input.id !== undefined ? "id" : "dedup-id"
        } names one message, but stdin has ${bodies.length}`,
      );
    }
    const q = yield* theQueueToSend;
    const s = yield* SettingsTag;
    const options = sendOptions(input);
    const progress = bodies.length >= PROGRESS_FROM;
    const inPlace = Io.terminals().stderr;
    const started = yield* now;
    const results: Array<Record<string, unknown>> = [];
    let sent = 0;
    let duplicates = 0;
    let failed = 0;
    for (let i = 0; i < bodies.length; i += SEND_CHUNK) {
      const chunk = bodies.slice(i, i + SEND_CHUNK);
      const outcomes = yield* q.sendBatch(chunk.map((b) => ({ body: b.body, options })));
      outcomes.forEach((o, k) => {
        const line = chunk[k]!.line;
        if (Either.isRight(o)) {
          if (o.right.duplicate) duplicates++;
          else sent++;
          results.push({ line, ...o.right });
        } else {
          failed++;
          results.push({ line, error: o.left._tag, message: o.left.message });
        }
      });
      if (progress) {
        const done = Math.min(i + SEND_CHUNK, bodies.length);
        const line = `sending: ${done}/${bodies.length} (${
          Math.floor(done * 100 / bodies.length)
        }%)`;
        yield* inPlace ? Io.err(`\r${line}`) : Io.errLine(line);
      }
    }
    if (progress && inPlace) yield* Io.err("\n");
    const elapsed = (yield* now) - started;
    yield* emit({
      json: { sent, duplicates, failed, results },
      text: `sent ${plural(sent, "message")} to queue "${s.queue}" in ${duration(elapsed)}${
        duplicates > 0 ? `; ${plural(duplicates, "duplicate")} skipped` : ""
      }${failed > 0 ? `; ${failed} failed` : ""}`,
    });
    if (failed > 0) {
      const first = results.find((r) => r.error !== undefined)!;
      return yield* new CliError({
        message: `${failed} of ${
          plural(bodies.length, "message")
        } failed (first: stdin line ${first.line}: ${first.message})`,
        code: ExitCode.failure,
        kind: "SendFailed",
      });
    }
  });

// --- receive and settle ----------------------------------------------------------------------

/**
 * Options of `receive`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveInput {
  readonly max: number;
  readonly visibilityMillis?: number | undefined;
}

/**
 * Receives up to `max` messages and prints each with its lease token. Returns them (the shell
 * selects the first).
 *
 * @since 0.1.0
 * @category actions
 */
export const receive = (
  input: ReceiveInput,
): Effect.Effect<ReadonlyArray<ReceivedMessage<unknown>>, ActionError, Env> =>
  Effect.gen(function* () {
    const q = yield* theQueue;
    const { messages, deadLettered } = yield* q.receive({
      max: input.max,
      visibilityTimeout: input.visibilityMillis,
    });
    const t = yield* now;
    const dead = deadLettered.map((e) => ({
      id: e.messageId,
      tag: e._tag,
      message: libraryText(e.message),
    }));
    const lines: Array<string> = [];
    if (messages.length === 0) lines.push("no message is ready to receive");
    else if (messages.length === 1) {
      const m = messages[0]!;
      lines.push(fields([
        ["id", m.id],
        ["lease", m.lease],
        ["receives", String(m.receives)],
        ["sent", `${relative(m.sentAt, t)} (${iso(m.sentAt)})`],
        ["lease ends", relative(m.visibleAt, t)],
        ...(m.group === undefined ? [] : [["group", m.group] as const]),
        ["priority", String(m.priority)],
        ["body", bodyText(m.body)],
      ]));
    } else {
      lines.push(table(
        ["ID", "LEASE", "RECEIVES", "SENT", "BODY"],
        messages.map((m) => [
          m.id,
          m.lease,
          String(m.receives),
          relative(m.sentAt, t),
          truncate(bodyText(m.body), 60),
        ]),
        ["left", "left", "right"],
      ));
    }
    for (const d of dead) lines.push(`dead-lettered ${d.id} instead: ${d.message}`);
    yield* emit({
      json: { messages: messages.map(receivedJson), deadLettered: dead },
      text: lines.join("\n"),
    });
    return messages;
  });

/** The key of a message of `queue`: grouped ids locate their group's partition (as Queue.ts). */
const keyIn = (queue: string, id: string): Key => {
  const grouped = parseGroupedId(id);
  return grouped === undefined
    ? messageKey(queue, id)
    : { pk: groupPk(queue, grouped.group), sk: groupMessageSk(grouped.seq) };
};

/** A message of `queue` as stored; `undefined` when there is none (or it is not a message). */
const storedIn = (
  queue: string,
  id: string,
): Effect.Effect<StoredMessage | undefined, DynamoDBError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const item = yield* (yield* DynamoDB).get(s.table, keyIn(queue, id));
    return item === undefined ? undefined : Either.getOrUndefined(parseItem(item));
  });

const holds = (m: StoredMessage | undefined, lease: string): boolean =>
  m !== undefined && m.state === "inflight" && m.lease === lease;

/** How many other queues of the catalog are searched for a message given to the wrong queue. */
const SEARCHED_QUEUES = 100;

/**
 * When a message id and lease do not fit the selected queue, finds the queue they do fit: the
 * one whose message of this id holds the lease, else (the id being unknown here) the ones that
 * have a message of this id. Only a failing settle pays for this search.
 */
const otherQueue = (
  id: string,
  lease: string,
  existsHere: boolean,
): Effect.Effect<CliError | undefined, DynamoDBError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const queues = (yield* Catalog.list(s.table))
      .map((d) => d.name)
      .filter((name) => name !== s.queue)
      .slice(0, SEARCHED_QUEUES);
    const found = yield* Effect.forEach(
      queues,
      (name) => Effect.map(storedIn(name, id), (m) => ({ name, m })),
      { concurrency: 8 },
    );
    const wrong = (others: ReadonlyArray<string>, why: string) =>
      new CliError({
        message: `message ${id} belongs to queue ${
          others.map((q) => `"${q}"`).join(", ")
        }, not "${s.queue}"${why}: use --queue ${others[0]}`,
        code: ExitCode.usage,
        kind: "WrongQueue",
      });
    const holder = found.find((f) => holds(f.m, lease));
    if (holder !== undefined) return wrong([holder.name], " (the lease was issued there)");
    const existing = found.filter((f) => f.m !== undefined).map((f) => f.name);
    return !existsHere && existing.length > 0 ? wrong(existing, "") : undefined;
  });

/**
 * Rebuilds a received message from its id and lease token (`Queue.resume`), so a message
 * received in another process can be settled. `operation` names the settle it is for in a
 * `LeaseLost`. A message of another queue of the table is reported as such, rather than as a
 * lost lease or an unknown id.
 *
 * @since 0.1.0
 * @category actions
 */
export const leased = (
  id: string,
  lease: string,
  operation?: string,
): Effect.Effect<ReceivedMessage<unknown>, ActionError, Env> =>
  Effect.gen(function* () {
    const q = yield* theQueue;
    return yield* q.resume(id, lease).pipe(
      // Only a failing settle pays for looking through the table's other queues.
      Effect.catchTags({
        LeaseLost: (e) =>
          Effect.flatMap(wrongQueue(id, lease, true), () =>
            Effect.fail(
              // Refused as the settle it is for, as the queue would have refused it.
              operation === undefined ? e : new LeaseLost({
                queue: e.queue,
                messageId: e.messageId,
                operation,
              }),
            )),
        MessageNotFound: (e) => Effect.flatMap(wrongQueue(id, lease, false), () => Effect.fail(e)),
        // The CLI reads bodies as unknown JSON, so only an item that is not a message gets here.
        UndecodableMessage: (e) =>
          Effect.fail(
            new CliError({ message: e.message, code: ExitCode.failure, kind: e._tag }),
          ),
      }),
    );
  });

/** Fails with the queue the message belongs to, when it is another queue of the table. */
const wrongQueue = (
  id: string,
  lease: string,
  existsHere: boolean,
): Effect.Effect<void, ActionError, Env> =>
  Effect.flatMap(
    otherQueue(id, lease, existsHere),
    (wrong) => wrong === undefined ? Effect.void : Effect.fail(wrong),
  );

/**
 * How to settle a received message.
 *
 * @since 0.1.0
 * @category models
 */
export type Settle =
  | { readonly _tag: "ack" }
  | { readonly _tag: "release" }
  | {
    readonly _tag: "nack";
    readonly delayMillis?: number | undefined;
    readonly reason?: string | undefined;
  }
  | { readonly _tag: "extend"; readonly timeoutMillis: number };

/**
 * Acks, nacks, releases or extends a received message, fenced by its lease.
 *
 * @since 0.1.0
 * @category actions
 */
export const settle = (
  message: ReceivedMessage<unknown>,
  how: Settle,
): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const q = yield* theQueue;
    const t = yield* now;
    switch (how._tag) {
      case "ack":
        yield* q.ack(message);
        return yield* emit({
          json: { id: message.id, acked: true },
          text: `acked ${message.id}`,
        });
      case "release":
        yield* q.release(message);
        return yield* emit({
          json: { id: message.id, released: true },
          text: `released ${message.id}: receivable now, this receive not counted`,
        });
      case "nack": {
        const delay = how.delayMillis ?? 0;
        yield* q.nack(message, {
          delay,
          error: { tag: "Nack", message: how.reason ?? "nacked with dynamomq" },
        });
        return yield* emit({
          json: { id: message.id, nacked: true, visibleAt: t + delay },
          text: `nacked ${message.id}: receivable ${delay === 0 ? "now" : relative(t + delay, t)}`,
        });
      }
      case "extend": {
        const visibleAt = yield* q.changeVisibility(message, how.timeoutMillis);
        return yield* emit({
          json: { id: message.id, visibleAt },
          text: `extended the lease on ${message.id}: it ends ${relative(visibleAt, t)}`,
        });
      }
    }
  });

/**
 * The operations of the admin CLI, shared by the one-shot commands and the interactive shell.
 * Each prints its own result through `emit`: aligned human text by default, JSON with `--json`.
 * Failures are the library's typed errors or a `CliError`; `errors.ts` turns them into one line.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import type {
  DuplicateMessage,
  DynamoDBError,
  InvalidOptions,
  InvalidState,
  LeaseLost,
  PayloadTooLarge,
  TableMismatch,
} from "../Errors.ts";
import { MessageNotFound } from "../Errors.ts";
import { parseItem } from "../internal/envelope.ts";
import { messageKey } from "../internal/keys.ts";
import { metadataJson } from "../internal/messageJson.ts";
import type { MessageInfo, MessageState, ReceivedMessage } from "../schema/Message.ts";
import { DynamoDB } from "../services/DynamoDB.ts";
import type * as Queue from "../services/Queue.ts";
import * as Table from "../services/Table.ts";
import { CliError, ExitCode, usage } from "./errors.ts";
import {
  describeJsonProblem,
  duration,
  fields,
  parseJson,
  relative,
  table,
  truncate,
} from "./format.ts";
import * as Io from "./io.ts";
import { queue as queueOf, type Settings, SettingsTag } from "./session.ts";

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

const now = Clock.currentTimeMillis;

/** The queue with the failures of `Queue.make` reported as usage errors. */
const theQueue: Effect.Effect<Queue.Queue<unknown>, CliError, Env> = Effect.mapError(
  queueOf,
  (e) => usage(e.message, "InvalidOptions"),
);

const bodyText = (body: unknown): string => JSON.stringify(body);

/** A message as listed or fetched, as JSON. */
const infoJson = (m: MessageInfo<unknown>): Record<string, unknown> => ({
  ...metadataJson(m),
  attempts: m.attempts,
  ...(Either.isRight(m.body) ? { body: m.body.right } : { bodyError: m.body.left }),
});

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

const infoBody = (m: MessageInfo<unknown>): string =>
  Either.isRight(m.body) ? bodyText(m.body.right) : `<undecodable: ${m.body.left}>`;

/** When a message is due, in words: for in-flight ones that is when the lease ends. */
const visibility = (m: MessageInfo<unknown>, t: number): string => {
  switch (m.state) {
    case "ready":
      return `since ${relative(m.visibleAt, t)}`;
    case "delayed":
      return relative(m.visibleAt, t);
    case "inflight":
      return `lease ends ${relative(m.visibleAt, t)}`;
    case "dead":
      return `dead since ${relative(m.updatedAt, t)}`;
  }
};

const iso = (t: number): string => new Date(t).toISOString();

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

// --- create-table, iam-policy --------------------------------------------------------------

/**
 * Creates the table, or checks an existing one (idempotent).
 *
 * @since 0.1.0
 * @category actions
 */
export const createTable: Effect.Effect<void, ActionError, Env> = Effect.gen(function* () {
  const s = yield* SettingsTag;
  const result = yield* Table.create(s.table);
  const ttl = result.ttl === "enabled"
    ? 'TTL on "ttl"'
    : "TTL not supported by this backend: tombstones expire by their own timestamps";
  yield* emit({
    json: { ...result, index: "ready", region: s.region ?? null, endpoint: s.endpoint ?? null },
    text: result.created
      ? `created table "${s.table}" (index "ready", ${ttl})`
      : `found table "${s.table}" with the right shape (index "ready", ${ttl}); nothing to do`,
  });
});

/**
 * Options of `iamPolicy`.
 *
 * @since 0.1.0
 * @category models
 */
export interface IamPolicyOptions {
  readonly account?: string | undefined;
  readonly partition?: string | undefined;
  readonly admin: boolean;
}

/**
 * Prints the least-privilege IAM policy for the table (JSON in both output modes).
 *
 * @since 0.1.0
 * @category actions
 */
export const iamPolicy = (options: IamPolicyOptions): Effect.Effect<void, never, Settings> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const policy = Table.iamPolicy({
      table: s.table,
      region: s.region,
      account: options.account,
      partition: options.partition,
      admin: options.admin,
    });
    yield* Io.outLine(JSON.stringify(policy, null, 2));
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
    const q = yield* theQueue;
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
    const q = yield* theQueue;
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
        message:
          `${failed} of ${bodies.length} messages failed (first: stdin line ${first.line}: ${first.message})`,
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
    const dead = deadLettered.map((e) => ({ id: e.messageId, tag: e._tag, message: e.message }));
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

/**
 * Rebuilds a received message from its id and lease token, so a message received in another
 * process can be settled: the fields the settle needs (receive count, attempt history, the end
 * of its deduplication window) are read from the table.
 *
 * @since 0.1.0
 * @category actions
 */
export const leased = (
  id: string,
  lease: string,
): Effect.Effect<ReceivedMessage<unknown>, ActionError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const q = yield* theQueue;
    const info = yield* q.get(id);
    if (Option.isNone(info)) {
      return yield* new MessageNotFound({ queue: s.queue, messageId: id });
    }
    const m = info.value;
    let deduplication: ReceivedMessage<unknown>["deduplication"] = undefined;
    if (m.deduplicationId !== undefined) {
      // The ack of a deduplicated message leaves a tombstone until the end of its window, which
      // only the stored item records.
      const item = yield* (yield* DynamoDB).get(s.table, messageKey(s.queue, id));
      const stored = item === undefined ? undefined : parseItem(item);
      if (stored !== undefined && Either.isRight(stored) && stored.right.dedupUntil !== undefined) {
        deduplication = { id: m.deduplicationId, until: stored.right.dedupUntil };
      }
    }
    return {
      queue: s.queue,
      id,
      body: Either.getOrUndefined(m.body),
      receives: m.receives,
      sentAt: m.sentAt,
      visibleAt: m.visibleAt,
      lease,
      attempts: m.attempts,
      group: m.group,
      priority: m.priority,
      deduplication,
    };
  });

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

// --- admin moves -----------------------------------------------------------------------------

/**
 * Deletes a message in any state.
 *
 * @since 0.1.0
 * @category actions
 */
export const deleteMessage = (id: string): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const q = yield* theQueue;
    yield* q.delete(id);
    yield* emit({ json: { id, deleted: true }, text: `deleted ${id}` });
  });

/**
 * Moves a ready or delayed message to the dead-letter queue.
 *
 * @since 0.1.0
 * @category actions
 */
export const moveToDlq = (
  id: string,
  reason: string | undefined,
): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const q = yield* theQueue;
    yield* q.moveToDeadLetter(
      id,
      reason === undefined ? undefined : { tag: "Manual", message: reason },
    );
    yield* emit({
      json: { id, dead: true },
      text: `moved ${id} to the dead-letter queue`,
    });
  });

/**
 * Which dead-lettered messages `redrive --all` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedriveInput {
  readonly id?: string | undefined;
  readonly all: boolean;
  readonly reasonTag?: string | undefined;
  /** Only messages dead-lettered at or before this time (epoch ms). */
  readonly deadBefore?: number | undefined;
  readonly dryRun: boolean;
}

/** Every dead-lettered message that matches the filter (for the dry run). */
const deadMatching = (
  q: Queue.Queue<unknown>,
  input: RedriveInput,
): Effect.Effect<Array<MessageInfo<unknown>>, ActionError> =>
  Effect.gen(function* () {
    const found: Array<MessageInfo<unknown>> = [];
    let cursor: string | undefined = undefined;
    do {
      const page: Queue.ListPage<unknown> = yield* q.list({ state: "dead", limit: 1000, cursor });
      for (const m of page.messages) {
        if (
          (input.reasonTag === undefined || m.deadReason?.tag === input.reasonTag) &&
          (input.deadBefore === undefined || m.updatedAt <= input.deadBefore)
        ) found.push(m);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return found;
  });

/**
 * Moves dead-lettered messages back to ready (receive count reset): one by `id`, or `all` that
 * match the filters; `dryRun` only shows what would move.
 *
 * @since 0.1.0
 * @category actions
 */
export const redrive = (input: RedriveInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    if (input.id !== undefined && input.all) {
      return yield* usage("give either --id or --all, not both");
    }
    if (input.id === undefined && !input.all) {
      return yield* usage("say which messages: --id <id> for one, or --all (with filters)");
    }
    if (
      input.id !== undefined && (input.reasonTag !== undefined || input.deadBefore !== undefined)
    ) {
      return yield* usage("--reason and --dead-before filter --all, not --id");
    }
    const s = yield* SettingsTag;
    const q = yield* theQueue;
    const t = yield* now;
    if (input.id !== undefined) {
      const id = input.id;
      if (input.dryRun) {
        const info = yield* q.get(id);
        if (Option.isNone(info)) {
          return yield* new MessageNotFound({ queue: s.queue, messageId: id });
        }
        if (info.value.state !== "dead") {
          return yield* new CliError({
            message: `redrive of message ${id}: it is ${info.value.state}, not dead-lettered`,
            code: ExitCode.conflict,
            kind: "InvalidState",
          });
        }
        return yield* emit({
          json: { dryRun: true, count: 1, ids: [id] },
          text: `would redrive ${id} (dry run: nothing changed)`,
        });
      }
      yield* q.redrive(id);
      return yield* emit({
        json: { dryRun: false, count: 1, ids: [id] },
        text: `redrove ${id}: ready now, receive count reset`,
      });
    }
    if (input.dryRun) {
      const matching = yield* deadMatching(q, input);
      const lines = matching.length === 0 ? [] : [deadTable(matching, t), ""];
      return yield* emit({
        json: { dryRun: true, count: matching.length, ids: matching.map((m) => m.id) },
        text: [
          ...lines,
          `would redrive ${plural(matching.length, "message")} (dry run: nothing changed)`,
        ].join("\n"),
      });
    }
    const count = yield* q.redriveAll({
      reasonTag: input.reasonTag,
      deadBefore: input.deadBefore,
    });
    yield* emit({
      json: { dryRun: false, count },
      text: `redrove ${plural(count, "message")}: ready now, receive counts reset`,
    });
  });

/**
 * Options of `purge`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PurgeInput {
  readonly state?: MessageState | undefined;
  /** Skip the confirmation. */
  readonly yes: boolean;
}

/**
 * Deletes every message of the queue, or every message in one state, after asking on stderr
 * (answered on stdin) unless `yes`.
 *
 * @since 0.1.0
 * @category actions
 */
export const purge = (input: PurgeInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const q = yield* theQueue;
    const stats = yield* q.stats;
    const what = input.state === undefined ? "" : ` ${input.state}`;
    const expected = input.state === undefined
      ? stats.ready + stats.delayed + stats.inflight + stats.dead
      : stats[input.state];
    if (expected === 0) {
      return yield* emit({
        json: { purged: 0 },
        text: `nothing to purge: queue "${s.queue}" has no${what} messages`,
      });
    }
    if (!input.yes) {
      yield* Io.err(
        `purge ${
          plural(expected, `${what.trim() === "" ? "" : `${what.trim()} `}message`)
        } from queue "${s.queue}" in table "${s.table}"? [y/N] `,
      );
      const answer = yield* Io.readLine;
      if (answer === undefined) yield* Io.err("\n");
      if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
        return yield* new CliError({
          message: `purge cancelled: nothing was deleted${
            answer === undefined ? " (no answer on stdin; pass --yes to skip the question)" : ""
          }`,
          code: ExitCode.cancelled,
          kind: "Cancelled",
        });
      }
    }
    const purged = yield* q.purge({ state: input.state });
    yield* emit({
      json: { purged },
      text: `purged ${
        plural(purged, `${what.trim() === "" ? "" : `${what.trim()} `}message`)
      } from queue "${s.queue}"`,
    });
  });

// --- look ------------------------------------------------------------------------------------

/**
 * Shows one message without receiving it.
 *
 * @since 0.1.0
 * @category actions
 */
export const get = (id: string): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const q = yield* theQueue;
    const info = yield* q.get(id);
    if (Option.isNone(info)) return yield* new MessageNotFound({ queue: s.queue, messageId: id });
    const t = yield* now;
    yield* emit({ json: infoJson(info.value), text: describeMessage(info.value, t) });
  });

/** A message in full, for `get`, `peek` and the shell's `info`. */
const describeMessage = (m: MessageInfo<unknown>, t: number): string => {
  const pairs: Array<readonly [string, string]> = [
    ["id", m.id],
    ["state", m.state],
    ["receives", String(m.receives)],
    ["priority", String(m.priority)],
    ["sent", `${relative(m.sentAt, t)} (${iso(m.sentAt)})`],
    ["updated", `${relative(m.updatedAt, t)} (${iso(m.updatedAt)})`],
    ["visible", visibility(m, t)],
  ];
  if (m.group !== undefined) pairs.push(["group", m.group]);
  if (m.deduplicationId !== undefined) pairs.push(["dedup id", m.deduplicationId]);
  if (m.deadReason !== undefined) {
    pairs.push(["dead reason", `${m.deadReason.tag}: ${m.deadReason.message}`]);
  }
  pairs.push(["body", infoBody(m)]);
  const attempts = m.attempts.length === 0 ? [] : [
    "",
    "attempts:",
    table(
      ["RECEIVE", "WHEN", "ERROR", "MESSAGE"],
      m.attempts.map((a) => [String(a.receive), relative(a.at, t), a.tag, truncate(a.message, 60)]),
      ["right"],
    ),
  ];
  return [fields(pairs), ...attempts].join("\n");
};

/**
 * Options of `ls` and `peek`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListInput {
  readonly state: MessageState;
  readonly limit: number;
  readonly cursor?: string | undefined;
  /** `peek`: each message in full rather than one row each. */
  readonly full: boolean;
}

/**
 * Lists messages in one state, oldest first, one page at a time.
 *
 * @since 0.1.0
 * @category actions
 */
export const list = (input: ListInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const q = yield* theQueue;
    const page = yield* q.list({ state: input.state, limit: input.limit, cursor: input.cursor });
    const t = yield* now;
    const body = page.messages.length === 0
      ? `no ${input.state} messages`
      : input.full
      ? page.messages.map((m) => describeMessage(m, t)).join("\n\n")
      : table(
        ["ID", "RECEIVES", "PRIO", "SENT", "VISIBLE", "BODY"],
        page.messages.map((m) => [
          m.id,
          String(m.receives),
          String(m.priority),
          relative(m.sentAt, t),
          visibility(m, t),
          truncate(infoBody(m), 50),
        ]),
        ["left", "right", "right"],
      );
    const count = plural(page.messages.length, `${input.state} message`);
    const footer = page.cursor !== undefined
      ? `\n${count}; next page: --cursor ${page.cursor}`
      : page.messages.length > 0
      ? `\n${count}`
      : "";
    yield* emit({
      json: {
        state: input.state,
        messages: page.messages.map(infoJson),
        cursor: page.cursor ?? null,
      },
      text: `${body}${footer}`,
    });
  });

const deadTable = (messages: ReadonlyArray<MessageInfo<unknown>>, t: number): string =>
  table(
    ["ID", "RECEIVES", "DEAD SINCE", "REASON", "BODY"],
    messages.map((m) => [
      m.id,
      String(m.receives),
      relative(m.updatedAt, t),
      truncate(
        m.deadReason === undefined ? "" : `${m.deadReason.tag}: ${m.deadReason.message}`,
        50,
      ),
      truncate(infoBody(m), 40),
    ]),
    ["left", "right"],
  );

/**
 * The dead-letter queue: how many, and one page of them with their reasons.
 *
 * @since 0.1.0
 * @category actions
 */
export const dlq = (
  input: { readonly limit: number; readonly cursor?: string | undefined },
): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const q = yield* theQueue;
    const stats = yield* q.stats;
    const page = yield* q.list({ state: "dead", limit: input.limit, cursor: input.cursor });
    const t = yield* now;
    const lines = [`dead-letter queue of "${s.queue}": ${plural(stats.dead, "message")}`];
    if (page.messages.length > 0) lines.push("", deadTable(page.messages, t));
    if (page.cursor !== undefined) lines.push(`next page: --cursor ${page.cursor}`);
    yield* emit({
      json: {
        count: stats.dead,
        messages: page.messages.map(infoJson),
        cursor: page.cursor ?? null,
      },
      text: lines.join("\n"),
    });
  });

/**
 * Counts per state as table rows.
 *
 * @since 0.1.0
 * @category formatting
 */
export const statsTable = (
  stats: Queue.QueueStats,
  rates?: Readonly<Record<"ready" | "delayed" | "inflight" | "dead", string>>,
): string => {
  const rows: Array<[string, "ready" | "delayed" | "inflight" | "dead"]> = [
    ["ready", "ready"],
    ["delayed", "delayed"],
    ["in flight", "inflight"],
    ["dead", "dead"],
  ];
  return table(
    rates === undefined ? ["STATE", "COUNT"] : ["STATE", "COUNT", "RATE"],
    rows.map(([label, key]) =>
      rates === undefined ? [label, String(stats[key])] : [label, String(stats[key]), rates[key]]
    ),
    ["left", "right", "right"],
  );
};

/**
 * Counts per state and the age of the oldest ready message.
 *
 * @since 0.1.0
 * @category actions
 */
export const stats: Effect.Effect<void, ActionError, Env> = Effect.gen(function* () {
  const s = yield* SettingsTag;
  const q = yield* theQueue;
  const st = yield* q.stats;
  yield* emit({
    json: { queue: s.queue, table: s.table, ...st },
    text: [
      `queue "${s.queue}" in table "${s.table}"`,
      statsTable(st),
      `oldest ready message: ${
        st.ready === 0 ? "none" : `sent ${duration(st.oldestReadyAge)} ago`
      }`,
    ].join("\n"),
  });
});

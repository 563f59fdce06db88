/**
 * The read-only commands of the CLI: `get`, `ls`, `peek`, `dlq` and `stats` (whose table
 * `watch` shares). None of them receives or changes a message.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Option from "effect/Option";
import { MessageNotFound } from "../../Errors.ts";
import type { MessageInfo, MessageState } from "../../schema/Message.ts";
import type * as Queue from "../../services/Queue.ts";
import { duration, fields, relative, table, truncate } from "../format.ts";
import { SettingsTag } from "../session.ts";
import {
  type ActionError,
  deadTable,
  emit,
  type Env,
  infoBody,
  infoJson,
  iso,
  now,
  plural,
  reasonText,
  theQueue,
} from "./shared.ts";

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
    pairs.push(["dead reason", reasonText(m.deadReason)]);
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

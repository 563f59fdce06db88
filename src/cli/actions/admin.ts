/**
 * The admin commands of the CLI: `create-table`, `iam-policy`, and the moves that need no
 * lease — `delete`, `move-to-dlq`, `redrive` (one, or all that match, with a dry run) and
 * `purge` (after a confirmation).
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Option from "effect/Option";
import { MessageNotFound } from "../../Errors.ts";
import type { MessageInfo, MessageState } from "../../schema/Message.ts";
import type * as Queue from "../../services/Queue.ts";
import * as Table from "../../services/Table.ts";
import { CliError, ExitCode, usage } from "../errors.ts";
import * as Io from "../io.ts";
import { type Settings, SettingsTag } from "../session.ts";
import { type ActionError, deadTable, emit, type Env, now, plural, theQueue } from "./shared.ts";

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

/**
 * The queue lifecycle commands of the CLI: `queue create | describe | update | delete | list`,
 * over the library's `Queue.define`, `Queue.describe`, `Queue.update`, `Queue.delete` and
 * `Catalog.list`. A queue's settings live in its definition in the table; these are the only
 * commands that write one (besides `send`, which defines a queue that has none).
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Option from "effect/Option";
import { QueueNotFound } from "../../Errors.ts";
import { definitionOf } from "../../internal/queue/definition.ts";
import * as Catalog from "../../services/Catalog.ts";
import * as Queue from "../../services/Queue.ts";
import { usage } from "../errors.ts";
import { duration, table } from "../format.ts";
import { SettingsTag } from "../session.ts";
import { type ActionError, emit, type Env, iso, plural } from "./shared.ts";

/**
 * What `dynamomq queue` was asked to do.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueCommandInput {
  readonly action: "create" | "describe" | "update" | "delete" | "list";
  readonly visibilityTimeoutMillis?: number | undefined;
  readonly deduplicationWindowMillis?: number | undefined;
  readonly expectedVersion?: number | undefined;
  readonly force: boolean;
}

const definitionText = (d: Catalog.QueueDefinition): string =>
  [
    `queue                ${d.name}`,
    `version              ${
      d.version === 0 ? "0 (not yet defined: an earlier release's catalog item)" : d.version
    }`,
    `shards               ${d.shards}`,
    `priorities           ${d.priorities}`,
    `max receives         ${d.maxReceives}`,
    `visibility timeout   ${duration(d.visibilityTimeoutMillis)}`,
    `dedup window         ${duration(d.deduplicationWindowMillis)}`,
    `compress above       ${d.compressAbove === false ? "never" : `${d.compressAbove} bytes`}`,
    `content dedup        ${d.contentBasedDeduplication ? "yes" : "no"}`,
    `defined              ${iso(d.definedAt)}`,
    `updated              ${iso(d.updatedAt)}`,
  ].join("\n");

/** The JSON form: exactly the definition's fields. */
const definitionJson = (d: Catalog.QueueDefinition): Record<string, unknown> => ({
  ...definitionOf(d),
});

/**
 * Runs one `dynamomq queue` action against the selected `--queue` (all of the table's for
 * `list`).
 *
 * @since 0.1.0
 * @category actions
 */
export const queueCommand = (input: QueueCommandInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    const name = s.queue;
    const needsQueue = input.action !== "list";
    if (needsQueue && s.queueGiven !== true) {
      return yield* usage(`queue ${input.action} needs --queue <name>`);
    }
    switch (input.action) {
      case "create": {
        const d = yield* Queue.define({
          table: s.table,
          name,
          shards: s.shards,
          priorities: s.priorities,
          maxReceives: s.maxReceives,
          visibilityTimeout: input.visibilityTimeoutMillis,
          deduplicationWindow: input.deduplicationWindowMillis,
        });
        return yield* emit({
          json: definitionJson(d),
          text: `queue "${name}" is defined (version ${d.version})\n${definitionText(d)}`,
        });
      }
      case "describe": {
        const found = yield* Queue.describe(s.table, name);
        if (Option.isNone(found)) {
          return yield* new QueueNotFound({ table: s.table, queue: name });
        }
        return yield* emit({
          json: { ...definitionJson(found.value), completed: found.value.completed },
          text: definitionText(found.value),
        });
      }
      case "update": {
        const d = yield* Queue.update(s.table, name, {
          shards: s.shards,
          priorities: s.priorities,
          maxReceives: s.maxReceives,
          visibilityTimeout: input.visibilityTimeoutMillis,
          deduplicationWindow: input.deduplicationWindowMillis,
          expectedVersion: input.expectedVersion,
        });
        return yield* emit({
          json: definitionJson(d),
          text: `queue "${name}" updated to version ${d.version}; running handles apply it within ${
            duration(Queue.definitionRefreshMillis)
          }\n${definitionText(d)}`,
        });
      }
      case "delete": {
        const { messages } = yield* Queue.delete(s.table, name, { force: input.force });
        return yield* emit({
          json: { deleted: name, messages },
          text: `deleted queue "${name}"${
            messages > 0 ? ` and its ${plural(messages, "message")}` : ""
          }`,
        });
      }
      case "list": {
        const queues = yield* Catalog.list(s.table);
        return yield* emit({
          json: { queues: queues.map(definitionJson) },
          text: queues.length === 0 ? `no queues defined in table "${s.table}"` : table(
            ["QUEUE", "VERSION", "SHARDS", "PRIORITIES", "MAX RECEIVES", "VISIBILITY"],
            queues.map((d) => [
              d.name,
              String(d.version),
              String(d.shards),
              String(d.priorities),
              String(d.maxReceives),
              duration(d.visibilityTimeoutMillis),
            ]),
            ["left", "right", "right", "right", "right", "right"],
          ),
        });
      }
    }
  });

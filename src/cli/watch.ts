/**
 * `dynamomq watch`: a live view of one queue — counts per state, how fast each changes, the
 * age of the oldest ready message — redrawn in place on a terminal, one frame after another
 * when piped, or one JSON line per refresh with `--json`.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import type { QueueStats } from "../services/Queue.ts";
import { type ActionError, type Env, statsTable } from "./actions.ts";
import { usage } from "./errors.ts";
import { duration, rate } from "./format.ts";
import * as Io from "./io.ts";
import { queue as queueOf, SettingsTag } from "./session.ts";

/**
 * Options of `watch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WatchInput {
  /** Time between refreshes, milliseconds. */
  readonly intervalMillis: number;
  /** Stop after this many frames (runs until interrupted when absent). */
  readonly iterations?: number | undefined;
}

type Counted = "ready" | "delayed" | "inflight" | "dead";
const COUNTED: ReadonlyArray<Counted> = ["ready", "delayed", "inflight", "dead"];

/**
 * Refreshes the view every interval until interrupted (Ctrl-C) or `iterations` frames are shown.
 *
 * @since 0.1.0
 * @category actions
 */
export const watch = (input: WatchInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    if (input.intervalMillis < 100) return yield* usage("--interval must be at least 100ms");
    if (input.iterations !== undefined && input.iterations < 1) {
      return yield* usage("--iterations must be at least 1");
    }
    const s = yield* SettingsTag;
    const q = yield* Effect.catchTag(
      queueOf,
      "InvalidOptions",
      (e) => Effect.fail(usage(e.message, "InvalidOptions")),
    );
    const inPlace = !s.json && Io.terminals().stdout;
    let previous: { at: number; stats: QueueStats } | undefined;
    let drawnLines = 0;
    for (let frame = 1; input.iterations === undefined || frame <= input.iterations; frame++) {
      if (frame > 1) yield* Effect.sleep(input.intervalMillis);
      const stats = yield* q.stats;
      const at = yield* Clock.currentTimeMillis;
      const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
      const rates = previous === undefined || seconds <= 0 ? undefined : Object.fromEntries(
        COUNTED.map((k) => [k, (stats[k] - previous!.stats[k]) / seconds]),
      ) as Record<Counted, number>;
      previous = { at, stats };
      if (s.json) {
        yield* Io.outLine(JSON.stringify({ at, queue: s.queue, ...stats, rates: rates ?? null }));
        continue;
      }
      const text = [
        `queue "${s.queue}" in table "${s.table}" — ${
          new Date(at).toISOString().slice(11, 19)
        } UTC, every ${duration(input.intervalMillis)}${inPlace ? " (Ctrl-C to stop)" : ""}`,
        statsTable(
          stats,
          Object.fromEntries(
            COUNTED.map((k) => [k, rates === undefined ? "—" : rate(rates[k])]),
          ) as Record<Counted, string>,
        ),
        `oldest ready message: ${
          stats.ready === 0 ? "none" : `sent ${duration(stats.oldestReadyAge)} ago`
        }`,
      ].join("\n");
      // On a terminal, move back over the previous frame and clear it: refreshed in place.
      const rewind = inPlace && drawnLines > 0 ? `\x1b[${drawnLines}A\r\x1b[J` : "";
      const separator = !inPlace && frame > 1 ? "\n" : "";
      yield* Io.out(`${rewind}${separator}${text}\n`);
      drawnLines = text.split("\n").length;
    }
  });

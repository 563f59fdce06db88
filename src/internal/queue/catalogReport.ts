/**
 * The catalog side of one queue handle: it reads its queue's stored definition again (catalog
 * item `#queues / <queue>`) at most every `DEFINITION_REFRESH_MILLIS`, beside a later send,
 * sendBatch, receive, ack or ackBatch, and applies a newer version's live settings
 * (`maxReceives`, visibility timeout, deduplication window, compression) to the context; and it
 * adds acks to the item's `completed` count (the dashboard's throughput) beside such a request.
 *
 * Requests: `refresh` is one GetItem of the catalog item; `addCompleted` one UpdateItem with ADD
 * `completed` (not conditional).
 *
 * Invariants:
 * - A catalog request never fails nor delays the request it rides with beyond running beside it:
 *   a failure is logged (debug), the refresh tried again after the next interval, the count kept
 *   for the next report. An interrupted refresh or report is tried again by a later request.
 * - The refresh bound: a definition updated at time U is in effect for every request a busy
 *   handle starts after U + `DEFINITION_REFRESH_MILLIS` + the one request that carried the read.
 * - `shards` and `priorities` of a running handle never change (the update refuses them).
 * - Acks are reported at most once per `COMPLETED_REPORT_MILLIS` per handle, the window starting
 *   at the first ack counted, so a short-lived handle reports nothing.
 * - A request with nothing due costs one clock read and forks nothing.
 *
 * This module owns the handle's only mutable state (`CatalogState` and the context's
 * `LiveSettings`); nothing else writes them.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import { exists } from "../../services/DynamoDB.ts";
import { CATALOG_PK } from "../keys.ts";
import type { QueueContext } from "./context.ts";
import { LIVE, readDefinition, withDefined } from "./definition.ts";

/** How often a handle adds its acks to the catalog's `completed` count, at most. */
const COMPLETED_REPORT_MILLIS = 10_000;

/** How often a busy handle reads its queue's definition again, at most (and at least). */
export const DEFINITION_REFRESH_MILLIS = 10_000;

/** The mutable reporting state of one handle. */
interface CatalogState {
  /** Whether a read of the definition is under way. */
  refreshing: boolean;
  /** Acks counted and not yet added to the catalog item. */
  unreported: number;
  /** When the current report window began; unset until the first ack is counted. */
  reportWindowStart: number | undefined;
  /** Whether an `addCompleted` is under way. */
  reporting: boolean;
}

/** What the protocols use to report to the catalog. */
export interface CatalogReport {
  /** Runs a request with the catalog reads and writes that are due beside it. */
  readonly withCatalog: <X, E, R>(effect: Effect.Effect<X, E, R>) => Effect.Effect<X, E, R>;
  /** Counts `n` acks for the next report. */
  readonly countCompleted: (n: number) => Effect.Effect<void>;
}

/** The catalog reporting of one handle, with fresh state. */
export const makeCatalogReport = <A>(ctx: QueueContext<A>): CatalogReport => {
  const { db, table, name, live, now } = ctx;
  const state: CatalogState = {
    refreshing: false,
    unreported: 0,
    reportWindowStart: undefined,
    reporting: false,
  };

  const refreshDue = (t: number): boolean =>
    !state.refreshing && t - live.readAt >= DEFINITION_REFRESH_MILLIS;

  const refresh = (t: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!refreshDue(t)) return Effect.void;
      state.refreshing = true;
      return readDefinition(db, table, name).pipe(
        Effect.flatMap((stored) =>
          Effect.suspend(() => {
            live.readAt = t;
            if (stored === undefined || stored.version === 0) {
              return live.version === 0 ? Effect.void : Effect.logWarning(
                "DynamoMQ: the queue's definition is gone (deleted); the handle keeps its settings",
              ).pipe(Effect.annotateLogs({ queue: name, table }));
            }
            if (stored.version <= live.version) return Effect.void;
            const changed = Object.fromEntries(LIVE.map((k) => [k, stored[k]]));
            live.current = withDefined(live.current, { ...live.current, ...changed });
            live.version = stored.version;
            return Effect.logDebug("DynamoMQ: applied a new version of the queue's definition")
              .pipe(Effect.annotateLogs({ queue: name, table, version: stored.version }));
          })
        ),
        Effect.catchAll((e) =>
          Effect.sync(() => {
            live.readAt = t;
          }).pipe(
            Effect.zipRight(
              Effect.logDebug("DynamoMQ: could not read the queue's definition again").pipe(
                Effect.annotateLogs({ queue: name, table, error: e.message }),
              ),
            ),
          )
        ),
        Effect.ensuring(Effect.sync(() => {
          state.refreshing = false;
        })),
      );
    });

  const reportDue = (t: number): boolean =>
    !state.reporting && state.unreported > 0 && state.reportWindowStart !== undefined &&
    t - state.reportWindowStart >= COMPLETED_REPORT_MILLIS;

  const reportCompleted = (t: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!reportDue(t)) return Effect.void;
      const count = state.unreported;
      state.unreported = 0;
      state.reporting = true;
      state.reportWindowStart = t;
      // ADD, so every handle of the queue can report at once without losing any; conditioned on
      // the catalog item existing, so a handle still running after `Queue.delete` does not
      // recreate a shapeless item (its count is then dropped with the queue).
      return db.update(table, { pk: CATALOG_PK, sk: name }, { add: { completed: count } }, {
        condition: exists("pk"),
      }).pipe(
        Effect.catchTag("ConditionFailed", () => Effect.void),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            state.reporting = false;
            if (Exit.isFailure(exit)) state.unreported += count;
          })
        ),
        Effect.catchAll((e) =>
          Effect.logDebug("DynamoMQ: could not report acks to the queue's catalog item").pipe(
            Effect.annotateLogs({ queue: name, table, error: e.message }),
          )
        ),
      );
    });

  return {
    // The clock is read only to start a report window (at the first ack counted).
    countCompleted: (n) =>
      Effect.suspend(() => {
        state.unreported += n;
        return state.reportWindowStart !== undefined ? Effect.void : Effect.map(now, (t) => {
          state.reportWindowStart ??= t;
        });
      }),
    // Almost every request has nothing due and costs one clock read: no fiber is forked for it.
    withCatalog: (effect) =>
      Effect.flatMap(
        now,
        (t) =>
          !refreshDue(t) && !reportDue(t) ? effect : Effect.zipLeft(
            effect,
            Effect.zip(refresh(t), reportCompleted(t)),
            { concurrent: true },
          ),
      ),
  };
};

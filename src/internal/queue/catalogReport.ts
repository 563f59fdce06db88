/**
 * Catalog reporting of one queue handle: the queue's catalog item (`Catalog.ts`) is registered
 * beside the handle's first send, sendBatch, receive, ack or ackBatch, and acks are added to its
 * `completed` count (the dashboard's throughput) beside a later such request.
 *
 * Requests: `register` is one UpdateItem on `#queues / <queue>` (SET of the queue's shape),
 * `addCompleted` one UpdateItem with ADD `completed`. Neither is conditional.
 *
 * Invariants:
 * - A catalog write never fails nor delays the request it rides with beyond running beside it:
 *   a failure is logged (register: warning, not retried; report: debug, the count kept for the
 *   next report). An interrupted register is tried again by a later request.
 * - Acks are reported at most once per `COMPLETED_REPORT_MILLIS` per handle, the window starting
 *   at the first ack counted, so a short-lived handle reports nothing.
 * - A request with nothing due costs one clock read and forks nothing.
 *
 * This module owns the handle's only mutable state (`CatalogState`); nothing else writes it.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import { addCompleted, register } from "../../services/Catalog.ts";
import { DynamoDB } from "../../services/DynamoDB.ts";
import type { QueueContext } from "./context.ts";

/** How often a handle adds its acks to the catalog's `completed` count, at most. */
const COMPLETED_REPORT_MILLIS = 10_000;

/** The mutable reporting state of one handle. */
interface CatalogState {
  /** Whether the catalog item was registered (or a register is under way). */
  registration: "pending" | "writing" | "done";
  /** Acks counted and not yet added to the catalog item. */
  unreported: number;
  /** When the current report window began; unset until the first ack is counted. */
  reportWindowStart: number | undefined;
  /** Whether an `addCompleted` is under way. */
  reporting: boolean;
}

/** What the protocols use to report to the catalog. */
export interface CatalogReport {
  /** Runs a request with the catalog writes that are due beside it. */
  readonly withCatalog: <X, E, R>(effect: Effect.Effect<X, E, R>) => Effect.Effect<X, E, R>;
  /** Counts `n` acks for the next report. */
  readonly countCompleted: (n: number) => Effect.Effect<void>;
}

/** The catalog reporting of one handle, with fresh state. */
export const makeCatalogReport = <A>(ctx: QueueContext<A>): CatalogReport => {
  const { db, table, name, settings, now } = ctx;
  const state: CatalogState = {
    registration: "pending",
    unreported: 0,
    reportWindowStart: undefined,
    reporting: false,
  };

  const registerCatalog = (registeredAt: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      // Another request may have started it since this one looked.
      if (state.registration !== "pending") return Effect.void;
      state.registration = "writing";
      return register(table, {
        name,
        shards: settings.shards,
        priorities: settings.priorities,
        maxReceives: settings.maxReceives,
        visibilityTimeoutMillis: settings.visibilityTimeoutMillis,
        registeredAt,
      }).pipe(
        Effect.provideService(DynamoDB, db),
        Effect.catchAll((e) =>
          Effect.logWarning("DynamoMQ: could not write the queue's catalog item").pipe(
            Effect.annotateLogs({ queue: name, table, error: e.message }),
          )
        ),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            state.registration = Exit.isInterrupted(exit) ? "pending" : "done";
          })
        ),
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
      return addCompleted(table, name, count).pipe(
        Effect.provideService(DynamoDB, db),
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
    countCompleted: (n) =>
      Effect.flatMap(now, (t) =>
        Effect.sync(() => {
          state.unreported += n;
          state.reportWindowStart ??= t;
        })),
    // Almost every request has nothing due and costs one clock read: no fiber is forked for it.
    withCatalog: (effect) =>
      Effect.flatMap(
        now,
        (t) =>
          state.registration !== "pending" && !reportDue(t) ? effect : Effect.zipLeft(
            effect,
            Effect.zip(registerCatalog(t), reportCompleted(t)),
            { concurrent: true },
          ),
      ),
  };
};

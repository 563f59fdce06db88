/**
 * The invariants the simulation checks, the violations it reports, and which known defects
 * (issue #14) a violation is attributed to.
 *
 * Checked after every write that reaches the table (observer.ts), after every actor operation
 * (actors.ts) and at the end of a run after a fault-free drain (runner.ts):
 * - `message-lost`: every message that was written is eventually acked, dead-lettered with a
 *   reason, or removed by an admin (purge, cancel, delete);
 * - `stuck`: after the drain no live message is left that nobody can receive;
 * - `two-live-holders`: no receive hands out a message whose lease, as handed out to another
 *   receiver (heartbeats included), had not expired when this receive started;
 * - `group-exclusive`, `group-order`: at most one message of a group in flight, and a grouped
 *   message is claimed only when no earlier message of its group is left;
 * - `dead-letter-reason`: a message is dead-lettered only at `maxReceives` or on request;
 * - `wasted-receives`: a message is dead-lettered with `MaxReceivesExceeded` only when at least
 *   `maxReceives` of its counted claims reached a receiver: a claim whose response was lost and
 *   that its receive never handed out must not count toward dead-lettering. Excused, as a receiver
 *   that crashed is: a claim whose receive was cut short by a crash, or completed only after the
 *   claim's lease had run out (its requests failed or stalled that long, or it was not scheduled:
 *   a paused process; the message may be claimed by another receive by then, so no request of the
 *   first can tell its claim apart any more);
 * - `redrive-reset`: redrive puts a message back with its receive count at 0;
 * - `stranded-claim`: a claim that succeeded (its response reached the queue) is handed to the
 *   receiver or dead-lettered, never dropped;
 * - `resurrected`: an acked message is never written back;
 * - `live-and-dead`: no message is both dead-lettered and acked or live at the end;
 * - `acked-twice`: a message is acked at most once;
 * - `duplicated`: a message is never written a second time while it is still queued;
 * - `outcome`: an operation whose write applied (response lost, then retried) does not report
 *   that it failed (`LeaseLost` for an ack, `DuplicateMessage` for a send);
 * - `stats`: stats match the items, list pages through every message with its own cursors;
 * - `unexpected-error`: no operation fails with an error that its inputs cannot explain;
 * - `hang`: a run ends within its budget of scheduling points (no livelock, no endless retry
 *   loop), and no released thread waits for something outside the scheduler (runner.ts).
 */

/** The invariant names. */
export type InvariantName =
  | "message-lost"
  | "stuck"
  | "two-live-holders"
  | "group-exclusive"
  | "group-order"
  | "dead-letter-reason"
  | "wasted-receives"
  | "redrive-reset"
  | "stranded-claim"
  | "resurrected"
  | "live-and-dead"
  | "acked-twice"
  | "duplicated"
  | "outcome"
  | "stats"
  | "unexpected-error"
  | "hang";

/**
 * The known defects of today's code, by the numbers of issue #14, with how the simulation
 * recognises each.
 */
export const knownDefects: { readonly [id: string]: string } = {};

/** One broken invariant. */
export interface Violation {
  readonly invariant: InvariantName;
  /** Where in the run: the step number. */
  readonly step: number;
  readonly detail: string;
  /** The known defect this matches, if any (see {@linkcode knownDefects}). */
  readonly defect?: string | undefined;
}

/**
 * Whether a violation fails the run: always in strict mode, otherwise unless it is a known
 * defect that is still listed in {@linkcode knownDefects} (a fixed defect is removed from it, so
 * the simulation then guards the fix).
 */
export const isFailure = (v: Violation, strict: boolean): boolean =>
  strict || v.defect === undefined || !(v.defect in knownDefects);

/**
 * Admin operations on messages by id and in bulk: reschedule, cancel, delete, moveToDeadLetter,
 * redrive, redriveAll and purge (docs/design.md "Operations and their cost", "Dead-letter
 * queue"; grouped messages in docs/design.md "FIFO message groups").
 *
 * Requests:
 * - reschedule, cancel, moveToDeadLetter, redrive: read-check-write — `inspect.locate` (GetItem),
 *   then one UpdateItem (cancel: DeleteItem) conditioned on the item being unchanged since the
 *   read (`updatedAt`, `state`, `receives`), the whole retried up to five times when that
 *   condition fails. A grouped message is dead-lettered with `fifo.deadLetterGrouped` (one
 *   TransactWriteItems; its group woken with `fifo.wakeGroup` afterwards) and redriven with
 *   `fifo.redriveGrouped` (one TransactWriteItems: put back at its sequence number, dead copy
 *   deleted, group counters moved and the group made due; `Unsupported` without transactions).
 * - delete: `inspect.locate`, then one DeleteItem conditioned on `state IN (ready, inflight,
 *   dead)` (never a tombstone); a grouped message that was in flight frees its group
 *   (`fifo.freeGroup`, conditioned on the message's lease), then the group is woken.
 * - redriveAll: `inspect.forEachEntryPage` over the dead partition, BatchGetItem for the bodies
 *   the filter reads, then a redrive per match, 16 at a time.
 * - purge: Query per index page; everything: BatchWriteItem deletes (25 keys, four requests at a
 *   time, unprocessed keys retried with jittered backoff), then each FIFO group item made due now
 *   (UpdateItem conditioned on its `gsk` as read); one state: one DeleteItem per entry
 *   conditioned on its `gsk` and `state` as read.
 *
 * Invariants: reschedule and cancel touch only pending messages (stored `ready`), and
 * moveToDeadLetter none under a live lease (`InvalidState`); delete takes any state. A lost race
 * with a concurrent change is retried, not reported; a FIFO group item is never deleted, since
 * that would restart its sequence counters under concurrent senders.
 *
 * @module
 */
import * as Chunk from "effect/Chunk";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Random from "effect/Random";
import {
  ConditionFailed,
  DynamoDBError,
  InvalidState,
  type MessageNotFound,
} from "../../Errors.ts";
import { deriveState, type StoredMessage } from "../envelope.ts";
import { groupedPartition, groupMessageSk, groupPk, indexSortKey, messageKey } from "../keys.ts";
import type { MessageInfo, MessageState } from "../../schema/Message.ts";
import {
  and,
  type Condition,
  eq,
  isIn,
  type Item,
  type Key,
  MAX_BATCH_WRITE,
} from "../../services/DynamoDB.ts";
import type { Queue } from "../../services/Queue.ts";
import { deadFields, ignoreLost, infoOf, type QueueContext } from "./context.ts";
import { deadLetterGrouped, freeGroup, groupEntryId, redriveGrouped, wakeGroup } from "./fifo.ts";
import { fetchItems, forEachEntryPage, locate, type Located, notFound } from "./inspect.ts";
import { durationMillis, invalid, messageIdOf, stateOf, timeOf } from "./options.ts";

/** The most BatchWriteItem requests purge sends for one chunk of 25 deletes. */
const BATCH_DELETE_ATTEMPTS = 8;

/** Conditioned on the item not having changed since it was read. */
const unchanged = (s: StoredMessage): Condition =>
  and(eq("updatedAt", s.updatedAt), eq("state", s.state), eq("receives", s.receives));

/**
 * Runs an admin read-check-write again when a concurrent change slipped in between the read
 * and the write (the write is conditioned on the item being unchanged since the read).
 */
const retryOnRace = <X, E>(effect: Effect.Effect<X, E | ConditionFailed>): Effect.Effect<X, E> =>
  effect.pipe(
    Effect.retry({ times: 5, while: (e) => e instanceof ConditionFailed }),
    Effect.catchIf(
      (e): e is ConditionFailed => e instanceof ConditionFailed,
      (e) => Effect.die(e),
    ),
  ) as Effect.Effect<X, E>;

/** The admin side of a queue handle: operations on messages by id, and on many at once. */
export const makeAdmin = <A>(
  ctx: QueueContext<A>,
): Pick<
  Queue<A>,
  "reschedule" | "cancel" | "delete" | "moveToDeadLetter" | "redrive" | "redriveAll" | "purge"
> => {
  const { db, table, name, now, attrs } = ctx;

  const invalidState = (
    id: string,
    operation: string,
    state: MessageState,
    expected: string,
  ): InvalidState => new InvalidState({ queue: name, messageId: id, operation, state, expected });

  /** A grouped message changed by an admin may now be its group's head: let a consumer look. */
  const wakeIfGrouped = (s: StoredMessage, t: number): Effect.Effect<void, DynamoDBError> =>
    s.group === undefined ? Effect.void : wakeGroup(ctx, s.group, s.priority, t);

  /** Finds a message that must be pending (ready or delayed), for reschedule and cancel. */
  const locatePending = (
    id: string,
    operation: string,
  ): Effect.Effect<
    Located & { readonly t: number },
    MessageNotFound | InvalidState | DynamoDBError
  > =>
    Effect.gen(function* () {
      const found = yield* locate(ctx, id);
      const t = yield* now;
      const state = deriveState(found.s.state, found.s.visibleAt, t);
      if (found.s.state !== "ready") {
        return yield* invalidState(id, operation, state, "ready or delayed");
      }
      return { ...found, t };
    });

  const reschedule: Queue<A>["reschedule"] = (id, when) =>
    retryOnRace(Effect.gen(function* () {
      yield* messageIdOf("reschedule", id);
      // Both checked before anything is read or written.
      const at = "at" in when ? yield* timeOf("reschedule", when.at) : undefined;
      const delay = "at" in when
        ? 0
        : yield* durationMillis("reschedule", "delay", when.delay, Duration.zero);
      const { key, s, t } = yield* locatePending(id, "reschedule");
      const visibleAt = at ?? t + delay;
      yield* db.update(table, key, {
        set: { gsk: indexSortKey(visibleAt, id), visibleAt, updatedAt: t },
      }, { condition: unchanged(s) });
      yield* wakeIfGrouped(s, t);
      return visibleAt;
    })).pipe(Effect.withSpan("DynamoMQ.reschedule", { attributes: attrs }));

  const cancel: Queue<A>["cancel"] = (id) =>
    retryOnRace(Effect.gen(function* () {
      yield* messageIdOf("cancel", id);
      const { key, s, t } = yield* locatePending(id, "cancel");
      yield* db.delete(table, key, { condition: unchanged(s) });
      yield* wakeIfGrouped(s, t);
    })).pipe(Effect.withSpan("DynamoMQ.cancel", { attributes: attrs }));

  const deleteMessage: Queue<A>["delete"] = (id) =>
    Effect.gen(function* () {
      yield* messageIdOf("delete", id);
      const { key, s } = yield* locate(ctx, id);
      yield* db.delete(table, key, { condition: isIn("state", ["ready", "inflight", "dead"]) })
        .pipe(
          Effect.catchTag("ConditionFailed", () => Effect.fail(notFound(ctx, id))),
        );
      const t = yield* now;
      // An in-flight head held its group under the same lease: free the group at once.
      if (s.group !== undefined && s.state === "inflight" && s.lease !== undefined) {
        yield* freeGroup(ctx, s.group, s.lease, t);
      }
      yield* wakeIfGrouped(s, t);
    }).pipe(Effect.withSpan("DynamoMQ.delete", { attributes: attrs }));

  const moveToDeadLetter: Queue<A>["moveToDeadLetter"] = (id, reason) =>
    retryOnRace(Effect.gen(function* () {
      yield* messageIdOf("moveToDeadLetter", id);
      const { key, item, s } = yield* locate(ctx, id);
      if (s.state === "dead") return;
      const t = yield* now;
      const state = deriveState(s.state, s.visibleAt, t);
      if (state === "inflight") {
        return yield* invalidState(id, "moveToDeadLetter", state, "ready or delayed");
      }
      const why = reason ?? { tag: "Manual", message: "moved to the dead-letter queue" };
      if (s.group !== undefined) {
        yield* deadLetterGrouped(ctx, item, why, unchanged(s), t);
        return yield* wakeIfGrouped(s, t);
      }
      yield* db.update(table, key, { set: deadFields(ctx, t, id, why), remove: ["lease"] }, {
        condition: unchanged(s),
      });
    })).pipe(Effect.withSpan("DynamoMQ.moveToDeadLetter", { attributes: attrs }));

  /**
   * Moves a dead message back to ready with its receive count reset. A grouped one returns to
   * its place in its group (its sequence number): put back first, then its dead copy removed.
   */
  const redriveLocated = (
    { item, s }: Located,
    t: number,
  ): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
    Effect.gen(function* () {
      const ready = {
        state: "ready",
        gsk: indexSortKey(t, s.id),
        visibleAt: t,
        updatedAt: t,
        receives: 0,
      };
      if (s.group === undefined || s.seq === undefined) {
        return yield* db.update(table, messageKey(name, s.id), {
          set: { ...ready, gpk: s.home },
          remove: ["deadReason", "lease"],
        }, { condition: unchanged(s) });
      }
      const { deadReason: _reason, lease: _lease, moveToken: _token, ...rest } = item;
      yield* redriveGrouped(
        ctx,
        item,
        {
          ...rest,
          ...ready,
          pk: groupPk(name, s.group),
          sk: groupMessageSk(s.seq),
          gpk: groupedPartition(name),
        },
        unchanged(s),
        s.priority,
        t,
      );
    }).pipe(Effect.asVoid);

  const redrive: Queue<A>["redrive"] = (id) =>
    retryOnRace(Effect.gen(function* () {
      yield* messageIdOf("redrive", id);
      const found = yield* locate(ctx, id);
      const t = yield* now;
      if (found.s.state !== "dead") {
        return yield* invalidState(
          id,
          "redrive",
          deriveState(found.s.state, found.s.visibleAt, t),
          "dead",
        );
      }
      yield* redriveLocated(found, t);
    })).pipe(Effect.withSpan("DynamoMQ.redrive", { attributes: attrs }));

  const redriveAll: Queue<A>["redriveAll"] = (filter) =>
    Effect.gen(function* () {
      if (filter?.deadBefore !== undefined && !Number.isFinite(filter.deadBefore)) {
        return yield* invalid("redriveAll", "deadBefore", `not a time: ${filter.deadBefore}`);
      }
      const t = yield* now;
      let count = 0;
      yield* forEachEntryPage(ctx, "dead", t, (entries) =>
        Effect.gen(function* () {
          const stored = (yield* fetchItems(ctx, entries)).filter((l) => l.s.state === "dead");
          const infos = yield* Effect.forEach(stored, (l) => infoOf(ctx, l.s, t));
          const matching = stored.filter((_, i) => {
            const info = infos[i]!;
            return (filter?.reasonTag === undefined || info.deadReason?.tag === filter.reasonTag) &&
              (filter?.deadBefore === undefined || info.updatedAt <= filter.deadBefore) &&
              (filter?.where === undefined || filter.where(info as MessageInfo<unknown>));
          });
          const results = yield* Effect.forEach(
            matching,
            (l) => Effect.either(redriveLocated(l, t)),
            { concurrency: 16 },
          );
          for (const r of results) {
            if (Either.isRight(r)) count++;
            else if (r.left._tag === "DynamoDBError") return yield* r.left;
            // A ConditionFailed means the message changed meanwhile (redriven, purged): skip it.
          }
        }));
      return count;
    }).pipe(Effect.withSpan("DynamoMQ.redriveAll", { attributes: attrs }));

  /**
   * Deletes keys with BatchWriteItem (25 a request, four at a time). Unprocessed entries and
   * retryable failures are sent again with jittered backoff, at most `BATCH_DELETE_ATTEMPTS`
   * requests a chunk; a non-retryable failure stops at once. Returns how many were deleted and,
   * when the attempts ran out, how many were left and the last failure.
   */
  const batchDelete = (
    keys: ReadonlyArray<Key>,
  ): Effect.Effect<
    { deleted: number; left: number; last: DynamoDBError | undefined },
    DynamoDBError
  > =>
    Effect.map(
      Effect.forEach(
        Chunk.chunksOf(Chunk.fromIterable(keys), MAX_BATCH_WRITE),
        (chunk) =>
          Effect.gen(function* () {
            let pending = Chunk.toReadonlyArray(chunk).map((key) => ({
              _tag: "Delete" as const,
              key,
            }));
            const total = pending.length;
            let last: DynamoDBError | undefined = undefined;
            for (let attempt = 0; pending.length > 0; attempt++) {
              if (attempt >= BATCH_DELETE_ATTEMPTS) {
                return { deleted: total - pending.length, left: pending.length, last };
              }
              if (attempt > 0) {
                yield* Effect.sleep(
                  Duration.millis(yield* Random.nextRange(0, Math.min(50 * 2 ** attempt, 2_000))),
                );
              }
              const result = yield* Effect.either(db.batchWrite(table, pending));
              if (Either.isLeft(result)) {
                if (!result.left.retryable) return yield* result.left;
                last = result.left;
                continue;
              }
              last = undefined;
              pending = result.right.unprocessed.filter((r) => r._tag === "Delete");
            }
            return { deleted: total, left: 0, last };
          }),
        { concurrency: 4 },
      ),
      (results) => ({
        deleted: results.reduce((n, r) => n + r.deleted, 0),
        left: results.reduce((n, r) => n + r.left, 0),
        last: results.find((r) => r.last !== undefined)?.last,
      }),
    );

  const purge: Queue<A>["purge"] = (options) =>
    Effect.gen(function* () {
      const state = yield* stateOf("purge", options?.state);
      const t = yield* now;
      let count = 0;
      // Purging everything reads each partition whole and deletes in batches of 25; purging one
      // state deletes each listed entry on condition that it is unchanged, so a message that
      // moved to another state meanwhile (received, acked) is neither deleted nor counted.
      // FIFO group entries are kept: deleting one would restart its sequence counters under the
      // feet of concurrent senders. An emptied group leaves the index at its next claim.
      const purgePage = (all: ReadonlyArray<Item>) => {
        const entries = all.filter((e) => e.state !== "group");
        if (state === undefined) groups.push(...all.filter((e) => e.state === "group"));
        return state === undefined
          ? Effect.flatMap(
            batchDelete(entries.map((e) => ({ pk: e.pk as string, sk: e.sk as string }))),
            ({ deleted, left, last }) => {
              count += deleted;
              return left === 0 ? Effect.void : Effect.fail(
                new DynamoDBError({
                  operation: "batchWrite",
                  reason: last?.reason ?? "Throttled",
                  retryable: true,
                  detail: `purge stopped: ${left} of ${entries.length} left after ` +
                    `${BATCH_DELETE_ATTEMPTS} attempts, ${count} deleted` +
                    (last === undefined ? " (unprocessed by DynamoDB)" : ` (${last.detail})`),
                }),
              );
            },
          )
          : Effect.forEach(entries, (e) =>
            db.delete(table, { pk: e.pk as string, sk: e.sk as string }, {
              condition: and(eq("gsk", e.gsk as string), eq("state", e.state as string)),
            }).pipe(
              Effect.map(() =>
                void count++
              ),
              Effect.catchTag("ConditionFailed", () => Effect.void),
            ), { concurrency: 16, discard: true });
      };
      const groups: Array<Item> = [];
      yield* forEachEntryPage(ctx, state, t, purgePage);
      if (state === undefined) {
        yield* forEachEntryPage(ctx, "dead", t, purgePage);
        // A group held by a consumer whose message is gone now is made receivable at once,
        // rather than when that lease runs out; its next claim finds it empty and lets it go.
        yield* Effect.forEach(groups, (e) =>
          ignoreLost(db.update(table, { pk: e.pk as string, sk: e.sk as string }, {
            set: {
              gsk: indexSortKey(t, groupEntryId((e.pk as string).slice(groupPk(name, "").length))),
            },
            remove: ["lease", "gapSince"],
          }, { condition: eq("gsk", e.gsk as string) })), { discard: true });
      }
      return count;
    }).pipe(Effect.withSpan("DynamoMQ.purge", { attributes: attrs }));

  return {
    reschedule,
    cancel,
    delete: deleteMessage,
    moveToDeadLetter,
    redrive,
    redriveAll,
    purge,
  };
};

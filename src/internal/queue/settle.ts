/**
 * Settling a received message: ack, nack, changeVisibility, release, deadLetter and their batch
 * forms (docs/design.md "Fencing", "Dead-letter queue", "Batches", "Deduplication").
 *
 * Requests (each write of the message conditioned on `lease = <this receive's token> AND state =
 * inflight`):
 * - ack: one UpdateItem to a payload-less tombstone (`state = done`, out of the index, `ttl` =
 *   its end) while the message's sender may still write it again (`ACK_TOMBSTONE_MILLIS` after
 *   its send) or its deduplication window lasts; after that (and for a grouped message), one
 *   DeleteItem. Both cost the same write units.
 * - ackBatch: one ack per message, 16 at a time; with `transaction: true`, TransactWriteItems of
 *   up to 100 of those writes, a chunk that fails falling back to one ack per message.
 * - nack: one UpdateItem (`state = ready`, due after the delay, the failure appended to
 *   `attempts`, `lease` removed). The receive still counts.
 * - changeVisibility: one UpdateItem moving `visibleAt` and `gsk`; for a grouped message
 *   `fifo.extendGrouped`: one TransactWriteItems moving the group item's `gsk` (conditioned on
 *   `lease`) and the message's (dynalite: the group's update, then the message's).
 * - release: one UpdateItem (`state = ready`, due now, ADD `receives` -1, `lease` removed).
 * - deadLetter: one UpdateItem to `state = dead` in `<queue>#dead`, the reason appended to
 *   `attempts`; a grouped message is read (GetItem) and moved with `fifo.deadLetterGrouped`, its
 *   delete from the group carrying the lease condition.
 * - After a grouped message is settled (ack, nack, release, deadLetter), `fifo.settleGroup` hands
 *   its group back; a failure there is logged, not returned, since the settle itself worked.
 *
 * A failed lease condition on a plain message costs one GetItem (only then): the settle's own
 * write, applied by an attempt whose response was lost and met by the SDK's retry, is recognised
 * and the settle succeeds — ack: the item is gone, is the tombstone this ack wrote, or is another
 * message (another `sentAt`) that took the id since (a grouped
 * ack: gone from its group and, a second GetItem, not moved to the dead-letter queue); nack and
 * deadLetter: the attempt they appended (time, receive, tag) is in the history; release: ready,
 * due and updated at its time, the receive given back. changeVisibility's retry passes its
 * condition anyway (the lease is unchanged).
 *
 * Invariants: a failed lease condition is otherwise `LeaseLost` — a worker whose lease was taken
 * over can never settle the message another holds; while no one else received it, the holder may settle
 * it after its visibility timeout. The message is written before its group is handed back.
 *
 * @module
 */
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import { type ConditionFailed, type DynamoDBError, LeaseLost } from "../../Errors.ts";
import { appendAttempt, attemptsItem } from "../envelope.ts";
import { ACK_TOMBSTONE_MILLIS, indexSortKey, messageKey, TTL_ATTRIBUTE } from "../keys.ts";
import { withSpan } from "../span.ts";
import type { ReceivedMessage } from "../../schema/Message.ts";
import {
  and,
  type Condition,
  eq,
  type Item,
  MAX_TRANSACT_ITEMS,
  type TransactItem,
} from "../../services/DynamoDB.ts";
import type { Queue } from "../../services/Queue.ts";
import type { CatalogReport } from "./catalogReport.ts";
import { deadFields, type QueueContext } from "./context.ts";
import { deadLetterGrouped, extendGrouped, settleGroup } from "./fifo.ts";
import { durationMillis } from "./options.ts";

/** Runs a write fenced by a lease: a failed condition means the lease is gone. */
const fenced = <A, X>(
  ctx: QueueContext<A>,
  message: ReceivedMessage<A>,
  operation: string,
  write: Effect.Effect<X, ConditionFailed | DynamoDBError>,
): Effect.Effect<X, LeaseLost | DynamoDBError> =>
  Effect.catchTag(
    write,
    "ConditionFailed",
    () => Effect.fail(new LeaseLost({ queue: ctx.name, messageId: message.id, operation })),
  );

/**
 * Runs a write fenced by a lease, for a message whose write this settle can recognise. A failed
 * condition may be the settle's own write, applied by an attempt whose response was lost (the
 * SDK's retry then met it): then one GetItem (only on this path) reads the item, and if `ours`
 * recognises what this settle wrote, the settle succeeded. Anything else is `LeaseLost`.
 */
const fencedOwn = <A>(
  ctx: QueueContext<A>,
  message: ReceivedMessage<A>,
  operation: string,
  write: Effect.Effect<unknown, ConditionFailed | DynamoDBError>,
  ours: (item: Item | undefined) => boolean,
): Effect.Effect<void, LeaseLost | DynamoDBError> =>
  Effect.catchTag(
    Effect.asVoid(write),
    "ConditionFailed",
    () =>
      Effect.flatMap(
        ctx.db.get(ctx.table, ctx.keyOf(message.id)),
        (item) =>
          ours(item) ? Effect.void : Effect.fail(
            new LeaseLost({ queue: ctx.name, messageId: message.id, operation }),
          ),
      ),
  );

/** Whether the attempt history holds the attempt this settle appended at `t`. */
const hasAttempt = (item: Item, t: number, receive: number, tag: string): boolean =>
  Array.isArray(item.attempts) &&
  (item.attempts as ReadonlyArray<Item>).some((a) =>
    a.at === t && a.receive === receive && a.tag === tag
  );

/** The fence of every settle: this receive's lease, on a message still in flight. */
const leaseHeld = <A>(message: ReceivedMessage<A>): Condition =>
  and(eq("lease", message.lease), eq("state", "inflight"));

/**
 * After a grouped message was settled, hands its group back. A failure here only delays the
 * group until its lease runs out, so it is logged rather than failing the settle that worked.
 */
const afterSettle = <A>(
  ctx: QueueContext<A>,
  message: ReceivedMessage<A>,
): Effect.Effect<void> =>
  message.group === undefined ? Effect.void : settleGroup(ctx, message.group, message.lease).pipe(
    Effect.catchAll((e) =>
      Effect.logWarning(
        "could not hand the group back; it becomes receivable when its lease ends",
      ).pipe(
        Effect.annotateLogs({ queue: ctx.name, group: message.group, error: e.message }),
      )
    ),
  );

/**
 * The write that acks a message: a payload-less tombstone (out of the index) while its sender may
 * still write it again (`ACK_TOMBSTONE_MILLIS` after its send, see `send.ts`) or its
 * deduplication window lasts, so that the sender's retry or a resend recognises it rather than
 * writing the message back; TTL removes the tombstone afterwards. Later, a delete. Both are
 * fenced by the lease. A grouped message is always deleted: its sends never write it twice
 * (`fifo.putGrouped`), and its group's partition holds only live messages.
 */
const ackWrite = <A>(
  ctx: QueueContext<A>,
  message: ReceivedMessage<A>,
  t: number,
): Extract<TransactItem, { readonly _tag: "Update" | "Delete" }> => {
  const { table, keyOf } = ctx;
  const until = message.group !== undefined
    ? undefined
    : Math.max(message.deduplication?.until ?? 0, message.sentAt + ACK_TOMBSTONE_MILLIS);
  return until !== undefined && until > t
    ? {
      _tag: "Update",
      table,
      key: keyOf(message.id),
      update: {
        set: { state: "done", updatedAt: t, [TTL_ATTRIBUTE]: Math.ceil(until / 1000) },
        remove: ["gpk", "gsk", "payload", "lease", "attempts", "trace"],
      },
      condition: leaseHeld(message),
    }
    : { _tag: "Delete", table, key: keyOf(message.id), condition: leaseHeld(message) };
};

/** Runs one settle per message in parallel (each its own conditional write); a result per message. */
const each = <A, X, E>(
  messages: ReadonlyArray<ReceivedMessage<A>>,
  f: (m: ReceivedMessage<A>) => Effect.Effect<X, E>,
): Effect.Effect<ReadonlyArray<Either.Either<X, E>>> =>
  Effect.forEach(messages, (m) => Effect.either(f(m)), { concurrency: 16 });

/** The settle side of a queue handle: every operation fenced by a receive's lease. */
export const makeSettle = <A>(
  ctx: QueueContext<A>,
  catalog: CatalogReport,
): Pick<
  Queue<A>,
  | "ack"
  | "ackBatch"
  | "nack"
  | "nackBatch"
  | "changeVisibility"
  | "changeVisibilityBatch"
  | "release"
  | "deadLetter"
> => {
  const { db, table, name, keyOf, now, attrs } = ctx;
  const { withCatalog, countCompleted } = catalog;

  /**
   * The grouped ack's delete, recognised like a plain one: on a failed lease condition the
   * message gone from its group, and not moved to the dead-letter queue meanwhile (a grouped
   * message is moved to its own key, `<queue>#<id>`), means the delete applied (its response was
   * lost and the retry met it) and the ack succeeded. Two GetItems, only on this path.
   */
  const ackGrouped = (
    message: ReceivedMessage<A>,
    write: Effect.Effect<unknown, ConditionFailed | DynamoDBError>,
  ): Effect.Effect<void, LeaseLost | DynamoDBError> =>
    Effect.catchTag(Effect.asVoid(write), "ConditionFailed", () =>
      Effect.gen(function* () {
        const lost = new LeaseLost({ queue: name, messageId: message.id, operation: "ack" });
        if ((yield* db.get(table, keyOf(message.id))) !== undefined) return yield* lost;
        if ((yield* db.get(table, messageKey(name, message.id))) !== undefined) {
          return yield* lost;
        }
      }));

  const ack: Queue<A>["ack"] = (message) =>
    Effect.flatMap(now, (t) => {
      const w = ackWrite(ctx, message, t);
      const write = w._tag === "Update"
        ? db.update(w.table, w.key, w.update, { condition: w.condition })
        : db.delete(w.table, w.key, { condition: w.condition, returnOld: false });
      if (message.group !== undefined) return ackGrouped(message, write);
      // Gone, the tombstone this ack wrote, or another message under the same id (a resend
      // replaced the tombstone, or the explicit id was reused): the ack applied — or another
      // holder's did, which leaves the same trace, as a delete does.
      return fencedOwn(ctx, message, "ack", write, (item) =>
        item === undefined || (item.state === "done" && item.updatedAt === t) ||
        item.sentAt !== message.sentAt);
    }).pipe(
      Effect.zipRight(countCompleted(1)),
      Effect.zipRight(afterSettle(ctx, message)),
      withSpan("DynamoMQ.ack", { attributes: attrs }),
    );

  const nack: Queue<A>["nack"] = (message, options) =>
    Effect.gen(function* () {
      const delay = yield* durationMillis("nack", "delay", options?.delay, Duration.zero);
      const t = yield* now;
      const error = options?.error ?? { tag: "Nack", message: "negatively acknowledged" };
      const attempts = appendAttempt(message.attempts, {
        at: t,
        receive: message.receives,
        ...error,
      });
      const write = db.update(table, keyOf(message.id), {
        set: {
          state: "ready",
          gsk: indexSortKey(t + delay, message.id),
          visibleAt: t + delay,
          updatedAt: t,
          attempts: attemptsItem(attempts),
        },
        remove: ["lease"],
      }, { condition: leaseHeld(message) });
      yield* message.group !== undefined
        ? fenced(ctx, message, "nack", write)
        // The attempt this nack appended is there: the nack applied (even if the message was
        // received again since).
        : fencedOwn(ctx, message, "nack", write, (item) =>
          item !== undefined && hasAttempt(item, t, message.receives, attempts.at(-1)!.tag));
      // A grouped message stays its group's head: the group waits for it (strict order).
      yield* afterSettle(ctx, message);
    }).pipe(Effect.withSpan("DynamoMQ.nack", { attributes: attrs }));

  const changeVisibility: Queue<A>["changeVisibility"] = (message, timeout) =>
    Effect.gen(function* () {
      const millis = yield* durationMillis("changeVisibility", "timeout", timeout, Duration.zero);
      const t = yield* now;
      const visibleAt = t + millis;
      if (message.group !== undefined) {
        // The group's lease is the one other consumers respect: it moves with the message's,
        // in one transaction, so a consumer that lost its group never extends the message alone.
        yield* fenced(
          ctx,
          message,
          "changeVisibility",
          extendGrouped(
            ctx,
            { key: keyOf(message.id), id: message.id, group: message.group, lease: message.lease },
            leaseHeld(message),
            visibleAt,
            t,
          ),
        );
        return visibleAt;
      }
      yield* fenced(
        ctx,
        message,
        "changeVisibility",
        db.update(table, keyOf(message.id), {
          set: { gsk: indexSortKey(visibleAt, message.id), visibleAt, updatedAt: t },
        }, { condition: leaseHeld(message) }),
      );
      return visibleAt;
    }).pipe(withSpan("DynamoMQ.changeVisibility", { attributes: attrs }));

  const release: Queue<A>["release"] = (message) =>
    Effect.flatMap(now, (t) => {
      const write = db.update(table, keyOf(message.id), {
        set: { state: "ready", gsk: indexSortKey(t, message.id), visibleAt: t, updatedAt: t },
        add: { receives: -1 },
        remove: ["lease"],
      }, { condition: leaseHeld(message) });
      return message.group !== undefined
        ? fenced(ctx, message, "release", write)
        // Ready, due now, its receive given back, at this release's time: the release applied.
        : fencedOwn(ctx, message, "release", write, (item) =>
          item !== undefined && item.state === "ready" && item.lease === undefined &&
          item.updatedAt === t && item.visibleAt === t &&
          item.receives === message.receives - 1);
    }).pipe(
      Effect.zipRight(afterSettle(ctx, message)),
      withSpan("DynamoMQ.release", { attributes: attrs }),
    );

  const deadLetter: Queue<A>["deadLetter"] = (message, reason) =>
    Effect.gen(function* () {
      const t = yield* now;
      const appended = appendAttempt(message.attempts, {
        at: t,
        receive: message.receives,
        ...reason,
      });
      const attempts = attemptsItem(appended);
      if (message.group === undefined) {
        // Dead, with the attempt this dead-lettering appended: it applied.
        yield* fencedOwn(
          ctx,
          message,
          "deadLetter",
          db.update(table, keyOf(message.id), {
            set: { ...deadFields(ctx, t, message.id, reason), attempts },
            remove: ["lease"],
          }, { condition: leaseHeld(message) }),
          (item) =>
            item !== undefined && item.state === "dead" &&
            hasAttempt(item, t, message.receives, appended.at(-1)!.tag),
        );
        return;
      }
      const head = yield* db.get(table, keyOf(message.id));
      if (head === undefined) {
        return yield* new LeaseLost({
          queue: name,
          messageId: message.id,
          operation: "deadLetter",
        });
      }
      yield* fenced(
        ctx,
        message,
        "deadLetter",
        deadLetterGrouped(ctx, { ...head, attempts }, reason, leaseHeld(message), t),
      );
      yield* afterSettle(ctx, message);
    }).pipe(Effect.withSpan("DynamoMQ.deadLetter", { attributes: attrs }));

  /**
   * Acks in TransactWriteItems of up to 100 fenced writes. A transaction is all or nothing, so a
   * chunk that fails (a lost lease, or no transactions on this backend) is acked message by
   * message instead, which tells each message's outcome apart.
   */
  const ackInTransactions = (
    messages: ReadonlyArray<ReceivedMessage<A>>,
  ): Effect.Effect<ReadonlyArray<Either.Either<void, LeaseLost | DynamoDBError>>> =>
    Effect.gen(function* () {
      const t = yield* now;
      const results: Array<Either.Either<void, LeaseLost | DynamoDBError>> = [];
      for (let i = 0; i < messages.length; i += MAX_TRANSACT_ITEMS) {
        const chunk = messages.slice(i, i + MAX_TRANSACT_ITEMS);
        const committed = yield* Effect.either(
          db.transactWrite(chunk.map((m) => ackWrite(ctx, m, t))),
        );
        if (Either.isRight(committed)) {
          yield* countCompleted(chunk.length);
          yield* Effect.forEach(chunk, (m) => afterSettle(ctx, m), {
            discard: true,
            concurrency: 16,
          });
          results.push(...chunk.map(() => Either.void));
        } else {
          results.push(...(yield* each(chunk, ack)));
        }
      }
      return results;
    }).pipe(Effect.withSpan("DynamoMQ.ackBatch", { attributes: attrs }));

  return {
    ack: (message) => withCatalog(ack(message)),
    ackBatch: (messages, options) =>
      withCatalog(
        options?.transaction === true ? ackInTransactions(messages) : each(messages, ack),
      ),
    nack,
    nackBatch: (messages, options) => each(messages, (m) => nack(m, options)),
    changeVisibility,
    changeVisibilityBatch: (messages, timeout) =>
      each(messages, (m) => changeVisibility(m, timeout)),
    release,
    deadLetter,
  };
};

/**
 * FIFO message groups (docs/fifo.md, docs/design.md "FIFO message groups"). A group's messages
 * live in the group's own partition (`<queue>#g#<group>`, sort key `m#<16-digit sequence>`), so a
 * strongly consistent query returns the group's head in order. The group item in that partition
 * (sort key `group`) — not its messages — sits in the ready index; it carries the sequence
 * counters `next` (allocated) and `written` (put), and, while a consumer holds the group, its
 * `lease`.
 *
 * The send side (a sequence number, then the message and its count) is `fifoSend.ts`.
 *
 * Requests:
 * - headOf: one strongly consistent Query of the group partition, `sk` begins with `m#`, limit 1.
 * - claimHead: TransactWriteItems of the head's UpdateItem (conditioned by the caller: state and
 *   receives as read, `headFree`) and the group's UpdateItem moving its `gsk` to the head's lease
 *   expiry (conditioned on `lease`, `next`, `written` as read); after a retryable error a GetItem
 *   of the head (and, if that fails too, an UpdateItem releasing it uncounted, conditioned on the
 *   lease). Without transactions the group's UpdateItem (`lease`), then the head's.
 * - wakeGroup: GetItem of the group item, then an UpdateItem putting it in the index, due now,
 *   conditioned on `attribute_not_exists(lease)` (a holder will see the change itself).
 * - extendGrouped (heartbeat): TransactWriteItems of the group's `gsk` (`lease` as given) and
 *   the message's expiry (caller's condition); a ConditionFailed is read back. Without
 *   transactions the group's UpdateItem, then the message's.
 * - freeGroup: one UpdateItem making the group due now, conditioned on a given lease.
 * - settleGroup: up to ten rounds of GetItem (group) + headOf + one UpdateItem conditioned on
 *   `lease = <holder's lease>` (and, to leave the index, on `next` and `written` as just read);
 *   then one UpdateItem handing the group back due in a second.
 * - deadLetterGrouped: TransactWriteItems of the dead copy under the message's own key
 *   (`<queue>#<id>` / `msg`, `attribute_not_exists(pk)`, a `moveToken`) and the DeleteItem from
 *   the group (caller's condition AND `state IN (ready, inflight)`); a ConditionFailed is read
 *   back (GetItem of the copy). Without transactions: an UpdateItem marking the message dead in
 *   place (same condition), then `finishDeadLetter`: PutItem of the copy (`attribute_not_exists(pk)
 *   OR moveToken = <token>`), DeleteItem of the mark (`state = dead AND moveToken = <token>`).
 * - redriveGrouped: GetItem of the group, then TransactWriteItems of the put-back
 *   (`attribute_not_exists(pk)`), the DeleteItem of the dead copy (caller's condition) and an
 *   UpdateItem of the group (ADD `next` 1, `written` 1, due now; conditioned on the group as read);
 *   a ConditionFailed is read back. `Unsupported` without transactions.
 *
 * Invariants: at most one message of a group is in flight (claiming the group claims its head,
 * under one lease; a head held under an unexpired lease is never claimed); a head is claimed only
 * if nothing was put back or written ahead of it since it was read (every write of a message into
 * its group moves a counter in the same transaction); a multi-item move is one transaction or a
 * sequence of steps each recovered by the next actor, and is never undone unconditionally; a group leaves the index only when both counters are unchanged since it was
 * found empty, so a message sent meanwhile is never stranded; a sequence number that was
 * allocated and never written keeps an otherwise empty group in the index (looked at every
 * `GROUP_GAP_RETRY`) for at most `GROUP_GAP_ABANDON`; the head query skips missing numbers.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import type { ConditionFailed, DynamoDBError } from "../../Errors.ts";
import {
  GROUP_SK,
  groupPk,
  indexSortKey,
  leaseToken,
  messageKey,
  randomShard,
  readyPartition,
} from "../keys.ts";
import {
  and,
  compare,
  type Condition,
  eq,
  exists,
  isIn,
  type Item,
  type Key,
  notExists,
  or,
  type TransactItem,
} from "../../services/DynamoDB.ts";
import type { FailureInfo } from "../../services/Queue.ts";
import { deadFields, ignoreLost, type QueueContext } from "./context.ts";

/** How soon a group whose next message was allocated but not yet written is looked at again. */
const GROUP_GAP_RETRY = 1_000;
/** After this long, an allocated sequence number that was never written is given up on. */
const GROUP_GAP_ABANDON = 5 * 60_000;

/** The key of a group's own item. */
export const groupKey = <A>(ctx: QueueContext<A>, group: string): Key => ({
  pk: groupPk(ctx.name, group),
  sk: GROUP_SK,
});

/** The id a group's index entry sorts by (never a message id: those cannot start with `g.`). */
export const groupEntryId = (group: string): string => `g.${group}`;

/** The fields that put a group in the ready index, due at `t` (its `receives` stays 0). */
export const groupDue = <A>(
  ctx: QueueContext<A>,
  group: string,
  home: string,
  t: number,
): Item => ({
  queue: ctx.name,
  group,
  state: "group",
  home,
  gpk: home,
  gsk: indexSortKey(t, groupEntryId(group)),
  receives: 0,
  updatedAt: t,
});

/** Whether a failed write means the backend has no `TransactWriteItems` (dynalite). */
export const unsupported = (e: ConditionFailed | DynamoDBError): boolean =>
  e._tag === "DynamoDBError" && e.reason === "Unsupported";

/** Backends found to have no `TransactWriteItems` (dynalite), so they are not asked again. */
export const withoutTransactions = new WeakMap<object, true>();

/** The group's first message, read strongly consistently. */
export const headOf = <A>(
  ctx: QueueContext<A>,
  group: string,
): Effect.Effect<Item | undefined, DynamoDBError> =>
  Effect.map(
    ctx.db.query(ctx.table, {
      partition: { attribute: "pk", value: groupPk(ctx.name, group) },
      sort: { attribute: "sk", condition: { _tag: "BeginsWith", prefix: "m#" } },
      limit: 1,
      consistent: true,
    }),
    (page) => page.items[0],
  );

/** Puts a group back in the ready index now, unless a consumer holds it (it will see the change). */
export const wakeGroup = <A>(
  ctx: QueueContext<A>,
  group: string,
  priority: number,
  t: number,
): Effect.Effect<void, DynamoDBError> =>
  Effect.flatMap(ctx.db.get(ctx.table, groupKey(ctx, group)), (g) => {
    const home = typeof g?.home === "string"
      ? g.home
      : readyPartition(ctx.name, priority, randomShard(ctx.settings.shards));
    return ctx.db.update(ctx.table, groupKey(ctx, group), {
      set: groupDue(ctx, group, home, t),
      add: { next: 0, written: 0 },
    }, { condition: notExists("lease") }).pipe(
      Effect.catchTag("ConditionFailed", () => Effect.void),
    );
  });

/**
 * The condition under which a group's head may be claimed: nobody holds it under a lease that
 * has not expired at `t`. A consumer whose group lease ran out (and whose group someone else has
 * claimed since) can therefore never take the head from its current holder.
 */
export const headFree = (t: number): Condition =>
  or(notExists("lease"), compare("visibleAt", "<=", t));

/** A head that a stepwise dead-lettering (no transactions) has marked but not yet moved. */
export const isMarkedDead = (head: Item): boolean =>
  head.state === "dead" && typeof head.moveToken === "string";

/**
 * Hands a group back after its head was settled: visible when its new head is due (a head held
 * under a lease that has not run out is due when that lease ends); out of the index when it is
 * empty and nothing is being sent to it (conditioned on both counters, so a message sent or
 * redriven meanwhile is never stranded); looked at again soon when a sender has taken a sequence
 * number but not written it yet. After ten lost races it is handed back to be looked at again
 * soon, never left leased.
 */
export const settleGroup = <A>(
  ctx: QueueContext<A>,
  group: string,
  lease: string,
): Effect.Effect<void, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const key = groupKey(ctx, group);
    const held = eq("lease", lease);
    for (let attempt = 0; attempt < 10; attempt++) {
      const t = yield* ctx.now;
      const g = yield* db.get(table, key);
      if (g === undefined || g.lease !== lease) return;
      const head = yield* headOf(ctx, group);
      if (head !== undefined) {
        const due = isMarkedDead(head) ? t : Math.max(t, head.visibleAt as number);
        return yield* ignoreLost(db.update(table, key, {
          set: { gsk: indexSortKey(due, groupEntryId(group)), updatedAt: t },
          remove: ["lease", "gapSince"],
        }, { condition: held }));
      }
      const next = (g.next as number | undefined) ?? 0;
      const written = (g.written as number | undefined) ?? 0;
      const gapSince = g.gapSince as number | undefined;
      if (written >= next || (gapSince !== undefined && t - gapSince >= GROUP_GAP_ABANDON)) {
        const released = yield* Effect.either(db.update(table, key, {
          set: { written: next, updatedAt: t },
          remove: ["gpk", "gsk", "lease", "gapSince"],
        }, { condition: and(held, eq("next", next), eq("written", written)) }));
        if (Either.isRight(released)) return;
        if (released.left._tag === "DynamoDBError") return yield* released.left;
        continue; // a sender (or a redrive) moved a counter meanwhile: look again
      }
      return yield* ignoreLost(db.update(table, key, {
        set: {
          gsk: indexSortKey(t + GROUP_GAP_RETRY, groupEntryId(group)),
          gapSince: gapSince ?? t,
          updatedAt: t,
        },
        remove: ["lease"],
      }, { condition: held }));
    }
    // Ten lost races in a row (busy senders): hand the group back to be looked at again soon.
    const t = yield* ctx.now;
    yield* ignoreLost(db.update(table, key, {
      set: { gsk: indexSortKey(t + GROUP_GAP_RETRY, groupEntryId(group)), updatedAt: t },
      remove: ["lease"],
    }, { condition: held }));
  });

/**
 * After an admin deleted a grouped message that was in flight, frees its group at once (the
 * group was held under the same lease as the message), rather than when that lease runs out.
 */
export const freeGroup = <A>(
  ctx: QueueContext<A>,
  group: string,
  lease: string,
  t: number,
): Effect.Effect<void, DynamoDBError> =>
  ignoreLost(ctx.db.update(ctx.table, groupKey(ctx, group), {
    set: { gsk: indexSortKey(t, groupEntryId(group)), updatedAt: t },
    remove: ["lease"],
  }, { condition: and(eq("lease", lease), exists("gpk")) }));

/** The dead copy of a grouped message under its own key, as a move with `token` writes it. */
const deadCopy = <A>(
  ctx: QueueContext<A>,
  item: Item,
  reason: FailureInfo,
  t: number,
  token: string,
): Item => {
  const id = item.id as string;
  const { lease: _lease, sendToken: _send, ...rest } = item;
  return {
    ...rest,
    ...messageKey(ctx.name, id),
    ...deadFields(ctx, t, id, reason),
    moveToken: token,
  };
};

/**
 * Moves a grouped message to the dead-letter queue. With transactions: one TransactWriteItems
 * of the dead copy under the message's own key (`attribute_not_exists(pk)`) and the delete from
 * the group (conditioned as given, and on the message being live), so it is never both live
 * and dead and nothing is ever undone. A `ConditionFailed` is read back: the copy carrying this
 * call's token means its own transaction applied (response lost, request retried).
 *
 * Without transactions (dynalite), step by step, each step recovered by whoever comes next:
 * (1) the message is marked dead in place (out of the index, `moveToken`), conditioned as given
 * — the one decision, so of two concurrent movers exactly one goes on; (2) `finishDeadLetter`:
 * the dead copy, then the delete of the marked message conditioned on its token. A marked head
 * is never delivered; the next claimer of its group finishes the move.
 */
export const deadLetterGrouped = <A>(
  ctx: QueueContext<A>,
  item: Item,
  reason: FailureInfo,
  condition: Condition,
  t: number,
): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const token = leaseToken();
    const copy = deadCopy(ctx, item, reason, t, token);
    const key = { pk: item.pk as string, sk: item.sk as string };
    const live = and(condition, isIn("state", ["ready", "inflight"]));
    const moved = yield* Effect.either(db.transactWrite([
      { _tag: "Put", table, item: copy, condition: notExists("pk") },
      { _tag: "Delete", table, key, condition: live },
    ]));
    if (Either.isRight(moved)) return;
    if (moved.left._tag === "ConditionFailed") {
      const there = yield* db.get(table, messageKey(ctx.name, item.id as string));
      if (there?.moveToken === token) return;
      return yield* moved.left;
    }
    if (!unsupported(moved.left)) return yield* moved.left;
    // No transactions: mark in place first (the decision), then move.
    const { lease: _lease, ...unleased } = item;
    const marked: Item = {
      ...unleased,
      ...deadFields(ctx, t, item.id as string, reason),
      moveToken: token,
    };
    const mark = yield* Effect.either(db.update(table, key, {
      set: {
        state: "dead",
        deadReason: marked.deadReason!,
        updatedAt: t,
        visibleAt: t,
        moveToken: token,
        ...(item.attempts === undefined ? {} : { attempts: item.attempts }),
      },
      remove: ["lease", "gpk", "gsk"],
    }, { condition: live }));
    if (Either.isLeft(mark)) {
      if (mark.left._tag === "DynamoDBError") return yield* mark.left;
      const there = yield* db.get(table, key);
      if (there?.moveToken !== token) return yield* mark.left;
    }
    yield* finishDeadLetter(ctx, marked);
  });

/**
 * Finishes a stepwise dead-lettering from its mark (a head with `state = dead` and a
 * `moveToken`): puts the dead copy (unless this move's copy is there already) and deletes the
 * marked message, conditioned on its token. Idempotent: any claimer of the group may run it.
 */
export const finishDeadLetter = <A>(
  ctx: QueueContext<A>,
  marked: Item,
): Effect.Effect<void, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const token = marked.moveToken as string;
    const t = marked.updatedAt as number;
    const why = marked.deadReason as { tag?: unknown; message?: unknown } | undefined;
    const reason: FailureInfo = {
      tag: typeof why?.tag === "string" ? why.tag : "Unknown",
      message: typeof why?.message === "string" ? why.message : "",
    };
    const copy = deadCopy(ctx, marked, reason, t, token);
    const put = yield* Effect.either(db.put(table, copy, {
      condition: or(notExists("pk"), eq("moveToken", token)),
    }));
    if (Either.isLeft(put)) {
      if (put.left._tag === "DynamoDBError") return yield* put.left;
      // Another dead copy of this message is there: it stays dead either way. Keep the mark
      // rather than risk the only copy.
      return;
    }
    yield* ignoreLost(db.delete(table, { pk: marked.pk as string, sk: marked.sk as string }, {
      condition: and(eq("state", "dead"), eq("moveToken", token)),
    }));
  });

/**
 * Redrives a dead grouped message back to its sequence number in its group: one
 * TransactWriteItems of the put back (`attribute_not_exists(pk)`, carrying a fresh
 * `moveToken`), the delete of the dead copy (conditioned as given) and an update of the group
 * item that moves both counters (ADD `next` 1, `written` 1: a consumer that found the group empty
 * can then no longer take it out of the index) and makes it due now — conditioned on the group
 * as just read (out of the index: `attribute_not_exists(gpk)`; free: its `gsk`; held: its
 * `lease`, the holder then finds the message when it hands the group back). A `ConditionFailed`
 * is read back (this call's token on the put-back item means it applied) and otherwise returned,
 * for the caller to read again and retry. Without transactions it fails with `DynamoDBError`
 * reason `Unsupported`: there is no safe stepwise redrive of a grouped message.
 */
export const redriveGrouped = <A>(
  ctx: QueueContext<A>,
  item: Item,
  back: Item,
  condition: Condition,
  priority: number,
  t: number,
): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const group = item.group as string;
    const token = leaseToken();
    const key = groupKey(ctx, group);
    const g = yield* db.get(table, key);
    const home = typeof g?.home === "string"
      ? g.home
      : readyPartition(ctx.name, priority, randomShard(ctx.settings.shards));
    const wake: TransactItem = g?.gpk === undefined
      ? {
        _tag: "Update",
        table,
        key,
        update: { set: groupDue(ctx, group, home, t), add: { next: 1, written: 1 } },
        condition: notExists("gpk"),
      }
      : typeof g.lease === "string"
      ? {
        _tag: "Update",
        table,
        key,
        update: { set: { updatedAt: t }, add: { next: 1, written: 1 } },
        condition: eq("lease", g.lease),
      }
      : {
        _tag: "Update",
        table,
        key,
        update: {
          set: { gsk: indexSortKey(t, groupEntryId(group)), updatedAt: t },
          add: { next: 1, written: 1 },
        },
        condition: and(notExists("lease"), eq("gsk", g.gsk as string)),
      };
    const putBack = { ...back, moveToken: token };
    const redriven = yield* Effect.either(db.transactWrite([
      { _tag: "Put", table, item: putBack, condition: notExists("pk") },
      {
        _tag: "Delete",
        table,
        key: messageKey(ctx.name, item.id as string),
        condition,
      },
      wake,
    ]));
    if (Either.isRight(redriven)) return;
    if (redriven.left._tag === "DynamoDBError") return yield* redriven.left;
    const there = yield* db.get(table, { pk: back.pk as string, sk: back.sk as string });
    if (there?.moveToken === token) return;
    return yield* redriven.left;
  });

/** `attribute = value`, or `attribute_not_exists` when it was read as absent. */
const asSeen = (attribute: string, value: unknown): Condition =>
  value === undefined ? notExists(attribute) : eq(attribute, value as number);

/**
 * Claims a group's head under the group's lease, and moves the group's lease expiry (its `gsk`)
 * to the head's, so the group comes due exactly when the head's lease ends. With transactions: one
 * TransactWriteItems of the head's update (conditioned as given) and the group's, conditioned on
 * the group still being held under this lease with both counters as `seen` — a message redriven
 * to an earlier sequence number, or a late sender's message written there, since the head was
 * read moves them, so the later head is not claimed ahead of it. Without transactions (where
 * grouped redrive is refused) the group's update, then the head's, each conditional. Returns the
 * claimed item, or `undefined` on a lost race.
 *
 * A claim whose outcome is unknown (a retryable error, or a ConditionFailed that may be the retry
 * of its own applied request) is read back: the head carrying this lease is this claim's. If even
 * the read fails, the head is released uncounted (conditioned on the lease; up to three rounds of
 * read and release) and the read's error returned.
 */
export const claimHead = <A>(
  ctx: QueueContext<A>,
  head: Item,
  seen: Item,
  lease: string,
  until: number,
  condition: Condition,
  t: number,
): Effect.Effect<Item | undefined, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const id = head.id as string;
    const group = head.group as string;
    const key = { pk: head.pk as string, sk: head.sk as string };
    const set = {
      state: "inflight",
      lease,
      gsk: indexSortKey(until, id),
      visibleAt: until,
      updatedAt: t,
    };
    const groupUpdate = { set: { gsk: indexSortKey(until, groupEntryId(group)), updatedAt: t } };
    const ours = (item: Item | undefined): item is Item =>
      item?.lease === lease && item.state === "inflight";
    // Whether the claim applied, read back: the head carrying this lease is this claim's, one
    // that is not gives `notOurs`. If the read fails, the head is released uncounted
    // (conditioned on the lease); a release that fails retryably, and did not apply, is followed
    // by another round (three at most), so a claim that may hold the head is not left counted
    // for a single failed request. Then the read's error is returned.
    const recognise = (
      notOurs: Effect.Effect<undefined, DynamoDBError>,
    ): Effect.Effect<Item | undefined, DynamoDBError> =>
      Effect.gen(function* () {
        let failure: DynamoDBError | undefined;
        for (let round = 0; round < 3; round++) {
          const read = yield* Effect.either(db.get(table, key));
          if (Either.isRight(read)) return ours(read.right) ? read.right : yield* notOurs;
          failure = read.left;
          const released = yield* Effect.either(db.update(table, key, {
            set: { state: "ready", gsk: indexSortKey(t, id), visibleAt: t, updatedAt: t },
            add: { receives: -1 },
            remove: ["lease"],
          }, { condition: eq("lease", lease) }));
          if (
            Either.isRight(released) || released.left._tag === "ConditionFailed" ||
            !released.left.retryable
          ) break;
        }
        return yield* failure!;
      });
    const lostRace = Effect.succeed(undefined);
    if (!withoutTransactions.has(db)) {
      const claimed = yield* Effect.either(db.transactWrite([
        { _tag: "Update", table, key, update: { set, add: { receives: 1 } }, condition },
        {
          _tag: "Update",
          table,
          key: groupKey(ctx, group),
          update: groupUpdate,
          condition: and(
            eq("lease", lease),
            asSeen("next", seen.next),
            asSeen("written", seen.written),
          ),
        },
      ]));
      if (Either.isRight(claimed)) {
        return { ...head, ...set, receives: (head.receives as number) + 1 };
      }
      // Applied with its response lost, then retried (ConditionFailed), or a retryable error:
      // the head carries this lease if it applied.
      if (claimed.left._tag === "ConditionFailed") return yield* recognise(lostRace);
      if (!unsupported(claimed.left)) {
        const e = claimed.left;
        return yield* e.retryable ? recognise(Effect.fail(e)) : e;
      }
      withoutTransactions.set(db, true);
    }
    const moved = yield* Effect.either(
      db.update(table, groupKey(ctx, group), groupUpdate, { condition: eq("lease", lease) }),
    );
    if (Either.isLeft(moved)) {
      if (moved.left._tag === "ConditionFailed") {
        return undefined;
      }
      return yield* moved.left;
    }
    const claimed = yield* Effect.either(
      db.update(table, key, { set, add: { receives: 1 } }, { condition }),
    );
    if (Either.isRight(claimed)) {
      return claimed.right;
    }
    if (claimed.left._tag === "ConditionFailed") return yield* recognise(lostRace);
    const e = claimed.left;
    return yield* e.retryable ? recognise(Effect.fail(e)) : e;
  });

/**
 * Moves the lease expiry of a grouped message and of its group together (a heartbeat). With
 * transactions: one TransactWriteItems of the group's update (`lease` = this lease) and the
 * message's (the caller's condition: its lease, in flight). Two separate updates would let a
 * consumer whose group lease ran out — and whose group was claimed since, by someone who took a
 * message redriven ahead of this one — extend this message's lease on its own: two messages of
 * one group in flight. A `ConditionFailed` is read back: the message showing this heartbeat's
 * expiry and time means the transaction applied and its response was lost. Without
 * transactions (where nothing can be put ahead of a held head: grouped redrive is refused) the
 * group first, then the message, each fenced by the lease: half-applied, the group is merely due
 * later than its head.
 */
export const extendGrouped = <A>(
  ctx: QueueContext<A>,
  message: {
    readonly key: Key;
    readonly id: string;
    readonly group: string;
    readonly lease: string;
  },
  condition: Condition,
  visibleAt: number,
  t: number,
): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const groupUpdate = {
      set: { gsk: indexSortKey(visibleAt, groupEntryId(message.group)), updatedAt: t },
    };
    const messageUpdate = {
      set: { gsk: indexSortKey(visibleAt, message.id), visibleAt, updatedAt: t },
    };
    const fence = eq("lease", message.lease);
    const key = groupKey(ctx, message.group);
    if (!withoutTransactions.has(db)) {
      const moved = yield* Effect.either(db.transactWrite([
        { _tag: "Update", table, key, update: groupUpdate, condition: fence },
        { _tag: "Update", table, key: message.key, update: messageUpdate, condition },
      ]));
      if (Either.isRight(moved)) return;
      if (moved.left._tag === "ConditionFailed") {
        const there = yield* db.get(table, message.key);
        if (
          there?.lease === message.lease && there.state === "inflight" &&
          there.visibleAt === visibleAt && there.updatedAt === t
        ) return;
        return yield* moved.left;
      }
      if (!unsupported(moved.left)) return yield* moved.left;
      withoutTransactions.set(db, true);
    }
    yield* db.update(table, key, groupUpdate, { condition: fence });
    yield* db.update(table, message.key, messageUpdate, { condition });
  });

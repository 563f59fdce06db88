/**
 * FIFO message groups (docs/fifo.md, docs/design.md "FIFO message groups"). A group's messages
 * live in the group's own partition (`<queue>#g#<group>`, sort key `m#<16-digit sequence>`), so a
 * strongly consistent query returns the group's head in order. The group item in that partition
 * (sort key `group`) — not its messages — sits in the ready index; it carries the sequence
 * counters `next` (allocated) and `written` (put), and, while a consumer holds the group, its
 * `lease`.
 *
 * Requests:
 * - allocate: one UpdateItem of the group item (ADD `next` 1, SET its index fields, due now)
 *   conditioned on `attribute_not_exists(gpk)`, so a group out of the ready index is put back in
 *   the same write; when the group is already there, a second, unconditional UpdateItem only
 *   adds 1 to `next`. The returned `next - 1` is the message's sequence number.
 * - putGrouped: allocate, a PutItem of the message conditioned on `attribute_not_exists(pk)`, an
 *   unconditional UpdateItem ADD `written` 1; a taken sequence number starts over.
 * - headOf: one strongly consistent Query of the group partition, `sk` begins with `m#`, limit 1.
 * - wakeGroup: GetItem of the group item, then an UpdateItem putting it in the index, due now,
 *   conditioned on `attribute_not_exists(lease)` (a holder will see the change itself).
 * - settleGroup: up to five rounds of GetItem (group) + headOf + one UpdateItem conditioned on
 *   `lease = <holder's lease>` (and, to leave the index, on `next` and `written` as just read).
 * - deadLetterGrouped: PutItem of a dead copy under the message's own key (`<queue>#<id>` /
 *   `msg`) conditioned on `attribute_not_exists(pk)`, then the caller-conditioned DeleteItem
 *   from the group; when that delete loses its race, the copy this call made is deleted.
 *
 * Invariants: at most one message of a group is in flight (claiming the group claims its head,
 * under one lease); a group leaves the index only when both counters are unchanged since it was
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
  groupedId,
  groupMessageSk,
  groupPk,
  indexSortKey,
  messageKey,
  randomShard,
  readyPartition,
} from "../keys.ts";
import {
  and,
  type Condition,
  eq,
  type Item,
  type Key,
  notExists,
} from "../../services/DynamoDB.ts";
import type { FailureInfo, SendResult } from "../../services/Queue.ts";
import { deadFields, ignoreLost, type QueueContext, unconditional } from "./context.ts";

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
const groupDue = <A>(ctx: QueueContext<A>, group: string, home: string, t: number): Item => ({
  queue: ctx.name,
  group,
  state: "group",
  home,
  gpk: home,
  gsk: indexSortKey(t, groupEntryId(group)),
  receives: 0,
  updatedAt: t,
});

/**
 * Takes the group's next sequence number. A group that is not in the ready index is put there
 * in the same write: if the sender then crashes before its message is written, consumers find
 * the gap and wait for it, rather than never looking at the group again.
 */
const allocate = <A>(
  ctx: QueueContext<A>,
  group: string,
  home: string,
  t: number,
): Effect.Effect<number, DynamoDBError> =>
  ctx.db.update(ctx.table, groupKey(ctx, group), {
    set: { ...groupDue(ctx, group, home, t), sentAt: t },
    add: { next: 1, written: 0 },
  }, { condition: notExists("gpk") }).pipe(
    Effect.catchTag(
      "ConditionFailed",
      () =>
        unconditional(
          ctx.db.update(ctx.table, groupKey(ctx, group), { add: { next: 1, written: 0 } }),
        ),
    ),
    Effect.map((item) => (item.next as number) - 1),
  );

/**
 * Sends a prepared grouped message (its item built for sequence 0): allocates its sequence
 * number, puts it there, and counts it as written.
 */
export const putGrouped = <A>(
  ctx: QueueContext<A>,
  p: { readonly item: Item; readonly visibleAt: number },
  group: string,
  home: string,
): Effect.Effect<SendResult, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table } = ctx;
    const sentAt = p.item.sentAt as number;
    const seq = yield* allocate(ctx, group, home, sentAt);
    const id = groupedId(seq, group);
    const item = {
      ...p.item,
      sk: groupMessageSk(seq),
      id,
      seq,
      gsk: indexSortKey(p.visibleAt, id),
    };
    const written = yield* db.put(table, item, { condition: notExists("pk") }).pipe(
      Effect.as(true),
      // A sequence number is handed out once; only a group item deleted and re-created (its
      // counters restarted) can hand one out again. Then take the next one.
      Effect.catchTag("ConditionFailed", () => Effect.succeed(false)),
    );
    // Count the sequence number as written either way, so consumers do not wait for it.
    yield* unconditional(db.update(table, groupKey(ctx, group), { add: { written: 1 } }));
    if (!written) return yield* putGrouped(ctx, p, group, home);
    return { id, visibleAt: p.visibleAt, duplicate: false };
  });

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
 * Hands a group back after its head was settled: visible when its new head is due; out of the
 * index when it is empty and nothing is being sent to it (conditioned on both counters, so a
 * message sent meanwhile is never stranded); looked at again soon when a sender has taken a
 * sequence number but not written it yet.
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
    for (let attempt = 0; attempt < 5; attempt++) {
      const t = yield* ctx.now;
      const g = yield* db.get(table, key);
      if (g === undefined || g.lease !== lease) return;
      const head = yield* headOf(ctx, group);
      if (head !== undefined) {
        const due = head.state === "inflight" ? t : Math.max(t, head.visibleAt as number);
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
        continue; // a sender moved a counter meanwhile: look again
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
  });

/**
 * Moves a grouped message to the dead-letter queue: a dead copy under the message's own key
 * first, then the delete from the group (conditioned as given). A crash in between leaves the
 * copy and the original; the next attempt finds the copy already there and only deletes.
 */
export const deadLetterGrouped = <A>(
  ctx: QueueContext<A>,
  item: Item,
  reason: FailureInfo,
  condition: Condition,
  t: number,
): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table, name } = ctx;
    const id = item.id as string;
    const { lease: _lease, ...rest } = item;
    const copy = { ...rest, ...messageKey(name, id), ...deadFields(ctx, t, id, reason) };
    const copied = yield* db.put(table, copy, { condition: notExists("pk") }).pipe(
      Effect.as(true),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(false)),
    );
    yield* db.delete(table, { pk: item.pk as string, sk: item.sk as string }, { condition }).pipe(
      Effect.tapError((e) =>
        copied && e._tag === "ConditionFailed"
          ? Effect.ignore(db.delete(table, messageKey(name, id)))
          : Effect.void
      ),
    );
  });

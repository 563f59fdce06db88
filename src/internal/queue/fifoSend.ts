/**
 * The send side of FIFO message groups (docs/fifo.md; the group's layout and the consume side are
 * in `fifo.ts`): a grouped send takes the group's next sequence number, then writes its message
 * under that number and counts it as written, so a consumer never skips a message it has not
 * seen counted.
 *
 * Requests:
 * - allocate: one UpdateItem of the group item (ADD `next` 1, SET its index fields, due now)
 *   conditioned on `attribute_not_exists(gpk)`, so a group out of the ready index is put back in
 *   the same write; when the group is already there, a second UpdateItem conditioned on
 *   `attribute_exists(gpk)` only adds 1 to `next` (tried in turn, so the group is in the index
 *   afterwards either way). The returned `next - 1` is the message's sequence number.
 * - putGrouped: allocate, then one TransactWriteItems of the PutItem of the message (carrying a
 *   `sendToken`, conditioned on `attribute_not_exists(pk)`) and the group's UpdateItem ADD
 *   `written` 1, conditioned on `attribute_exists(gpk)` or on `attribute_not_exists(gpk)` (then
 *   also putting the group back in the index), tried in turn. On the put's ConditionFailed a
 *   GetItem: its own token or no item means done, someone else's item means start over. Without
 *   transactions the PutItem, then `countWritten` (the same two UpdateItems, tried in turn).
 *
 * Invariants: every write that counts a group's messages leaves the group in the ready index
 * (`inEitherPlace`), so a sender that stops after any one of them strands nothing; a message is
 * put and counted in one transaction where the backend has them; a sequence number is handed out
 * once, so a failed put whose number holds no item, or holds this send's token, was this send's.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import { DynamoDBError } from "../../Errors.ts";
import { groupedId, groupMessageSk, indexSortKey, leaseToken } from "../keys.ts";
import {
  type Condition,
  exists,
  type Item,
  notExists,
  type TransactItem,
  type Update,
} from "../../services/DynamoDB.ts";
import type { SendResult } from "../../services/Queue.ts";
import type { QueueContext } from "./context.ts";
import { groupDue, groupKey, unsupported, withoutTransactions } from "./fifo.ts";

/**
 * Where a write that counts a group's messages assumes the group is: in the ready index
 * (`attribute_exists(gpk)`), or out of it (`attribute_not_exists(gpk)`; the write then also puts
 * it back, due now). Consumers move a group in and out at any time, so such a write tries one
 * assumption, then the other; whichever applies, the group is in the index afterwards.
 */
type GroupPlace = "in" | "out";

/** Writes tried (alternating the two places) before a group-counting write gives up. */
const GROUP_PLACE_TRIES = 20;

/**
 * Runs `write` assuming `first`, then the other place, in turn, until it applies. `write` returns
 * `None` when its condition on `gpk` failed (the group had moved). After `GROUP_PLACE_TRIES`
 * writes, fails with a retryable `TransactionConflict` saying what could not be done.
 */
const inEitherPlace = <X>(
  first: GroupPlace,
  operation: string,
  what: string,
  write: (place: GroupPlace) => Effect.Effect<Option.Option<X>, DynamoDBError>,
): Effect.Effect<X, DynamoDBError> =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < GROUP_PLACE_TRIES; attempt++) {
      const done = yield* write((attempt % 2 === 0) === (first === "in") ? "in" : "out");
      if (Option.isSome(done)) return done.value;
    }
    return yield* new DynamoDBError({
      operation,
      reason: "TransactionConflict",
      retryable: true,
      detail: `could not ${what}: the group kept entering and leaving the index`,
    });
  });

/** The condition a write assuming `place` makes on the group item. */
const placeCondition = (place: GroupPlace): Condition =>
  place === "in" ? exists("gpk") : notExists("gpk");

/** An update of the group item assuming `place`: its result, or `None` when the group moved. */
const updateGroup = <A>(
  ctx: QueueContext<A>,
  group: string,
  place: GroupPlace,
  update: Update,
): Effect.Effect<Option.Option<Item>, DynamoDBError> =>
  ctx.db.update(ctx.table, groupKey(ctx, group), update, { condition: placeCondition(place) })
    .pipe(
      Effect.map(Option.some),
      Effect.catchTag("ConditionFailed", () => Effect.succeedNone),
    );

/**
 * Takes the group's next sequence number. A group that is not in the ready index is put there
 * in the same write: if the sender then crashes before its message is written, consumers find
 * the gap and wait for it, rather than never looking at the group again. (An unconditional count
 * would race a holder that takes the empty group out of the index: the number would be taken
 * with the group out of the index, and a sender that stops before `countWritten` would strand
 * its message.)
 */
const allocate = <A>(
  ctx: QueueContext<A>,
  group: string,
  home: string,
  t: number,
): Effect.Effect<number, DynamoDBError> =>
  inEitherPlace("out", "update", "take a sequence number", (place) =>
    updateGroup(
      ctx,
      group,
      place,
      place === "out"
        ? { set: { ...groupDue(ctx, group, home, t), sentAt: t }, add: { next: 1, written: 0 } }
        : { add: { next: 1, written: 0 } },
    ).pipe(Effect.map(Option.map((counters) => (counters.next as number) - 1))));

/**
 * Counts a sequence number as written, and puts the group back in the ready index if a
 * consumer let it go meanwhile (it gave up waiting for this number: `GROUP_GAP_ABANDON` in
 * fifo.ts), so a late message is never stranded.
 */
const countWritten = <A>(
  ctx: QueueContext<A>,
  group: string,
  home: string,
  t: number,
): Effect.Effect<void, DynamoDBError> =>
  inEitherPlace("out", "update", "count the message as written", (place) =>
    updateGroup(
      ctx,
      group,
      place,
      place === "out"
        ? { set: groupDue(ctx, group, home, t), add: { next: 0, written: 1 } }
        : { add: { written: 1 } },
    ).pipe(Effect.map(Option.map(() => undefined))));

/**
 * Sends a prepared grouped message (its item built for sequence 0): allocates its sequence
 * number, then puts it there (carrying a fresh `sendToken`) and counts it as written in one
 * transaction, so a message never appears in its group without moving `written`: a consumer that
 * read its group's head before the put and claims it after (conditioned on the counters it read)
 * cannot skip this message once it is there. A put whose condition fails is read back: if the
 * item there is this send's own (its response was lost and the request retried) or is already
 * gone (a sequence number is handed out once, so only this send can have written it), the send is
 * done; only someone else's item makes it start over.
 */
export const putGrouped = <A>(
  ctx: QueueContext<A>,
  p: { readonly item: Item; readonly visibleAt: number },
  group: string,
  home: string,
): Effect.Effect<SendResult, DynamoDBError> =>
  Effect.gen(function* () {
    const sentAt = p.item.sentAt as number;
    const seq = yield* allocate(ctx, group, home, sentAt);
    const id = groupedId(seq, group);
    const item = {
      ...p.item,
      sk: groupMessageSk(seq),
      id,
      seq,
      gsk: indexSortKey(p.visibleAt, id),
      sendToken: leaseToken(),
    };
    const written = withoutTransactions.has(ctx.db)
      ? yield* putThenCount(ctx, item, group, home, sentAt)
      : yield* putCounted(ctx, item, group, home, sentAt);
    if (!written) return yield* putGrouped(ctx, p, group, home);
    return { id, visibleAt: p.visibleAt, duplicate: false };
  });

/**
 * Whether a failed put of a grouped message was this send's own write: its `sendToken` is there
 * (the put applied, its response was lost and the request was retried), or no item at all is (a
 * sequence number is handed out once: only this send can have written it, and it has been
 * received and acked since).
 */
const ownPut = <A>(ctx: QueueContext<A>, item: Item): Effect.Effect<boolean, DynamoDBError> =>
  Effect.map(
    ctx.db.get(ctx.table, { pk: item.pk as string, sk: item.sk as string }),
    (there) => there === undefined || there.sendToken === item.sendToken,
  );

/**
 * The put of a grouped message and the count of it (`written` + 1) in one TransactWriteItems, in
 * either place of the group (`inEitherPlace`; out of the index, the count also puts it back, due
 * now: a consumer gave up waiting for this number). Returns
 * whether this send wrote the message (false: someone else's item holds the number). Without
 * transactions (dynalite) it falls back to `putThenCount`.
 */
const putCounted = <A>(
  ctx: QueueContext<A>,
  item: Item,
  group: string,
  home: string,
  t: number,
): Effect.Effect<boolean, DynamoDBError> => {
  const { db, table } = ctx;
  const key = groupKey(ctx, group);
  return inEitherPlace(
    "in",
    "transactWrite",
    "write the message",
    (place) =>
      Effect.gen(function* () {
        const count: TransactItem = {
          _tag: "Update",
          table,
          key,
          update: place === "in"
            ? { add: { written: 1 } }
            : { set: groupDue(ctx, group, home, t), add: { next: 0, written: 1 } },
          condition: placeCondition(place),
        };
        const put = yield* Effect.either(db.transactWrite([
          { _tag: "Put", table, item, condition: notExists("pk") },
          count,
        ]));
        if (Either.isRight(put)) return Option.some(true);
        if (put.left._tag === "DynamoDBError") {
          if (!unsupported(put.left)) return yield* put.left;
          withoutTransactions.set(db, true);
          return Option.some(yield* putThenCount(ctx, item, group, home, t));
        }
        // The group's condition failed (and so the put's held: nothing was written): the group
        // entered or left the index since `allocate`.
        const failed = put.left.key;
        if (failed?.pk === key.pk && failed?.sk === key.sk) return Option.none();
        return Option.some(yield* ownPut(ctx, item));
      }),
  );
};

/**
 * Without transactions: the put, then `countWritten` (whatever the put's outcome, so consumers do
 * not wait for the number). A consumer may then read the head between the two and claim a later
 * message ahead of this one; but without transactions a head claim checks no counters anyway.
 */
const putThenCount = <A>(
  ctx: QueueContext<A>,
  item: Item,
  group: string,
  home: string,
  t: number,
): Effect.Effect<boolean, DynamoDBError> =>
  Effect.gen(function* () {
    const written = yield* ctx.db.put(ctx.table, item, { condition: notExists("pk") }).pipe(
      Effect.as(true),
      Effect.catchTag("ConditionFailed", () => ownPut(ctx, item)),
    );
    yield* countWritten(ctx, group, home, t);
    return written;
  });

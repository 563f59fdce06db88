/**
 * Receiving (docs/design.md "Receive: the claim", "Priorities", "Shards"; FIFO groups in
 * `fifo.ts`).
 *
 * Requests:
 * - receive: a Query on the ready index per partition read (`gpk = <partition> AND gsk <=
 *   <now>#~`, a few more candidates than wanted, paged), partitions visited by band (drawn with
 *   weight 4^band) from a random shard; then one claim per candidate, in parallel waves of the
 *   number still wanted, in index order.
 * - claim: one UpdateItem conditioned on `gpk`, `gsk` and `receives` being the values just read
 *   from the index (the index key moves on every claim, nack, release and extension, so it is
 *   the version). It sets `state = inflight`, a fresh lease, `gsk = <now + visibility>#id`, ADD
 *   `receives` 1, and returns the item with its payload. An entry already at `maxReceives`, or
 *   whose `receives` is not a number, is instead moved to the dead-letter queue by that same
 *   single update; a claimed item that does not decode is moved there by one more UpdateItem,
 *   conditioned on the new lease.
 * - claimGroup: one UpdateItem of the group item (same version condition) that sets the group's
 *   lease and moves its `gsk` to the lease expiry, then per head: `fifo.headOf` and
 *   `fifo.claimHead` (the head's UpdateItem, with the group's in one transaction) conditioned on
 *   `state` and `receives` as read and on the head not being held (`fifo.headFree`: no lease, or
 *   `visibleAt <= now`, the time read afresh), at most ten heads; heads that cannot be
 *   delivered (at `maxReceives`, undecodable, `receives` not a number) are dead-lettered on the
 *   way (`fifo.deadLetterGrouped`, same condition), a half-done stepwise dead-lettering is
 *   finished (`fifo.finishDeadLetter`), and a group with nothing due is handed back
 *   (`fifo.settleGroup`).
 *
 * Invariants: a lost race is never an error and never a sleep — the receiver moves on to the next
 * candidate. Each claim stands alone: a failed one does not throw away what the others claimed,
 * and the receive fails only when it has nothing else to hand over. Nothing undecodable ever
 * reaches a handler.
 *
 * @module
 */
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Exit from "effect/Exit";
import * as Random from "effect/Random";
import { type DynamoDBError, MaxReceivesExceeded, UndecodableMessage } from "../../Errors.ts";
import { parseItem } from "../envelope.ts";
import { forEachConcurrent } from "../fanOut.ts";
import { withSpan } from "../span.ts";
import {
  GROUP_NAME,
  GROUP_SK,
  groupPk,
  INDEX_NAME,
  indexSortKey,
  leaseToken,
  MESSAGE_SK,
  randomShard,
  readyPartition,
  visibleUpTo,
} from "../keys.ts";
import type { ReceivedMessage } from "../../schema/Message.ts";
import {
  and,
  type Condition,
  eq,
  exists,
  type Item,
  type Key,
  notExists,
  type QueryPage,
} from "../../services/DynamoDB.ts";
import type { Queue } from "../../services/Queue.ts";
import type { CatalogReport } from "./catalogReport.ts";
import { bodyOf, deadFields, type QueueContext } from "./context.ts";
import {
  claimHead,
  deadLetterGrouped,
  finishDeadLetter,
  groupEntryId,
  groupKey,
  headFree,
  headOf,
  isMarkedDead,
  settleGroup,
} from "./fifo.ts";
import { durationMillis, integerIn, invalid } from "./options.ts";

/** What one claim of an index entry yields. */
interface Claimed<A> {
  readonly message?: ReceivedMessage<A> | undefined;
  readonly deadLettered: ReadonlyArray<MaxReceivesExceeded | UndecodableMessage>;
}
const lost: Claimed<never> = { deadLettered: [] };

/** Decodes a claimed item into a message, or explains why it cannot be delivered. */
export const decodeClaimed = <A>(
  ctx: QueueContext<A>,
  item: Item,
  id: string,
  lease: string,
): Effect.Effect<Either.Either<ReceivedMessage<A>, UndecodableMessage>> =>
  Effect.gen(function* () {
    const { name } = ctx;
    const stored = parseItem(item);
    const body = Either.isRight(stored) ? yield* bodyOf(ctx, stored.right) : Either.left({
      detail: `not a DynamoMQ message: ${stored.left}`,
      cause: undefined as unknown,
    });
    if (Either.isLeft(body) || Either.isLeft(stored)) {
      const problem = Either.isLeft(body) ? body.left : { detail: "", cause: undefined };
      return Either.left(new UndecodableMessage({ queue: name, messageId: id, ...problem }));
    }
    const s = stored.right;
    return Either.right({
      queue: name,
      id,
      body: body.right,
      receives: s.receives,
      sentAt: s.sentAt,
      visibleAt: s.visibleAt,
      lease,
      attempts: s.attempts,
      priority: s.priority,
      deduplication: s.dedup !== undefined && s.dedupUntil !== undefined
        ? { id: s.dedup, until: s.dedupUntil }
        : undefined,
      group: s.group,
      traceParent: s.trace,
    });
  });

/**
 * A claim this receive may have applied and not yet handed over: released (uncounted) if the
 * receive does not complete, whatever stopped it.
 */
interface Hold {
  readonly key: Key;
  readonly id: string;
  readonly lease: string;
}

/**
 * Hands a message claimed under `lease` back: visible now, the receive not counted. Conditioned
 * on the lease, so it undoes exactly this receive's claim, or nothing (a claim that never
 * applied, or was taken over since).
 */
const releaseClaim = <A>(ctx: QueueContext<A>, hold: Hold, t: number) =>
  ctx.db.update(ctx.table, hold.key, {
    set: { state: "ready", gsk: indexSortKey(t, hold.id), visibleAt: t, updatedAt: t },
    add: { receives: -1 },
    remove: ["lease"],
  }, { condition: eq("lease", hold.lease) });

/** Releases every claim still held, best effort: each is conditioned on its own lease. */
const releaseHeld = <A>(ctx: QueueContext<A>, held: Set<Hold>): Effect.Effect<void> =>
  Effect.flatMap(ctx.now, (t) =>
    Effect.forEach(
      Array.from(held),
      (hold) => Effect.ignore(releaseClaim(ctx, hold, t)),
      { concurrency: "unbounded", discard: true },
    ));

/**
 * Why an index entry of a ready partition is not one this library wrote, or `undefined` when it
 * is: a message (`<queue>#<id>`, sort key `msg`, not in state `group`) or a group
 * (`<queue>#g#<group>`, sort key `group`, state `group`).
 */
const foreignReason = <A>(ctx: QueueContext<A>, candidate: Item): string | undefined => {
  const { pk, sk, state } = candidate;
  if (typeof pk !== "string" || typeof sk !== "string") return "its key is not a string";
  const groupPrefix = groupPk(ctx.name, "");
  if (state === "group") {
    return sk === GROUP_SK && pk.startsWith(groupPrefix) &&
        GROUP_NAME.test(pk.slice(groupPrefix.length))
      ? undefined
      : `state "group" on an item that is not a group (key ${pk} / ${sk})`;
  }
  return sk === MESSAGE_SK && pk.startsWith(`${ctx.name}#`) &&
      !pk.slice(ctx.name.length + 1).includes("#")
    ? undefined
    : `an index entry with an unknown key (${pk} / ${sk})`;
};

/**
 * Claims one candidate read from the index: a single conditional update, conditioned on the
 * index key and receive count just read (they change on every claim, so they act as the
 * version). A lost race is not an error: the caller moves on to the next candidate.
 *
 * A claim whose outcome is unknown is recognised by its lease token, which this receive chose:
 * a `ConditionFailed` carries the item as it is (ALL_OLD; a retry of our own applied write fails
 * its condition), and after a retryable error one consistent read tells. A claim that cannot be
 * confirmed either way is released uncounted (conditioned on the lease). Claims are registered
 * in `held` while they may hold a message.
 */
const claim = <A>(
  ctx: QueueContext<A>,
  candidate: Item,
  t: number,
  visibility: number,
  held: Set<Hold>,
): Effect.Effect<Claimed<A>, DynamoDBError> => {
  const { db, table, name } = ctx;
  const { maxReceives } = ctx.settings;
  const pk = candidate.pk as string;
  const receives = typeof candidate.receives === "number" ? candidate.receives : 0;
  const version = and(
    eq("gpk", candidate.gpk as string),
    eq("gsk", candidate.gsk as string),
    candidate.receives === undefined ? notExists("receives") : eq("receives", candidate.receives),
  );
  const id = pk.slice(name.length + 1);
  const foreign = foreignReason(ctx, candidate);
  if (foreign !== undefined) {
    // Not an entry this library wrote (another sort key, a forged group state): dead-lettered
    // on its own key, conditioned on exactly what was read, so it stops counting as ready and
    // every receive stops paging past it. A real message or group never has such a key.
    const error = new UndecodableMessage({
      queue: name,
      messageId: id,
      detail: `not a DynamoMQ message: ${foreign}`,
    });
    return db.update(table, { pk, sk: candidate.sk as string }, {
      set: deadFields(ctx, t, id, { tag: error._tag, message: error.detail }),
      remove: ["lease"],
    }, { condition: and(exists("pk"), version) }).pipe(
      Effect.as<Claimed<A>>({ deadLettered: [error] }),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
    );
  }
  if (candidate.state === "group") {
    return claimGroup(ctx, pk.slice(groupPk(name, "").length), version, t, visibility, held);
  }
  const key = { pk, sk: MESSAGE_SK };
  if (typeof candidate.receives !== "number") {
    // Not an item this library wrote (its receive count could not even be counted up):
    // quarantined straight away, so it neither blocks the index nor fails every receive.
    const error = new UndecodableMessage({
      queue: name,
      messageId: id,
      detail: "not a DynamoMQ message: its receive count is missing or not a number",
    });
    return db.update(table, key, {
      set: deadFields(ctx, t, id, { tag: error._tag, message: error.detail }),
      remove: ["lease"],
    }, { condition: version }).pipe(
      Effect.as<Claimed<A>>({ deadLettered: [error] }),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
    );
  }
  if (receives >= maxReceives) {
    const error = new MaxReceivesExceeded({ queue: name, messageId: id, receives, maxReceives });
    return db.update(table, key, {
      set: deadFields(ctx, t, id, { tag: error._tag, message: error.message }),
      remove: ["lease"],
    }, { condition: version }).pipe(
      Effect.as<Claimed<A>>({ deadLettered: [error] }),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
    );
  }
  const lease = leaseToken();
  const hold: Hold = { key, id, lease };
  const visibleAt = t + visibility;
  const ours = (item: unknown): item is Item =>
    typeof item === "object" && item !== null && (item as Item).lease === lease;
  const notOurs = Effect.sync((): Claimed<A> => {
    held.delete(hold);
    return lost;
  });
  const deliver = (item: Item): Effect.Effect<Claimed<A>, DynamoDBError> =>
    Effect.flatMap(
      decodeClaimed(ctx, item, id, lease),
      Either.match({
        onRight: (message): Effect.Effect<Claimed<A>, DynamoDBError> =>
          Effect.succeed({ message, deadLettered: [] }),
        // Quarantined under the new lease, so a poison item never reaches a handler.
        onLeft: (error) =>
          db.update(table, key, {
            set: deadFields(ctx, t, id, { tag: error._tag, message: error.detail }),
            remove: ["lease"],
          }, { condition: eq("lease", lease) }).pipe(
            Effect.zipRight(notOurs),
            Effect.as<Claimed<A>>({ deadLettered: [error] }),
            Effect.catchTag("ConditionFailed", () => notOurs),
          ),
      }),
    );
  // The outcome of the claim is unknown (a retryable error: it may have applied, its response
  // lost): one consistent read tells; if even that fails, release it uncounted. A release that
  // fails retryably (and so did not apply) is followed by another round of read and release,
  // three at most: a claim that may hold the message is not left counted for one failed request.
  // A claim still unresolved stays in `held`.
  const recognise = (error: DynamoDBError): Effect.Effect<Claimed<A>, DynamoDBError> =>
    Effect.gen(function* () {
      for (let round = 0; round < 3; round++) {
        const read = yield* Effect.either(db.get(table, key));
        if (Either.isRight(read)) {
          return ours(read.right)
            ? yield* deliver(read.right)
            : yield* Effect.zipRight(notOurs, error);
        }
        const released = yield* Effect.either(releaseClaim(ctx, hold, t));
        if (Either.isRight(released) || released.left._tag === "ConditionFailed") {
          return yield* Effect.zipRight(notOurs, error);
        }
        if (!released.left.retryable) break;
      }
      return yield* error;
    });
  return Effect.suspend(() => {
    held.add(hold);
    return db.update(table, key, {
      set: { state: "inflight", lease, gsk: indexSortKey(visibleAt, id), visibleAt, updatedAt: t },
      add: { receives: 1 },
    }, { condition: version, itemOnConditionFailure: true });
  }).pipe(
    Effect.matchEffect({
      onSuccess: deliver,
      onFailure: (e): Effect.Effect<Claimed<A>, DynamoDBError> =>
        e._tag === "ConditionFailed"
          // A retry of our own applied claim fails its condition: the item shows our lease.
          ? (ours(e.item) ? deliver(e.item) : notOurs)
          : e.retryable
          ? recognise(e)
          : Effect.zipRight(notOurs, e),
    }),
  );
};

/**
 * Claims a group (one conditional update of its item), then its head under the same lease.
 * Heads at `maxReceives` or that do not decode are dead-lettered on the way; a head that is
 * not due yet, or an empty group, hands the group back. Time is read afresh for every head, so
 * the head's lease (and the group's, moved with it) runs for the full visibility from its claim.
 * A head claim that may hold the head is registered in `held` until it is handed over.
 */
const claimGroup = <A>(
  ctx: QueueContext<A>,
  group: string,
  version: Condition,
  t0: number,
  visibility: number,
  held: Set<Hold>,
): Effect.Effect<Claimed<A>, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table, name } = ctx;
    const { maxReceives } = ctx.settings;
    const lease = leaseToken();
    const claimed = yield* Effect.either(db.update(table, groupKey(ctx, group), {
      set: { lease, gsk: indexSortKey(t0 + visibility, groupEntryId(group)), updatedAt: t0 },
    }, { condition: version }));
    if (Either.isLeft(claimed)) {
      return claimed.left._tag === "ConditionFailed" ? lost : yield* claimed.left;
    }
    let seen: Item = claimed.right;
    const deadLettered: Array<MaxReceivesExceeded | UndecodableMessage> = [];
    // Every write to a head is conditioned on it as read (state, receive count) and on nobody
    // holding it under a lease that has not run out: a consumer whose group lease expired never
    // takes the head from the group's current holder.
    const asRead = (head: Item, t: number) =>
      and(
        eq("state", head.state as string),
        head.receives === undefined ? notExists("receives") : eq("receives", head.receives),
        headFree(t),
      );
    const dead = (
      head: Item,
      t: number,
      error: MaxReceivesExceeded | UndecodableMessage,
      reason: string,
      condition: Condition = asRead(head, t),
    ) =>
      deadLetterGrouped(ctx, head, { tag: error._tag, message: reason }, condition, t).pipe(
        Effect.tap(() => void deadLettered.push(error)),
        Effect.catchTag("ConditionFailed", () => Effect.void),
      );
    for (let i = 0; i < 10; i++) {
      const head = yield* headOf(ctx, group);
      if (head === undefined) break;
      if (isMarkedDead(head)) {
        // A dead-lettering without transactions stopped half-way: finish it.
        yield* finishDeadLetter(ctx, head);
        continue;
      }
      const t = yield* ctx.now;
      // Not due, or held by a lease that has not run out: hand the group back until then.
      if ((head.visibleAt as number) > t) break;
      const id = head.id as string;
      if (typeof head.receives !== "number") {
        // Not an item this library wrote: quarantined, so it does not block its group forever.
        const error = new UndecodableMessage({
          queue: name,
          messageId: id,
          detail: "not a DynamoMQ message: its receive count is missing or not a number",
        });
        yield* dead(head, t, error, error.detail);
        continue;
      }
      const receives = head.receives;
      if (receives >= maxReceives) {
        const error = new MaxReceivesExceeded({
          queue: name,
          messageId: id,
          receives,
          maxReceives,
        });
        yield* dead(head, t, error, error.message);
        continue;
      }
      // Registered before the claim is sent: from then on it may hold the head.
      const hold: Hold = { key: { pk: head.pk as string, sk: head.sk as string }, id, lease };
      held.add(hold);
      // On an error it stays registered: the claim may still hold the head (its release failed).
      const taken = yield* claimHead(ctx, head, seen, lease, t + visibility, asRead(head, t), t);
      if (taken === undefined) {
        held.delete(hold);
        // Changed meanwhile (an admin operation, a send, a redrive): read the group and its
        // head again, unless the group is no longer ours.
        const g = yield* db.get(table, groupKey(ctx, group));
        if (g === undefined || g.lease !== lease) return { deadLettered };
        seen = g;
        continue;
      }
      const decoded = yield* decodeClaimed(ctx, taken, id, lease);
      if (Either.isRight(decoded)) return { message: decoded.right, deadLettered };
      // Quarantined under the lease just taken, so a poison item never reaches a handler.
      held.delete(hold);
      yield* dead(taken, t, decoded.left, decoded.left.detail, eq("lease", lease));
    }
    yield* settleGroup(ctx, group, lease);
    return { deadLettered };
  });

/** The receive side of a queue handle. */
export const makeReceive = <A>(
  ctx: QueueContext<A>,
  catalog: CatalogReport,
): Pick<Queue<A>, "receive"> => {
  const { db, table, name, settings, now, attrs, bands } = ctx;
  const { shards, priorities } = settings;
  const { withCatalog } = catalog;

  /**
   * The order in which one receive visits the bands: the first band is drawn with weight 4^band,
   * the others follow from high to low. Higher bands are served first most of the time, and a
   * lower band is still looked at first now and then, so it is never starved.
   */
  const weights = bands.map((b) => 4 ** b);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const bandOrder: Effect.Effect<ReadonlyArray<number>> = priorities === 1
    ? Effect.succeed([0])
    // Effect's Random, so that tests can seed the draw.
    : Effect.map(Random.next, (u) => {
      let r = u * totalWeight;
      const first = bands.find((_, i) => (r -= weights[i]!) < 0) ?? bands[0]!;
      return [first, ...bands.filter((b) => b !== first)];
    });

  const receive: Queue<A>["receive"] = (options) =>
    Effect.suspend(() => {
      // Claims that may hold a message and were not handed over: a receive that does not
      // complete (interrupted, or a defect) releases them uncounted; nothing claimed is dropped.
      const held = new Set<Hold>();
      return receiveWith(options, held).pipe(
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : releaseHeld(ctx, held)),
      );
    }).pipe(
      withSpan("DynamoMQ.receive", { kind: "consumer", attributes: attrs }),
      withCatalog,
    );

  const receiveWith = (
    options: Parameters<Queue<A>["receive"]>[0],
    held: Set<Hold>,
  ) =>
    Effect.gen(function* () {
      const max = yield* integerIn("receive", "max", options?.max, 1, 1, 100);
      const visibility = options?.visibilityTimeout === undefined
        ? settings.visibilityTimeoutMillis
        : yield* durationMillis(
          "receive",
          "visibilityTimeout",
          options.visibilityTimeout,
          Duration.zero,
        );
      if (visibility < 1) return yield* invalid("receive", "visibilityTimeout", "must be positive");
      const messages: Array<ReceivedMessage<A>> = [];
      const deadLettered: Array<MaxReceivesExceeded | UndecodableMessage> = [];
      let failure: DynamoDBError | undefined = undefined;
      // Start at a random shard so that consumers spread over the shards.
      const firstShard = randomShard(shards);
      const order = (yield* bandOrder).flatMap((band) =>
        Array.from({ length: shards }, (_, i) =>
          readyPartition(name, band, (firstShard + i) % shards))
      );
      for (const partition of order) {
        let startKey: Key | undefined = undefined;
        while (messages.length < max) {
          // Times are read afresh for every request: a receive can take a while (retries,
          // read-backs), and a lease computed from its start could already be over on arrival.
          const t = yield* now;
          // Read a few more candidates than needed: some will be lost to other consumers.
          const read = yield* Effect.either(db.query(table, {
            index: INDEX_NAME,
            partition: { attribute: "gpk", value: partition },
            sort: {
              attribute: "gsk",
              condition: { _tag: "Compare", op: "<=", value: visibleUpTo(t) },
            },
            limit: Math.min((max - messages.length) * 2 + 4, 200),
            startKey,
          }));
          if (Either.isLeft(read)) {
            // What was claimed from earlier pages is handed over, never dropped.
            failure ??= read.left;
            break;
          }
          const page: QueryPage = read.right;
          let candidates = page.items;
          // Claim in waves of the number still wanted, in index order, so a lone consumer
          // receives oldest first.
          while (candidates.length > 0 && messages.length < max) {
            const wave = candidates.slice(0, max - messages.length);
            const tc = yield* now;
            candidates = candidates.slice(wave.length);
            // Each claim stands alone: one failing (throttled, say) must not throw away the
            // messages the others claimed, which would then sit in flight with no holder.
            const outcomes = yield* forEachConcurrent(
              wave,
              (c) =>
                Effect.either(claim(ctx, c, tc, visibility, held)),
            );
            for (const o of outcomes) {
              if (Either.isLeft(o)) {
                failure ??= o.left;
                continue;
              }
              if (o.right.message !== undefined) messages.push(o.right.message);
              deadLettered.push(...o.right.deadLettered);
            }
          }
          startKey = page.lastKey;
          if (startKey === undefined || failure !== undefined) {
            break;
          }
        }
        // After a failed request, hand over what was claimed rather than read further.
        if (messages.length >= max || failure !== undefined) break;
      }
      // A failed request is reported only when there is nothing else to hand over.
      if (failure !== undefined && messages.length === 0 && deadLettered.length === 0) {
        return yield* failure;
      }
      return { messages, deadLettered };
    });

  return { receive };
};

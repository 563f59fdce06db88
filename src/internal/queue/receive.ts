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
 *   lease and moves its `gsk` to the lease expiry, then per head: `fifo.headOf` and one
 *   UpdateItem conditioned on `attribute_exists(pk) AND receives = <read>`, at most ten heads;
 *   heads that cannot be delivered are dead-lettered on the way (`fifo.deadLetterGrouped`), and
 *   a group with nothing due is handed back (`fifo.settleGroup`).
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
import * as Random from "effect/Random";
import {
  type ConditionFailed,
  type DynamoDBError,
  MaxReceivesExceeded,
  UndecodableMessage,
} from "../../Errors.ts";
import { parseItem } from "../envelope.ts";
import {
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
import { deadLetterGrouped, groupEntryId, groupKey, headOf, settleGroup } from "./fifo.ts";
import { durationMillis, integerIn, invalid } from "./options.ts";

/** What one claim of an index entry yields. */
interface Claimed<A> {
  readonly message?: ReceivedMessage<A> | undefined;
  readonly deadLettered: ReadonlyArray<MaxReceivesExceeded | UndecodableMessage>;
}
const lost: Claimed<never> = { deadLettered: [] };

/** Decodes a claimed item into a message, or explains why it cannot be delivered. */
const decodeClaimed = <A>(
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
 * Claims one candidate read from the index: a single conditional update, conditioned on the
 * index key and receive count just read (they change on every claim, so they act as the
 * version). A lost race is not an error: the caller moves on to the next candidate.
 */
const claim = <A>(
  ctx: QueueContext<A>,
  candidate: Item,
  t: number,
  visibility: number,
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
  if (candidate.state === "group") {
    return claimGroup(ctx, pk.slice(groupPk(name, "").length), version, t, visibility);
  }
  const id = pk.slice(name.length + 1);
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
  const visibleAt = t + visibility;
  return db.update(table, key, {
    set: { state: "inflight", lease, gsk: indexSortKey(visibleAt, id), visibleAt, updatedAt: t },
    add: { receives: 1 },
  }, { condition: version }).pipe(
    Effect.flatMap((item) =>
      Effect.flatMap(
        decodeClaimed(ctx, item, id, lease),
        Either.match({
          onRight: (message): Effect.Effect<Claimed<A>, ConditionFailed | DynamoDBError> =>
            Effect.succeed({ message, deadLettered: [] }),
          // Quarantined under the new lease, so a poison item never reaches a handler.
          onLeft: (error) =>
            db.update(table, key, {
              set: deadFields(ctx, t, id, { tag: error._tag, message: error.detail }),
              remove: ["lease"],
            }, { condition: eq("lease", lease) }).pipe(Effect.as({ deadLettered: [error] })),
        }),
      )
    ),
    Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
  );
};

/**
 * Claims a group (one conditional update of its item), then its head under the same lease.
 * Heads at `maxReceives` or that do not decode are dead-lettered on the way; a head that is
 * not due yet, or an empty group, hands the group back.
 */
const claimGroup = <A>(
  ctx: QueueContext<A>,
  group: string,
  version: Condition,
  t: number,
  visibility: number,
): Effect.Effect<Claimed<A>, DynamoDBError> =>
  Effect.gen(function* () {
    const { db, table, name } = ctx;
    const { maxReceives } = ctx.settings;
    const lease = leaseToken();
    const until = t + visibility;
    const claimed = yield* Effect.either(db.update(table, groupKey(ctx, group), {
      set: { lease, gsk: indexSortKey(until, groupEntryId(group)), updatedAt: t },
    }, { condition: version }));
    if (Either.isLeft(claimed)) {
      return claimed.left._tag === "ConditionFailed" ? lost : yield* claimed.left;
    }
    const deadLettered: Array<MaxReceivesExceeded | UndecodableMessage> = [];
    const dead = (head: Item, error: MaxReceivesExceeded | UndecodableMessage, reason: string) =>
      deadLetterGrouped(
        ctx,
        head,
        { tag: error._tag, message: reason },
        eq("receives", head.receives as number),
        t,
      )
        .pipe(
          Effect.tap(() => void deadLettered.push(error)),
          Effect.catchTag("ConditionFailed", () => Effect.void),
        );
    for (let i = 0; i < 10; i++) {
      const head = yield* headOf(ctx, group);
      if (
        head === undefined || (head.state !== "inflight" && (head.visibleAt as number) > t)
      ) break;
      const id = head.id as string;
      const receives = typeof head.receives === "number" ? head.receives : 0;
      if (receives >= maxReceives) {
        const error = new MaxReceivesExceeded({
          queue: name,
          messageId: id,
          receives,
          maxReceives,
        });
        yield* dead(head, error, error.message);
        continue;
      }
      const taken = yield* Effect.either(
        db.update(table, { pk: head.pk as string, sk: head.sk as string }, {
          set: {
            state: "inflight",
            lease,
            gsk: indexSortKey(until, id),
            visibleAt: until,
            updatedAt: t,
          },
          add: { receives: 1 },
        }, { condition: and(exists("pk"), eq("receives", receives)) }),
      );
      if (Either.isLeft(taken)) {
        if (taken.left._tag === "DynamoDBError") return yield* taken.left;
        continue; // changed meanwhile (an admin operation): read the head again
      }
      const decoded = yield* decodeClaimed(ctx, taken.right, id, lease);
      if (Either.isRight(decoded)) return { message: decoded.right, deadLettered };
      yield* dead(taken.right, decoded.left, decoded.left.detail);
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
      const t = yield* now;
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
          // Read a few more candidates than needed: some will be lost to other consumers.
          const page: QueryPage = yield* db.query(table, {
            index: INDEX_NAME,
            partition: { attribute: "gpk", value: partition },
            sort: {
              attribute: "gsk",
              condition: { _tag: "Compare", op: "<=", value: visibleUpTo(t) },
            },
            limit: Math.min((max - messages.length) * 2 + 4, 200),
            startKey,
          });
          let candidates = page.items;
          // Claim in waves of the number still wanted, in index order, so a lone consumer
          // receives oldest first.
          while (candidates.length > 0 && messages.length < max) {
            const wave = candidates.slice(0, max - messages.length);
            candidates = candidates.slice(wave.length);
            // Each claim stands alone: one failing (throttled, say) must not throw away the
            // messages the others claimed, which would then sit in flight with no holder.
            const outcomes = yield* Effect.forEach(
              wave,
              (c) =>
                Effect.either(claim(ctx, c, t, visibility)),
              { concurrency: "unbounded" },
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
          if (startKey === undefined) {
            break;
          }
        }
        // After a failed claim, hand over what was claimed rather than read further.
        if (messages.length >= max || failure !== undefined) break;
      }
      // A failed claim is reported only when there is nothing else to hand over.
      if (failure !== undefined && messages.length === 0 && deadLettered.length === 0) {
        return yield* failure;
      }
      return { messages, deadLettered };
    }).pipe(
      Effect.withSpan("DynamoMQ.receive", {
        kind: "consumer",
        attributes: attrs,
        captureStackTrace: false,
      }),
      withCatalog,
    );

  return { receive };
};

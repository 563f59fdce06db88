/**
 * The message item as stored in DynamoDB, decoded with a Schema so that items this library did
 * not write (or that are corrupt) are recognised rather than crashing a consumer.
 */
import * as Either from "effect/Either";
import * as ParseResult from "effect/ParseResult";
import * as Schema from "effect/Schema";
import type { Attempt, MessageInfo, MessageState, StoredState } from "../schema/Message.ts";
import type { Item } from "../services/DynamoDB.ts";

/** How many failed attempts are kept with a message. */
export const MAX_ATTEMPTS_KEPT = 10;

const AttemptSchema = Schema.Struct({
  at: Schema.Number,
  receive: Schema.Number,
  tag: Schema.String,
  message: Schema.String,
});

const StoredMessage = Schema.Struct({
  pk: Schema.String,
  sk: Schema.String,
  queue: Schema.String,
  id: Schema.String,
  // `done` is a tombstone: an acked message kept (payload-less, out of the index) until its
  // deduplication window ends.
  state: Schema.Literal("ready", "inflight", "dead", "done"),
  /** The ready partition the message returns to (its priority band and shard). */
  home: Schema.String,
  gpk: Schema.optional(Schema.String),
  gsk: Schema.optional(Schema.String),
  visibleAt: Schema.Number,
  sentAt: Schema.Number,
  updatedAt: Schema.Number,
  receives: Schema.Number,
  attempts: Schema.optionalWith(Schema.Array(AttemptSchema), { default: () => [] }),
  enc: Schema.Literal("json", "gzip"),
  payload: Schema.optional(Schema.Union(Schema.String, Schema.Uint8ArrayFromSelf)),
  lease: Schema.optional(Schema.String),
  deadReason: Schema.optional(Schema.Struct({ tag: Schema.String, message: Schema.String })),
  priority: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  dedup: Schema.optional(Schema.String),
  dedupUntil: Schema.optional(Schema.Number),
  group: Schema.optional(Schema.String),
  /** A grouped message's sequence number within its group. */
  seq: Schema.optional(Schema.Number),
  trace: Schema.optional(Schema.String),
});

/** A decoded message item. */
export type StoredMessage = typeof StoredMessage.Type;

const decodeStored = Schema.decodeUnknownEither(StoredMessage, { onExcessProperty: "ignore" });

const STRINGS = ["pk", "sk", "queue", "id", "home"] as const;
const NUMBERS = ["visibleAt", "sentAt", "updatedAt", "receives"] as const;
const OPTIONAL_STRINGS = ["gpk", "gsk", "lease", "dedup", "group", "trace"] as const;
const OPTIONAL_NUMBERS = ["dedupUntil", "seq"] as const;
const STATES: ReadonlySet<unknown> = new Set(["ready", "inflight", "dead", "done"]);

type Fields = { [name: string]: unknown };

/**
 * The same decode as `StoredMessage`'s Schema, written out by hand for the hot path (every claimed
 * item goes through it): `undefined` where the item is not plainly a well-formed message (the
 * Schema then decides, and explains), otherwise exactly what the Schema would give.
 */
const fastDecode = (item: Item): StoredMessage | undefined => {
  const i = item as Fields;
  const out: Fields = {};
  for (const name of STRINGS) {
    const v = i[name];
    if (typeof v !== "string") return undefined;
    out[name] = v;
  }
  for (const name of NUMBERS) {
    const v = i[name];
    if (typeof v !== "number") return undefined;
    out[name] = v;
  }
  if (!STATES.has(i.state)) return undefined;
  out.state = i.state;
  if (i.enc !== "json" && i.enc !== "gzip") return undefined;
  out.enc = i.enc;
  for (const name of OPTIONAL_STRINGS) {
    if (!(name in i)) continue;
    const v = i[name];
    if (typeof v !== "string") return undefined;
    out[name] = v;
  }
  for (const name of OPTIONAL_NUMBERS) {
    if (!(name in i)) continue;
    const v = i[name];
    if (typeof v !== "number") return undefined;
    out[name] = v;
  }
  if ("payload" in i) {
    const v = i.payload;
    if (typeof v !== "string" && !(v instanceof Uint8Array)) return undefined;
    out.payload = v;
  }
  if ("priority" in i) {
    if (typeof i.priority !== "number") return undefined;
    out.priority = i.priority;
  } else out.priority = 0;
  if ("deadReason" in i) {
    const r = i.deadReason as Fields | null;
    if (typeof r !== "object" || r === null || Array.isArray(r)) return undefined;
    if (typeof r.tag !== "string" || typeof r.message !== "string") return undefined;
    out.deadReason = { tag: r.tag, message: r.message };
  }
  if ("attempts" in i) {
    const list = i.attempts;
    if (!Array.isArray(list)) return undefined;
    const attempts: Array<Attempt> = [];
    for (const a of list as Array<Fields | null>) {
      if (typeof a !== "object" || a === null || Array.isArray(a)) return undefined;
      if (
        typeof a.at !== "number" || typeof a.receive !== "number" ||
        typeof a.tag !== "string" || typeof a.message !== "string"
      ) return undefined;
      attempts.push({ at: a.at, receive: a.receive, tag: a.tag, message: a.message });
    }
    out.attempts = attempts;
  } else out.attempts = [];
  return out as unknown as StoredMessage;
};

/** Decodes an item, or explains in one line why it is not a DynamoMQ message. */
export const parseItem = (item: Item): Either.Either<StoredMessage, string> => {
  const fast = fastDecode(item);
  if (fast !== undefined) return Either.right(fast);
  return Either.mapLeft(decodeStored(item), (e) => ParseResult.TreeFormatter.formatErrorSync(e));
};

/** The state a caller sees: `delayed` and expired leases are derived from `visibleAt`. */
export const deriveState = (
  stored: StoredState | "done",
  visibleAt: number,
  now: number,
): MessageState => {
  if (stored === "dead" || stored === "done") return "dead";
  if (visibleAt > now) return stored === "inflight" ? "inflight" : "delayed";
  return "ready";
};

/** The longest failure tag stored (attempts, dead-letter reason), in UTF-16 code units. */
export const MAX_FAILURE_TAG = 100;
/** The longest failure message stored (attempts, dead-letter reason), in UTF-16 code units. */
export const MAX_FAILURE_MESSAGE = 500;

/**
 * A failure as stored: tag and message cut to `MAX_FAILURE_TAG` / `MAX_FAILURE_MESSAGE`, so that
 * what the protocol adds to an item has a bound ({@linkcode LIFETIME_HEADROOM}).
 */
export const boundFailure = <F extends { readonly tag: string; readonly message: string }>(
  failure: F,
): F =>
  failure.tag.length <= MAX_FAILURE_TAG && failure.message.length <= MAX_FAILURE_MESSAGE
    ? failure
    : {
      ...failure,
      tag: failure.tag.slice(0, MAX_FAILURE_TAG),
      message: failure.message.length <= MAX_FAILURE_MESSAGE
        ? failure.message
        : `${failure.message.slice(0, MAX_FAILURE_MESSAGE - 1)}…`,
    };

// Sizes as `itemSize` counts them (a UTF-16 code unit is at most 3 UTF-8 bytes; any integer up
// to 10^20 takes at most 12 bytes).
const NUMBER = 12;
const failureMap = (extra: number) =>
  3 + extra + (1 + 3 + 3 * MAX_FAILURE_TAG) + (1 + 7 + 3 * MAX_FAILURE_MESSAGE);

/**
 * The bytes a message item may grow by over its life, beyond what it has when sent: a full
 * attempt history (`attempts`, `MAX_ATTEMPTS_KEPT` bounded failures), a dead-letter reason
 * (`deadReason`), a lease (`lease`), the state's longest name, and larger numbers for
 * `receives`, `visibleAt` and `updatedAt`, plus a margin. A send refuses an item that would not
 * fit in DynamoDB's item limit with it (the dead-letter partition key's extra length is added
 * per queue by the sender), so no claim, nack or dead-lettering can fail on the item's size.
 */
export const LIFETIME_HEADROOM: number =
  // attempts: a list of maps { at, receive, tag, message }
  8 + 3 + MAX_ATTEMPTS_KEPT * (1 + failureMap((1 + 2 + NUMBER) + (1 + 7 + NUMBER))) +
  // deadReason: { tag, message }
  10 + failureMap(0) +
  // lease: a 22-character token (64 allowed)
  5 + 64 +
  // state "inflight" over "ready"; receives, visibleAt, updatedAt growing
  8 + 3 * NUMBER +
  256;

/** Appends an attempt (bounded), keeping the most recent `MAX_ATTEMPTS_KEPT`. */
export const appendAttempt = (
  attempts: ReadonlyArray<Attempt>,
  attempt: Attempt,
): ReadonlyArray<Attempt> => [...attempts, boundFailure(attempt)].slice(-MAX_ATTEMPTS_KEPT);

/** The attempts as a storable list of maps. */
export const attemptsItem = (attempts: ReadonlyArray<Attempt>): Item[string] =>
  attempts.map((a) => ({ at: a.at, receive: a.receive, tag: a.tag, message: a.message }));

/** Builds the caller's view of a stored message; the body decodes with `decodeBody`. */
export const toInfo = <A>(
  stored: StoredMessage,
  now: number,
  body: Either.Either<A, string>,
): MessageInfo<A> => ({
  queue: stored.queue,
  id: stored.id,
  state: deriveState(stored.state, stored.visibleAt, now),
  body,
  receives: stored.receives,
  sentAt: stored.sentAt,
  updatedAt: stored.updatedAt,
  visibleAt: stored.visibleAt,
  attempts: stored.attempts,
  deadReason: stored.deadReason,
  priority: stored.priority,
  deduplicationId: stored.dedup,
  group: stored.group,
});

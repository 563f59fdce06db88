/**
 * Key formats of the single-table layout (DESIGN.md §3) and the random/sortable identifiers.
 * Internal: the table layout is documented in docs/design.md, not exported.
 */

/** The ready index: sparse, keyed by `gpk` = `<queue>#<shard>` (or `<queue>#dead`) and `gsk`. */
export const INDEX_NAME = "ready";
/** The sort key of a message item. */
export const MESSAGE_SK = "msg";
/** The attribute DynamoDB's TTL reads (epoch seconds). */
export const TTL_ATTRIBUTE = "ttl";
/**
 * The attribute holding the token of the send that wrote a message: a retried send that meets
 * an item with its own token knows its first write applied. Items written before it have none.
 */
export const SEND_TOKEN = "tok";
/**
 * How long after its send a sender may still write a message again: its own conditional retry of
 * a put that may have applied (`sendBatch`) starts only within this window, and the AWS SDK's
 * retries of a request end within `requestTimeout` × attempts (30 s × 3 by default) of its start.
 */
export const RESEND_WINDOW_MILLIS = 60_000;
/**
 * How long after its send an ack leaves a tombstone instead of deleting the message: long enough
 * that every write of its sender (see {@linkcode RESEND_WINDOW_MILLIS}, plus the SDK's retries of
 * the last one and a minute of clock skew between sender and consumer) meets the tombstone and
 * recognises its own write, so an acked message is never written back.
 */
export const ACK_TOMBSTONE_MILLIS = 300_000;
/** Non-key attributes copied into the ready index: enough for stats, listing and the claim. */
export const INDEX_PROJECTION: ReadonlyArray<string> = ["state", "sentAt", "receives"];

/** The largest time a 13-digit sort key can hold (year 2286). */
const MAX_TIME = 9_999_999_999_999;

/** Fixed-width epoch milliseconds, so lexicographic order is time order (unlike the Go library's trimmed RFC 3339, B8). */
export const pad13 = (millis: number): string =>
  String(Math.min(Math.max(Math.floor(millis), 0), MAX_TIME)).padStart(13, "0");

/** `gsk` of a message visible at `visibleAt`: time first, id as the tie-breaker. */
export const indexSortKey = (visibleAt: number, id: string): string => `${pad13(visibleAt)}#${id}`;

/** Upper bound of every `gsk` visible at or before `now` (`~` sorts after every id character). */
export const visibleUpTo = (now: number): string => `${pad13(now)}#~`;

export const messagePk = (queue: string, id: string): string => `${queue}#${id}`;
/**
 * The index partition of ready messages of one priority band and shard. Band 0 needs no band
 * marker, so a queue without priorities reads `<queue>#<shard>`.
 */
export const readyPartition = (queue: string, band: number, shard: number): string =>
  band === 0 ? `${queue}#${shard}` : `${queue}#p${band}#${shard}`;
export const deadPartition = (queue: string): string => `${queue}#dead`;

export const messageKey = (queue: string, id: string): { pk: string; sk: string } => ({
  pk: messagePk(queue, id),
  sk: MESSAGE_SK,
});

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

let lastTime = -1;
const lastRandom: Array<number> = new Array(16).fill(0);

/**
 * A ULID-style id: 10 characters of time (ms, Crockford base32) then 16 random characters, so
 * ids sort by creation time and never collide in practice. Within one millisecond the random
 * part is incremented (ULID's monotonic mode), so ids from one process sort in send order.
 */
export const sortableId = (now: number): string => {
  let time = "";
  let t = Math.max(0, Math.floor(now));
  const ms = t;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  if (ms === lastTime) {
    // Increment the 16-digit base-32 number; carrying out of the top digit wraps (2^80 ids/ms).
    for (let i = 15; i >= 0; i--) {
      lastRandom[i] = (lastRandom[i]! + 1) % 32;
      if (lastRandom[i] !== 0) break;
    }
  } else {
    lastTime = ms;
    const bytes = randomBytes(16);
    // The top digit leaves room to increment without wrapping in practice.
    for (let i = 0; i < 16; i++) lastRandom[i] = bytes[i]! % (i === 0 ? 16 : 32);
  }
  return time + lastRandom.map((d) => CROCKFORD[d]).join("");
};

/** A lease token: 128 bits from the platform's cryptographic random source, base64url. */
export const leaseToken = (): string => {
  let s = "";
  for (const b of randomBytes(16)) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
};

/** A uniformly random shard in [0, shards). */
export const randomShard = (shards: number): number =>
  shards <= 1 ? 0 : (randomBytes(4).reduce((a, b) => a * 256 + b, 0) % shards);

/** Queue names; `.` and `..` are refused, since no URL path (the dashboard's) can name them. */
export const QUEUE_NAME = /^(?!\.\.?$)[A-Za-z0-9_.-]{1,80}$/;

/**
 * The partition of the queue catalog. A queue name cannot contain `#` and message partitions
 * start with the name, so no message key can ever fall in it.
 */
export const CATALOG_PK = "#queues";
/** Message ids; `.` and `..` are refused, since no URL path (the dashboard's) can name them. */
export const MESSAGE_ID = /^(?!\.\.?$)[A-Za-z0-9_.:-]{1,128}$/;
export const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** The sort key of a FIFO group's own item (its sequence counters and lease). */
export const GROUP_SK = "group";
/** Group names: the message-id characters, at most 100 (a grouped id adds 17). */
export const GROUP_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The partition of a FIFO group: its item and its messages in sequence order. */
export const groupPk = (queue: string, group: string): string => `${queue}#g#${group}`;

/** A grouped message's sort key: its fixed-width sequence number within the group. */
export const groupMessageSk = (seq: number): string => `m#${String(seq).padStart(16, "0")}`;

/** The index partition where grouped messages are listed and counted (never received from). */
export const groupedPartition = (queue: string): string => `${queue}#grouped`;

/** A grouped message's id: its sequence number and its group, so the id locates the item. */
export const groupedId = (seq: number, group: string): string =>
  `${String(seq).padStart(16, "0")}.${group}`;

const GROUPED_ID = /^(\d{16})\.([A-Za-z0-9_.:-]{1,100})$/;

/** The group and sequence number of a grouped message id, if it is one. */
export const parseGroupedId = (
  id: string,
): { readonly seq: number; readonly group: string } | undefined => {
  const m = GROUPED_ID.exec(id);
  return m === null ? undefined : { seq: Number(m[1]), group: m[2]! };
};

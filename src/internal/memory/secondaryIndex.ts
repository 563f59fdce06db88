/**
 * A global secondary index of the memory layer: its definition (keys and projection) and the
 * entries index queries see. DynamoDB's rules kept here: an index is sparse (an item lacking
 * either index key is not in it), an entry holds only the table and index keys plus the projected
 * attributes, and with `indexLag` the index is eventually consistent — each change of an item's
 * entry (added, moved, removed) becomes visible only after the lag, one item's changes in the
 * order they were made.
 *
 * The rest of the layer reaches the entries only through `changeEntry` (writes), `visibleEntries`
 * and `project` (queries). Each index partition is kept ordered as queries read it (index sort
 * key, then table key), in a sorted array: a change costs a binary search and one splice, and a
 * query finds its range by binary search instead of copying and sorting the partition. Pending
 * changes (with index lag) are kept ordered by when they become visible, so settling takes a
 * prefix.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import type { AttributeValue, IndexDefinition, Item } from "../../services/DynamoDB.ts";
import { seededRandom } from "../seededRandom.ts";
import { invalid } from "./failures.ts";
import { checkDefinitionName, checkTableName } from "./limits.ts";
import { attr, compareStrings, define } from "./values.ts";

/**
 * The index lag of one memory store, shared by all its indexes: one PRNG and one sequence, so a
 * seeded run repeats whatever the tables.
 */
export interface IndexLag {
  /** The lag in milliseconds; 0 updates indexes with the write. */
  readonly lag: number;
  /** With a seed: draws each change's share of the lag. */
  readonly random: (() => number) | undefined;
  /** The time of the operation being run (set at its start, only when there is index lag). */
  now: number;
  /** Orders changes that become visible at the same time. */
  sequence: number;
}

/** The index lag from `MemoryOptions.indexLag` and `indexLagSeed`. */
export const makeIndexLag = (
  indexLag: Duration.DurationInput | undefined,
  seed: number | undefined,
): IndexLag => {
  const lag = indexLag === undefined
    ? 0
    : Math.max(0, Duration.toMillis(Duration.decode(indexLag)));
  if (!Number.isFinite(lag)) throw new RangeError("indexLag must be a finite duration");
  const random = seed === undefined ? undefined : seededRandom(seed);
  return { lag, random, now: 0, sequence: 0 };
};

/**
 * Runs `body` with the current time when there is index lag (without reading the clock
 * otherwise). The time is set inside the same synchronous step as the operation itself.
 */
export const timed = <A, E>(
  indexLag: IndexLag,
  f: (tick: () => void) => Effect.Effect<A, E>,
): Effect.Effect<A, E> =>
  indexLag.lag === 0 ? f(() => {}) : Effect.flatMap(Clock.currentTimeMillis, (t) =>
    f(() => {
      indexLag.now = t;
    }));

/** One index: its definition, then its entries, which only this module touches. */
export interface IndexState {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly projection: "KEYS_ONLY" | "ALL" | ReadonlyArray<string>;
  /** The attributes an entry holds, or `undefined` for all. */
  readonly projected: ReadonlySet<string> | undefined;
  /** The store's index lag. */
  readonly indexLag: IndexLag;
  /** Index partition value → its entries in index order: what queries see. */
  readonly partitions: Map<string, Array<IndexEntry>>;
  /** Table key id → its visible entry. */
  readonly located: Map<string, IndexEntry>;
  /** With index lag: the changes not yet visible, ordered by when they become visible. */
  readonly pending: Array<PendingEntry>;
  /** With index lag: table key id → when its latest pending change becomes visible. */
  readonly lastDue: Map<string, number>;
}

/**
 * One visible index entry: the item and its position in index order (index sort key, then the
 * table key; a table query uses the sort key alone, with `pk` and `sk` empty).
 */
export interface IndexEntry {
  readonly partition: string;
  readonly isk: string;
  readonly pk: string;
  readonly sk: string;
  readonly item: Item;
}

/** Index order: the index sort key, then the table key, each by UTF-8 bytes. */
export const compareEntries = (
  a: { readonly isk: string; readonly pk: string; readonly sk: string },
  b: { readonly isk: string; readonly pk: string; readonly sk: string },
): number =>
  compareStrings(a.isk, b.isk) || compareStrings(a.pk, b.pk) || compareStrings(a.sk, b.sk);

/** The first index of a sorted array at which `before` no longer holds (binary search). */
export const firstNotBefore = <T>(
  entries: ReadonlyArray<T>,
  before: (entry: T) => boolean,
  from = 0,
  to = entries.length,
): number => {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(entries[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** An index change waiting out the index lag: the item's new entry, or its removal. */
interface PendingEntry {
  readonly due: number;
  readonly seq: number;
  readonly id: string;
  readonly item: Item | undefined;
  readonly tableKey: { readonly pk: string; readonly sk: string };
}

/** Validates an index definition of a table and makes the empty index. */
export const makeIndex = (
  table: { readonly partitionKey: string; readonly sortKey: string },
  index: IndexDefinition,
  indexLag: IndexLag,
): IndexState => {
  checkTableName(index.name);
  checkDefinitionName(index.partitionKey);
  checkDefinitionName(index.sortKey);
  if (index.partitionKey === index.sortKey) invalid("Two keys can not have the same name");
  const projection = index.projection;
  let stored: IndexState["projection"];
  let projected: Set<string> | undefined;
  if (projection === "ALL") {
    stored = "ALL";
    projected = undefined;
  } else {
    const include = projection === "KEYS_ONLY" ? [] : [...projection];
    // The live layer creates an empty INCLUDE list as KEYS_ONLY.
    stored = include.length === 0 ? "KEYS_ONLY" : include;
    if (new Set(include).size !== include.length) {
      invalid("Cannot have two attributes with the same name");
    }
    include.forEach(checkDefinitionName);
    projected = new Set([
      table.partitionKey,
      table.sortKey,
      index.partitionKey,
      index.sortKey,
      ...include,
    ]);
  }
  return {
    name: index.name,
    partitionKey: index.partitionKey,
    sortKey: index.sortKey,
    projection: stored,
    projected,
    indexLag,
    partitions: new Map(),
    located: new Map(),
    pending: [],
    lastDue: new Map(),
  };
};

/** Shows or hides one item's entry in an index's visible view, keeping each partition ordered. */
const applyEntry = (
  index: IndexState,
  id: string,
  item: Item | undefined,
  tableKey: { readonly pk: string; readonly sk: string },
): void => {
  const old = index.located.get(id);
  let ipk: unknown;
  let isk: unknown;
  if (item !== undefined) {
    ipk = attr(item, index.partitionKey);
    isk = attr(item, index.sortKey);
  }
  // Sparse: an item lacking either index key is not in the index.
  const present = typeof ipk === "string" && typeof isk === "string";
  if (old !== undefined) {
    const entries = index.partitions.get(old.partition)!;
    const at = firstNotBefore(entries, (e) => compareEntries(e, old) < 0);
    if (present && old.partition === ipk && old.isk === isk) {
      // Same position: replace in place.
      const entry: IndexEntry = { ...old, item: item! };
      entries[at] = entry;
      index.located.set(id, entry);
      return;
    }
    entries.splice(at, 1);
    if (entries.length === 0) index.partitions.delete(old.partition);
    index.located.delete(id);
  }
  if (!present) return;
  const entry: IndexEntry = {
    partition: ipk as string,
    isk: isk as string,
    pk: tableKey.pk,
    sk: tableKey.sk,
    item: item!,
  };
  const entries = index.partitions.get(entry.partition);
  if (entries === undefined) {
    index.partitions.set(entry.partition, [entry]);
  } else {
    // Appends (a later sort key) are the common case: check the end first.
    const last = entries[entries.length - 1]!;
    if (compareEntries(last, entry) < 0) entries.push(entry);
    else entries.splice(firstNotBefore(entries, (e) => compareEntries(e, entry) < 0), 0, entry);
  }
  index.located.set(id, entry);
};

/**
 * Records the new entry of the item with table key id `id` (`undefined`: the item is gone): at
 * once, or after the index lag.
 */
export const changeEntry = (
  index: IndexState,
  id: string,
  item: Item | undefined,
  tableKey: { readonly pk: string; readonly sk: string },
): void => {
  const indexLag = index.indexLag;
  if (indexLag.lag === 0) {
    applyEntry(index, id, item, tableKey);
    return;
  }
  const delay = indexLag.random === undefined ? indexLag.lag : indexLag.random() * indexLag.lag;
  // One item's changes become visible in the order they were made.
  const due = Math.max(indexLag.now + delay, index.lastDue.get(id) ?? -Infinity);
  index.lastDue.set(id, due);
  const change: PendingEntry = { due, seq: indexLag.sequence++, id, item, tableKey };
  const pending = index.pending;
  const last = pending[pending.length - 1];
  if (last === undefined || last.due <= due) pending.push(change);
  else pending.splice(firstNotBefore(pending, (p) => p.due <= due), 0, change);
};

/** Makes visible every index change whose lag has passed, in the order they became due. */
const settle = (index: IndexState): void => {
  const pending = index.pending;
  if (pending.length === 0) return;
  const now = index.indexLag.now;
  // Ordered by due time, then by sequence (equal due times keep the order they were made in).
  const count = firstNotBefore(pending, (p) => p.due <= now);
  if (count === 0) return;
  for (const p of pending.splice(0, count)) {
    applyEntry(index, p.id, p.item, p.tableKey);
    if (index.lastDue.get(p.id) === p.due) index.lastDue.delete(p.id);
  }
};

/** The entries of one index partition a query sees now, in index order (do not modify). */
export const visibleEntries = (index: IndexState, partition: string): ReadonlyArray<IndexEntry> => {
  settle(index);
  return index.partitions.get(partition) ?? [];
};

/** What an index entry holds: the table and index keys plus the projected attributes. */
export const project = (index: IndexState | undefined, item: Item): Item => {
  if (index === undefined || index.projected === undefined) return item;
  const out: { [attribute: string]: AttributeValue } = {};
  for (const name of index.projected) {
    const value = attr(item, name);
    if (value !== undefined) define(out, name, value);
  }
  return out;
};

/**
 * A global secondary index of the memory layer: its definition (keys and projection) and the
 * entries index queries see. DynamoDB's rules kept here: an index is sparse (an item lacking
 * either index key is not in it), an entry holds only the table and index keys plus the projected
 * attributes, and with `indexLag` the index is eventually consistent — each change of an item's
 * entry (added, moved, removed) becomes visible only after the lag, one item's changes in the
 * order they were made.
 *
 * The rest of the layer reaches the entries only through `changeEntry` (writes), `visibleEntries`
 * and `project` (queries). How they are kept — today an unordered map per index partition, which
 * every query sorts in query.ts — is this module's business: keeping them ordered instead would
 * touch only this module and that sort.
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
import { attr, define } from "./values.ts";

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
  /** Index partition value → table key id → item: what queries see. */
  readonly partitions: Map<string, Map<string, Item>>;
  /** Table key id → the index partition its visible entry is in. */
  readonly located: Map<string, string>;
  /** With index lag: the changes not yet visible, in the order they were made. */
  pending: Array<PendingEntry>;
  /** With index lag: table key id → when its latest pending change becomes visible. */
  readonly lastDue: Map<string, number>;
}

/** An index change waiting out the index lag: the item's new entry, or its removal. */
interface PendingEntry {
  readonly due: number;
  readonly seq: number;
  readonly id: string;
  readonly item: Item | undefined;
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

/** Shows or hides one item's entry in an index's visible view. */
const applyEntry = (index: IndexState, id: string, item: Item | undefined): void => {
  const old = index.located.get(id);
  if (old !== undefined) {
    const partition = index.partitions.get(old);
    partition?.delete(id);
    if (partition?.size === 0) index.partitions.delete(old);
    index.located.delete(id);
  }
  if (item === undefined) return;
  const ipk = attr(item, index.partitionKey);
  // Sparse: an item lacking either index key is not in the index.
  if (typeof ipk !== "string" || typeof attr(item, index.sortKey) !== "string") return;
  let entries = index.partitions.get(ipk);
  if (entries === undefined) {
    entries = new Map();
    index.partitions.set(ipk, entries);
  }
  entries.set(id, item);
  index.located.set(id, ipk);
};

/**
 * Records the new entry of the item with table key id `id` (`undefined`: the item is gone): at
 * once, or after the index lag.
 */
export const changeEntry = (index: IndexState, id: string, item: Item | undefined): void => {
  const indexLag = index.indexLag;
  if (indexLag.lag === 0) {
    applyEntry(index, id, item);
    return;
  }
  const delay = indexLag.random === undefined ? indexLag.lag : indexLag.random() * indexLag.lag;
  // One item's changes become visible in the order they were made.
  const due = Math.max(indexLag.now + delay, index.lastDue.get(id) ?? -Infinity);
  index.lastDue.set(id, due);
  index.pending.push({ due, seq: indexLag.sequence++, id, item });
};

/** Makes visible every index change whose lag has passed, in the order they became due. */
const settle = (index: IndexState): void => {
  const now = index.indexLag.now;
  if (index.pending.length === 0) return;
  const due = index.pending.filter((p) => p.due <= now);
  if (due.length === 0) return;
  index.pending = index.pending.filter((p) => p.due > now);
  due.sort((a, b) => a.due - b.due || a.seq - b.seq);
  for (const p of due) {
    applyEntry(index, p.id, p.item);
    if (index.lastDue.get(p.id) === p.due) index.lastDue.delete(p.id);
  }
};

/**
 * The items of one index partition a query sees now, in no particular order (the query sorts
 * them).
 */
export const visibleEntries = (index: IndexState, partition: string): Iterable<Item> => {
  settle(index);
  return index.partitions.get(partition)?.values() ?? [];
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

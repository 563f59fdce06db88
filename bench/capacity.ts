/**
 * Capacity units computed from item sizes, on any backend: a wrapper around the `DynamoDB` port
 * that prices every request the way DynamoDB bills it and counts index writes per index partition
 * key (for the partition-heat benchmark).
 *
 * Rules (DynamoDB developer guide, "Capacity unit consumption"):
 * - A write costs 1 WCU per started KB of the item, the larger of the item before and after
 *   (PutItem, UpdateItem), or of the deleted item (DeleteItem); at least 1. A conditional write that
 *   fails still costs the size of the existing item (at least 1).
 * - Each global secondary index entry written costs 1 WCU per started KB of the entry (its key
 *   attributes, the table key and the projected attributes). A write that moves the index key
 *   costs a delete of the old entry plus a put of the new one; a write that changes only
 *   non-projected attributes costs the index nothing; an item that leaves a sparse index costs a
 *   delete.
 * - A strongly consistent read costs 1 RCU per started 4 KB (GetItem per item, BatchGetItem per
 *   item, Query on the sum of the items read); an eventually consistent one (every index query)
 *   half that. At least 1 (or 0.5) per request.
 * - A transactional write costs twice the units of the same plain write.
 *
 * The item before a write is not in the request, so the wrapper keeps a shadow of every item it
 * has seen written (its size and index entry only, never the payload). That is exact when every
 * write to the table goes through the wrapper, as in the benchmarks.
 */
import { Cause, Effect, Exit } from "effect";
import type {
  AttributeValue,
  BatchWriteRequest,
  DynamoDB,
  Item,
  Key,
  TransactItem,
} from "../src/services/DynamoDB.ts";
import { itemSize } from "../src/internal/itemSize.ts";
import { INDEX_PROJECTION } from "../src/internal/keys.ts";

/** Write units of writing `bytes` (1 per started KB, at least 1). */
export const writeUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024));

/** Read units of reading `bytes` (1 per started 4 KB, at least 1; halved when eventually consistent). */
export const readUnits = (bytes: number, consistent: boolean): number =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

/** An item's entry in the ready index, as far as pricing needs it. */
export interface IndexEntry {
  readonly partition: string;
  readonly sortKey: string;
  readonly bytes: number;
  /** The projected non-key attributes, serialised: a change means the entry is rewritten. */
  readonly projected: string;
}

/** The ready-index entry of an item, or undefined when the item is not in the (sparse) index. */
export const indexEntry = (item: Item): IndexEntry | undefined => {
  const { gpk, gsk } = item;
  if (typeof gpk !== "string" || typeof gsk !== "string") return undefined;
  const entry: Record<string, AttributeValue> = { gpk, gsk };
  if (item.pk !== undefined) entry.pk = item.pk;
  if (item.sk !== undefined) entry.sk = item.sk;
  for (const a of INDEX_PROJECTION) {
    const v = item[a];
    if (v !== undefined) entry[a] = v;
  }
  return {
    partition: gpk,
    sortKey: gsk,
    bytes: itemSize(entry),
    projected: JSON.stringify(INDEX_PROJECTION.map((a) => item[a] ?? null)),
  };
};

/** One write of an index entry. */
export interface IndexWrite {
  readonly partition: string;
  readonly kind: "put" | "delete" | "update";
  readonly units: number;
}

/** The index writes caused by a table write that changes an item's entry from `before` to `after`. */
export const indexWrites = (
  before: IndexEntry | undefined,
  after: IndexEntry | undefined,
): ReadonlyArray<IndexWrite> => {
  if (before === undefined && after === undefined) return [];
  if (before === undefined) {
    return [{ partition: after!.partition, kind: "put", units: writeUnits(after!.bytes) }];
  }
  if (after === undefined) {
    return [{ partition: before.partition, kind: "delete", units: writeUnits(before.bytes) }];
  }
  if (before.partition !== after.partition || before.sortKey !== after.sortKey) {
    return [
      { partition: before.partition, kind: "delete", units: writeUnits(before.bytes) },
      { partition: after.partition, kind: "put", units: writeUnits(after.bytes) },
    ];
  }
  if (before.projected === after.projected) return [];
  return [{
    partition: after.partition,
    kind: "update",
    units: writeUnits(Math.max(before.bytes, after.bytes)),
  }];
};

/** What the wrapper remembers of an item: its size and index entry, never its payload. */
interface Shadow {
  readonly bytes: number;
  readonly entry: IndexEntry | undefined;
}

/** Units counted so far. */
export interface CapacityCounts {
  readonly tableWriteUnits: number;
  readonly indexWriteUnits: number;
  readonly tableReadUnits: number;
  readonly indexReadUnits: number;
  /** Index entry writes (a key move counts two: delete and put). */
  readonly indexWriteOps: number;
  /** Index write units per index partition key. */
  readonly partitions: ReadonlyMap<string, number>;
}

/** A priced `DynamoDB` and its counters. */
export interface CapacityMeter {
  readonly service: DynamoDB;
  readonly snapshot: () => CapacityCounts;
  /** Zeroes the counters (the shadow of the items is kept). */
  readonly reset: () => void;
}

const keyString = (table: string, key: Key | Item): string =>
  `${table}\u0000${String(key.pk)}\u0000${String(key.sk)}`;

const shadowOf = (item: Item): Shadow => ({ bytes: itemSize(item), entry: indexEntry(item) });

/** Wraps a `DynamoDB` so that every request through it is priced in capacity units. */
export const meterCapacity = (inner: DynamoDB): CapacityMeter => {
  const shadows = new Map<string, Shadow>();
  let tableWriteUnits = 0;
  let indexWriteUnits = 0;
  let tableReadUnits = 0;
  let indexReadUnits = 0;
  let indexWriteOps = 0;
  let partitions = new Map<string, number>();

  /** Records a write that replaced `before` by `after` (either may be absent), `factor` 2 in a transaction. */
  const wrote = (
    key: string,
    before: Shadow | undefined,
    after: Shadow | undefined,
    factor = 1,
  ) => {
    tableWriteUnits += factor * writeUnits(Math.max(before?.bytes ?? 0, after?.bytes ?? 0));
    for (const w of indexWrites(before?.entry, after?.entry)) {
      indexWriteUnits += factor * w.units;
      indexWriteOps += 1;
      partitions.set(w.partition, (partitions.get(w.partition) ?? 0) + factor * w.units);
    }
    if (after === undefined) shadows.delete(key);
    else shadows.set(key, after);
  };

  /** A refused conditional write still costs the size of the item it looked at. */
  const refused = (key: string) => {
    tableWriteUnits += writeUnits(shadows.get(key)?.bytes ?? 0);
  };

  const priced = <A, E>(
    request: Effect.Effect<A, E>,
    onSuccess: (a: A) => void,
    onConditionFailed: () => void = () => {},
  ): Effect.Effect<A, E> =>
    Effect.onExit(request, (exit) =>
      Effect.sync(() => {
        if (Exit.isSuccess(exit)) return onSuccess(exit.value);
        for (const e of Cause.failures(exit.cause)) {
          if ((e as { _tag?: string })._tag === "ConditionFailed") onConditionFailed();
        }
      }));

  const batchWritten = (table: string, requests: ReadonlyArray<BatchWriteRequest>) => {
    for (const r of requests) {
      if (r._tag === "Put") {
        const key = keyString(table, r.item);
        wrote(key, shadows.get(key), shadowOf(r.item));
      } else {
        const key = keyString(table, r.key);
        const before = shadows.get(key);
        if (before === undefined) tableWriteUnits += 1;
        else wrote(key, before, undefined);
      }
    }
  };

  const transacted = (items: ReadonlyArray<TransactItem>) => {
    for (const t of items) {
      if (t._tag === "Put") {
        const key = keyString(t.table, t.item);
        wrote(key, shadows.get(key), shadowOf(t.item), 2);
      } else if (t._tag === "Delete") {
        const key = keyString(t.table, t.key);
        const before = shadows.get(key);
        if (before === undefined) tableWriteUnits += 2;
        else wrote(key, before, undefined, 2);
      } else if (t._tag === "Update") {
        // The new item is not returned by a transaction: the shadow cannot follow an update.
        const key = keyString(t.table, t.key);
        tableWriteUnits += 2 * writeUnits(shadows.get(key)?.bytes ?? 0);
      }
    }
  };

  const service: DynamoDB = {
    ...inner,
    get: (table, key) =>
      priced(inner.get(table, key), (item) => {
        tableReadUnits += readUnits(item === undefined ? 0 : itemSize(item), true);
      }),
    put: (table, item, options) => {
      const key = keyString(table, item);
      return priced(
        inner.put(table, item, options),
        () => wrote(key, shadows.get(key), shadowOf(item)),
        () => refused(key),
      );
    },
    update: (table, key, update, options) => {
      const k = keyString(table, key);
      return priced(
        inner.update(table, key, update, options),
        (item) => wrote(k, shadows.get(k), shadowOf(item)),
        () => refused(k),
      );
    },
    delete: (table, key, options) => {
      const k = keyString(table, key);
      return priced(
        inner.delete(table, key, options),
        (old) => {
          const before = old === undefined ? shadows.get(k) : shadowOf(old);
          if (before === undefined) tableWriteUnits += 1;
          else wrote(k, before, undefined);
        },
        () => refused(k),
      );
    },
    query: (table, query) =>
      priced(inner.query(table, query), (page) => {
        let bytes = 0;
        for (const item of page.items) bytes += itemSize(item);
        if (query.index === undefined) {
          tableReadUnits += readUnits(bytes, query.consistent ?? false);
        } else indexReadUnits += readUnits(bytes, false);
      }),
    batchGet: (table, keys) =>
      priced(inner.batchGet(table, keys), (r) => {
        for (const item of r.items) tableReadUnits += readUnits(itemSize(item), true);
      }),
    batchWrite: (table, requests) =>
      priced(inner.batchWrite(table, requests), (r) => {
        const keyOf = (q: BatchWriteRequest) => keyString(table, q._tag === "Put" ? q.item : q.key);
        const unprocessed = new Set(r.unprocessed.map(keyOf));
        batchWritten(table, requests.filter((q) => !unprocessed.has(keyOf(q))));
      }),
    transactWrite: (items) => priced(inner.transactWrite(items), () => transacted(items)),
  };

  return {
    service,
    snapshot: () => ({
      tableWriteUnits,
      indexWriteUnits,
      tableReadUnits,
      indexReadUnits,
      indexWriteOps,
      partitions: new Map(partitions),
    }),
    reset: () => {
      tableWriteUnits = 0;
      indexWriteUnits = 0;
      tableReadUnits = 0;
      indexReadUnits = 0;
      indexWriteOps = 0;
      partitions = new Map();
    },
  };
};

/** The hottest partition's share of the index write units, and the partition. */
export const hottest = (
  partitions: ReadonlyMap<string, number>,
): { readonly partition: string; readonly share: number; readonly total: number } => {
  let total = 0;
  let top = "";
  let max = 0;
  for (const [partition, units] of partitions) {
    total += units;
    if (units > max) {
      max = units;
      top = partition;
    }
  }
  return { partition: top, share: total === 0 ? 0 : max / total, total };
};

/**
 * The tables of one memory store: their definitions, their items and the checks DynamoDB makes
 * of keys and items. Enforced here: table and index definitions (names, distinct keys, at most
 * `MAX_INDEXES` indexes and `MAX_PROJECTED_ATTRIBUTES` projected attributes), keys that match the
 * schema with non-empty string values of at most 2048 (partition) and 1024 (sort) UTF-8 bytes,
 * the same for index keys where an item has them, and the 400 KB item size. Every write of an
 * item also records its change in each of the table's indexes.
 *
 * @module
 */
import { itemSize, utf8Length } from "../itemSize.ts";
import {
  type Item,
  type Key,
  MAX_ITEM_BYTES,
  type TableDefinition,
  type TableDescription,
} from "../../services/DynamoDB.ts";
import { invalid, Rejection } from "./failures.ts";
import {
  checkDefinitionName,
  checkTableName,
  MAX_INDEXES,
  MAX_PARTITION_KEY_BYTES,
  MAX_PROJECTED_ATTRIBUTES,
  MAX_SORT_KEY_BYTES,
} from "./limits.ts";
import { changeEntry, type IndexLag, type IndexState, makeIndex } from "./secondaryIndex.ts";
import { attr, copyItemIn, typeOf } from "./values.ts";

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/** One table: its definition and its items. */
export interface TableState {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly indexes: ReadonlyMap<string, IndexState>;
  ttlAttribute: string | undefined;
  /**
   * Partition value → its item, or sort value → item once it holds more than one. Most
   * partitions hold one item (a message, or an acked message's tombstone), and a `Map` for each
   * would add about a third to what the store keeps per message.
   */
  readonly partitions: Map<string, Item | Map<string, Item>>;
  /**
   * Items written with a TTL, as a binary min-heap on when each expires (epoch ms). An entry is
   * checked against the item when it is due, so a later write of the item wins.
   */
  readonly expiring: Array<Expiring>;
}

/** An item written with a TTL, and when that TTL passes. */
interface Expiring {
  readonly at: number;
  readonly pk: string;
  readonly sk: string;
}

/** An item's table key as one string, to find duplicates and index entries by. */
export const keyId = (pk: string, sk: string): string => JSON.stringify([pk, sk]);

/** Validates a table definition and makes the empty table; its indexes share `indexLag`. */
export const makeTable = (definition: TableDefinition, indexLag: IndexLag): TableState => {
  checkTableName(definition.name);
  checkDefinitionName(definition.partitionKey);
  checkDefinitionName(definition.sortKey);
  if (definition.partitionKey === definition.sortKey) {
    invalid("Two keys can not have the same name");
  }
  const definitions = definition.indexes ?? [];
  if (definitions.length > MAX_INDEXES) {
    invalid("GlobalSecondaryIndex count exceeds the per-table limit");
  }
  const indexes = new Map<string, IndexState>();
  let projectedCount = 0;
  for (const index of definitions) {
    if (indexes.has(index.name)) invalid("Two global secondary indices have the same name");
    const state = makeIndex(definition, index, indexLag);
    if (Array.isArray(state.projection)) projectedCount += state.projection.length;
    indexes.set(index.name, state);
  }
  if (projectedCount > MAX_PROJECTED_ATTRIBUTES) {
    invalid(
      `One or more parameter values were invalid: the indexes project ${projectedCount} non-key attributes; at most ${MAX_PROJECTED_ATTRIBUTES} are allowed per table`,
    );
  }
  return {
    name: definition.name,
    partitionKey: definition.partitionKey,
    sortKey: definition.sortKey,
    indexes,
    ttlAttribute: undefined,
    partitions: new Map(),
    expiring: [],
  };
};

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** A validated table key: its two values, and the key as an item holds it. */
export interface TableKey {
  readonly pk: string;
  readonly sk: string;
  readonly key: Key;
}

/** Refuses an empty string as a key value (of the table, an index or a key condition). */
export const emptyKeyValue = (attribute: string): never =>
  invalid(
    `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${attribute}`,
  );

const checkKeySizes = (pk: string, sk: string): void => {
  if (utf8Length(pk) > MAX_PARTITION_KEY_BYTES || utf8Length(sk) > MAX_SORT_KEY_BYTES) {
    invalid(
      "Hash primary key values must be under 2048 bytes, and range primary key values must be under 1024 bytes",
    );
  }
};

/** Validates a key given on its own (get, delete, update, batch and transaction keys). */
export const checkKey = (table: TableState, key: Key): TableKey => {
  if (typeof key !== "object" || key === null) {
    invalid("The provided key element does not match the schema");
  }
  const present = Object.entries(key).filter(([, v]) => v !== undefined);
  const pk = attr(key, table.partitionKey);
  const sk = attr(key, table.sortKey);
  if (present.length !== 2 || pk === undefined || sk === undefined) {
    invalid("The provided key element does not match the schema");
  }
  if (typeof pk !== "string" || typeof sk !== "string") {
    return invalid("The provided key element does not match the schema");
  }
  if (pk === "") emptyKeyValue(table.partitionKey);
  if (sk === "") emptyKeyValue(table.sortKey);
  checkKeySizes(pk, sk);
  return { pk, sk, key: { [table.partitionKey]: pk, [table.sortKey]: sk } };
};

/** Validates the key attributes of a whole item (put). */
const checkItemKey = (table: TableState, item: Item): TableKey => {
  const attribute = (name: string): string => {
    const value = attr(item, name);
    if (value === undefined) {
      invalid(`One or more parameter values were invalid: Missing the key ${name} in the item`);
    }
    if (typeof value !== "string") {
      return invalid(
        `One or more parameter values were invalid: Type mismatch for key ${name} expected: S actual: ${
          typeOf(value!)
        }`,
      );
    }
    if (value === "") emptyKeyValue(name);
    return value;
  };
  const pk = attribute(table.partitionKey);
  const sk = attribute(table.sortKey);
  checkKeySizes(pk, sk);
  return { pk, sk, key: { [table.partitionKey]: pk, [table.sortKey]: sk } };
};

/**
 * Validates an item's index keys: where present they must be non-empty strings within the key
 * size limits (an item lacking either is simply not in that index).
 */
export const checkIndexKeys = (table: TableState, item: Item, updating: boolean): void => {
  for (const index of table.indexes.values()) {
    for (
      const [attribute, limit] of [
        [index.partitionKey, MAX_PARTITION_KEY_BYTES],
        [index.sortKey, MAX_SORT_KEY_BYTES],
      ] as const
    ) {
      const value = attr(item, attribute);
      if (value === undefined) continue;
      if (typeof value !== "string") {
        invalid(
          `One or more parameter values were invalid: Type mismatch for Index Key ${attribute} Expected: S Actual: ${
            typeOf(value)
          } IndexName: ${index.name}`,
        );
      }
      if (value === "") {
        invalid(
          updating
            ? "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value."
            : `One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: ${index.name}, IndexKey: ${attribute}`,
        );
      }
      if (utf8Length(value as string) > limit) {
        invalid(
          `One or more parameter values were invalid: Size limit exceeded: index key ${attribute} of ${index.name} is over ${limit} bytes`,
        );
      }
    }
  }
};

/** The 400 KB item limit, with the message DynamoDB gives for a put or an update. */
export const checkItemSize = (item: Item, updating: boolean): void => {
  if (itemSize(item) > MAX_ITEM_BYTES) {
    invalid(
      updating
        ? "Item size to update has exceeded the maximum allowed size"
        : "Item size has exceeded the maximum allowed size",
    );
  }
};

// ---------------------------------------------------------------------------------------------
// Reads and writes
// ---------------------------------------------------------------------------------------------

/** The table of that name, which must exist. */
export const findTable = (tables: ReadonlyMap<string, TableState>, name: string): TableState => {
  checkTableName(name);
  const table = tables.get(name);
  if (table === undefined) {
    throw new Rejection(
      "TableNotFound",
      `Requested resource not found: Table: ${name} not found`,
    );
  }
  return table;
};

/** The stored item with that key, if any (the store's own object: copy it out). */
export const read = (table: TableState, target: TableKey): Item | undefined =>
  itemIn(table, table.partitions.get(target.pk), target.sk);

const itemIn = (
  table: TableState,
  partition: Item | Map<string, Item> | undefined,
  sk: string,
): Item | undefined =>
  partition instanceof Map
    ? partition.get(sk)
    : partition !== undefined && partition[table.sortKey] === sk
    ? partition
    : undefined;

/** The items of one table partition, each with its sort value, in no particular order. */
export const partitionItems = (
  table: TableState,
  pk: string,
): Iterable<readonly [string, Item]> => {
  const partition = table.partitions.get(pk);
  return partition === undefined
    ? []
    : partition instanceof Map
    ? partition
    : [[partition[table.sortKey] as string, partition]];
};

/** Records an item's new index entries (or their removal). */
const indexChange = (table: TableState, target: TableKey, item: Item | undefined): void => {
  const id = keyId(target.pk, target.sk);
  for (const index of table.indexes.values()) changeEntry(index, id, item, target);
};

/** Deletes the item with that key, if any, and its index entries. */
export const remove = (table: TableState, target: TableKey): void => {
  const partition = table.partitions.get(target.pk);
  if (itemIn(table, partition, target.sk) === undefined) return;
  indexChange(table, target, undefined);
  if (partition instanceof Map) {
    partition.delete(target.sk);
    if (partition.size === 1) {
      const [last] = partition.values();
      table.partitions.set(target.pk, last!);
    }
  } else table.partitions.delete(target.pk);
};

/** Stores a validated item under that key, replacing any, and updates its index entries. */
export const write = (table: TableState, target: TableKey, item: Item): void => {
  const partition = table.partitions.get(target.pk);
  if (partition instanceof Map) partition.set(target.sk, item);
  else if (partition === undefined || partition[table.sortKey] === target.sk) {
    table.partitions.set(target.pk, item);
  } else {
    table.partitions.set(
      target.pk,
      new Map([[partition[table.sortKey] as string, partition], [target.sk, item]]),
    );
  }
  indexChange(table, target, item);
  const expiry = ttlOf(table, item);
  if (expiry !== undefined) heapPush(table.expiring, { at: expiry, pk: target.pk, sk: target.sk });
};

const heapPush = (heap: Array<Expiring>, entry: Expiring): void => {
  let i = heap.push(entry) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= entry.at) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = entry;
};

const heapPop = (heap: Array<Expiring>): Expiring | undefined => {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined || heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const child = left + 1 < heap.length && heap[left + 1]!.at < heap[left]!.at ? left + 1 : left;
    if (heap[child]!.at >= last.at) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
};

/** When an item expires (epoch ms): its TTL attribute, when TTL is on and it holds a number. */
const ttlOf = (table: TableState, item: Item): number | undefined => {
  const ttl = table.ttlAttribute === undefined ? undefined : item[table.ttlAttribute];
  return typeof ttl === "number" ? ttl * 1000 : undefined;
};

/** Whether any item written with a TTL is still waiting to expire. */
export const hasExpiring = (table: TableState): boolean => table.expiring.length > 0;

/** Deletes the items whose TTL had passed at `now`, as DynamoDB's TTL does (within days). */
export const expire = (table: TableState, now: number): void => {
  while (table.expiring.length > 0 && table.expiring[0]!.at <= now) {
    const { pk, sk } = heapPop(table.expiring)!;
    const item = itemIn(table, table.partitions.get(pk), sk);
    const expiry = item === undefined ? undefined : ttlOf(table, item);
    if (expiry !== undefined && expiry <= now) {
      remove(table, { pk, sk, key: { [table.partitionKey]: pk, [table.sortKey]: sk } });
    }
  }
};

/** Validates a put: the item, its keys, its index keys and its size. */
export const preparePut = (
  table: TableState,
  given: Item,
): { readonly target: TableKey; readonly item: Item } => {
  const item = copyItemIn(given);
  const target = checkItemKey(table, item);
  checkIndexKeys(table, item, false);
  checkItemSize(item, false);
  return { target, item };
};

/** A table as `DescribeTable` reports it (a memory table is always `ACTIVE`). */
export const describe = (table: TableState): TableDescription => {
  const keys = (partitionKey: string, sortKey: string) => [
    { attribute: partitionKey, keyType: "HASH" as const, type: "S" },
    { attribute: sortKey, keyType: "RANGE" as const, type: "S" },
  ];
  const description: TableDescription = {
    name: table.name,
    status: "ACTIVE",
    keys: keys(table.partitionKey, table.sortKey),
    indexes: [...table.indexes.values()].map((index) => ({
      name: index.name,
      keys: keys(index.partitionKey, index.sortKey),
      projection: typeof index.projection === "string" ? index.projection : [...index.projection],
      status: "ACTIVE",
    })),
  };
  return table.ttlAttribute === undefined
    ? description
    : { ...description, ttlAttribute: table.ttlAttribute };
};

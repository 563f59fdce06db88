/**
 * Queries as DynamoDB runs them: the key condition selects one partition of the table or of an
 * index (sparse, projected, eventually consistent with `indexLag`), its items come in sort key
 * order by UTF-8 bytes (an index's equal sort keys then in table key order, where DynamoDB's own
 * order is unspecified), a start key continues after its position exclusively, and a page ends
 * at the limit or after the item that brings the data read to 1 MB, counted before the filter
 * and sized as the index stores the items.
 *
 * @module
 */
import { itemSize } from "../itemSize.ts";
import type { Item, Key, Query, QueryPage, SortKeyCondition } from "../../services/DynamoDB.ts";
import { holds, ORDERING, prepareCondition } from "./conditions.ts";
import { invalid } from "./failures.ts";
import { MAX_PAGE_BYTES } from "./limits.ts";
import {
  compareEntries,
  firstNotBefore,
  type IndexEntry,
  type IndexState,
  project,
  visibleEntries,
} from "./secondaryIndex.ts";
import { emptyKeyValue, findTable, partitionItems, type TableState } from "./tables.ts";
import { attr, compareStrings, copyItemOut, define } from "./values.ts";

const keyTypeMismatch = (): never =>
  invalid(
    "One or more parameter values were invalid: Condition parameter type does not match schema type",
  );

interface CheckedSort {
  readonly attribute: string;
  readonly test: (value: string) => boolean;
  /**
   * The values a sort condition selects are contiguous in sort key order: `below` holds for the
   * values before them, `above` for those after.
   */
  readonly below: (value: string) => boolean;
  readonly above: (value: string) => boolean;
}

const never = (): boolean => false;

const checkKeyConditionValue = (attribute: string, value: unknown): string => {
  if (typeof value !== "string") return keyTypeMismatch();
  if (value === "") emptyKeyValue(attribute);
  return value;
};

const checkSortCondition = (attribute: string, condition: SortKeyCondition): CheckedSort => {
  switch (condition._tag) {
    case "Compare": {
      const value = checkKeyConditionValue(attribute, condition.value);
      const op = condition.op;
      if (!ORDERING.has(op) && op !== "=") {
        invalid(`Invalid KeyConditionExpression operator: ${op}`);
      }
      return {
        attribute,
        below: op === "<" || op === "<="
          ? never
          : op === ">"
          ? (v) => compareStrings(v, value) <= 0
          : (v) => compareStrings(v, value) < 0,
        above: op === ">" || op === ">="
          ? never
          : op === "<"
          ? (v) => compareStrings(v, value) >= 0
          : (v) => compareStrings(v, value) > 0,
        test: (v) => {
          const c = compareStrings(v, value);
          return op === "="
            ? c === 0
            : op === "<"
            ? c < 0
            : op === "<="
            ? c <= 0
            : op === ">"
            ? c > 0
            : c >= 0;
        },
      };
    }
    case "Between": {
      const low = checkKeyConditionValue(attribute, condition.low);
      const high = checkKeyConditionValue(attribute, condition.high);
      if (compareStrings(low, high) > 0) {
        invalid(
          `Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:${low}}, upper bound operand: AttributeValue: {S:${high}}`,
        );
      }
      return {
        attribute,
        below: (v) => compareStrings(v, low) < 0,
        above: (v) => compareStrings(v, high) > 0,
        test: (v) => compareStrings(v, low) >= 0 && compareStrings(v, high) <= 0,
      };
    }
    case "BeginsWith": {
      const prefix = checkKeyConditionValue(attribute, condition.prefix);
      return {
        attribute,
        below: (v) => !v.startsWith(prefix) && compareStrings(v, prefix) < 0,
        above: (v) => !v.startsWith(prefix) && compareStrings(v, prefix) > 0,
        test: (v) => v.startsWith(prefix),
      };
    }
  }
};

/** What an index entry holds: the table and index keys plus the projected attributes. */
/** The key of an item as an index query reports it: table key plus index key. */
const indexKeyOf = (table: TableState, index: IndexState | undefined, item: Item): Key => {
  const key: { [attribute: string]: string } = {};
  const names = index === undefined
    ? [table.partitionKey, table.sortKey]
    : [table.partitionKey, table.sortKey, index.partitionKey, index.sortKey];
  for (const name of names) define(key, name, attr(item, name));
  return key;
};

/**
 * One page of a query on a table or one of its indexes. Refuses what DynamoDB refuses: a limit
 * below 1, an unknown index, a consistent read of an index, key conditions on other attributes
 * than the key or with values that are not non-empty strings, filters on key attributes or on
 * attributes the index does not project, and a start key outside the query. The limit and the
 * 1 MB page count the items read before the filter.
 */
export const query = (
  tables: ReadonlyMap<string, TableState>,
  tableName: string,
  q: Query,
): QueryPage => {
  if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1)) {
    invalid("Limit must be greater than or equal to 1");
  }
  const table = findTable(tables, tableName);
  let index: IndexState | undefined;
  if (q.index !== undefined) {
    index = table.indexes.get(q.index);
    if (index === undefined) invalid(`The table does not have the specified index: ${q.index}`);
    if (q.consistent === true) {
      invalid("Consistent reads are not supported on global secondary indexes");
    }
  }
  const hashKey = index?.partitionKey ?? table.partitionKey;
  const rangeKey = index?.sortKey ?? table.sortKey;
  if (q.partition.attribute !== hashKey) {
    invalid(`Query condition missed key schema element: ${hashKey}`);
  }
  const partitionValue = checkKeyConditionValue(hashKey, q.partition.value);
  let sort: CheckedSort | undefined;
  if (q.sort !== undefined) {
    if (q.sort.attribute !== rangeKey) {
      invalid(`Query condition missed key schema element: ${rangeKey}`);
    }
    sort = checkSortCondition(rangeKey, q.sort.condition);
  }
  const filter = prepareCondition(q.filter);
  for (const name of filter.names) {
    if (name === hashKey || name === rangeKey) {
      invalid(
        `Filter Expression can only contain non-primary key attributes: Primary key attribute: ${name}`,
      );
    }
  }
  if (index?.projected !== undefined) {
    const missing = [...filter.names].filter((name) => !index.projected!.has(name));
    if (missing.length > 0) {
      invalid(
        `One or more parameter values were invalid: Secondary index ${index.name} does not project one or more filter attributes: [${
          missing.join(", ")
        }]`,
      );
    }
  }

  // The entries of the partition in index order: sort key, then (for an index, whose sort
  // keys need not be unique) the table key. An index keeps its partitions ordered; a table
  // partition (one message's items, in the queue's use) is sorted here.
  let entries: ReadonlyArray<IndexEntry>;
  if (index === undefined) {
    const sorted: Array<IndexEntry> = [];
    for (const [sk, item] of partitionItems(table, partitionValue)) {
      sorted.push({ partition: partitionValue, isk: sk, pk: "", sk: "", item });
    }
    sorted.sort(compareEntries);
    entries = sorted;
  } else {
    entries = visibleEntries(index, partitionValue);
  }
  const ascending = q.ascending !== false;
  // [from, to): the entries the sort condition selects.
  let from = 0;
  let to = entries.length;
  if (sort !== undefined) {
    from = firstNotBefore(entries, (e) => sort.below(e.isk));
    to = firstNotBefore(entries, (e) => !sort.above(e.isk), from);
  }

  if (q.startKey !== undefined) {
    const start = q.startKey;
    const expected = new Set([table.partitionKey, table.sortKey]);
    if (index !== undefined) {
      expected.add(index.partitionKey);
      expected.add(index.sortKey);
    }
    const given = Object.entries(start).filter(([, v]) => v !== undefined);
    if (
      given.length !== expected.size ||
      !given.every(([name, value]) => expected.has(name) && typeof value === "string")
    ) {
      invalid(
        "The provided starting key is invalid: The provided key element does not match the schema",
      );
    }
    const value = (name: string) => attr(start, name) as string;
    if (value(hashKey) !== partitionValue) {
      invalid(
        "The provided starting key is outside query boundaries based on provided conditions",
      );
    }
    if (sort !== undefined && !sort.test(value(rangeKey))) {
      invalid("The provided starting key does not match the range key predicate");
    }
    const startPosition = index === undefined
      ? { isk: value(table.sortKey), pk: "", sk: "" }
      : { isk: value(index.sortKey), pk: value(table.partitionKey), sk: value(table.sortKey) };
    // Exclusive: continue after the start position, whether or not an item is there.
    if (ascending) {
      from = firstNotBefore(entries, (e) => compareEntries(e, startPosition) <= 0, from, to);
    } else {
      to = firstNotBefore(entries, (e) => compareEntries(e, startPosition) < 0, from, to);
    }
  }

  const items: Array<Item> = [];
  let evaluated = 0;
  let bytes = 0;
  let lastKey: Key | undefined;
  for (let i = ascending ? from : to - 1; ascending ? i < to : i >= from; ascending ? i++ : i--) {
    const entry = entries[i]!;
    const entryItem = project(index, entry.item);
    evaluated += 1;
    bytes += itemSize(entryItem);
    // The limit and the 1 MB page count items read, before the filter.
    if (holds(filter, entryItem)) items.push(copyItemOut(entryItem));
    if ((q.limit !== undefined && evaluated >= q.limit) || bytes >= MAX_PAGE_BYTES) {
      // DynamoDB returns the position when the page is full, even if nothing follows it.
      lastKey = indexKeyOf(table, index, entry.item);
      break;
    }
  }
  return lastKey === undefined ? { items } : { items, lastKey };
};

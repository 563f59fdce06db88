/**
 * The `DynamoDB` port: the narrow, structured slice of DynamoDB that the queue needs. Conditions,
 * updates and key conditions are small data types rather than expression strings, so that the
 * in-memory layer can evaluate them exactly as DynamoDB would and the live layer can compile them.
 *
 * @example
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { Effect } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   yield* db.put("my-table", { pk: "a", sk: "b", n: 1 }, {
 *     condition: DynamoDB.notExists("pk"),
 *   });
 * });
 * ```
 *
 * @module
 */
import * as Context from "effect/Context";
import type * as Effect from "effect/Effect";
import type { ConditionFailed, DynamoDBError } from "../Errors.ts";

/**
 * A value DynamoDB can store (as the document client maps it): strings, numbers, booleans,
 * null, binary, lists and maps.
 *
 * @since 0.1.0
 * @category models
 */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | ReadonlyArray<AttributeValue>
  | { readonly [key: string]: AttributeValue };

/**
 * An item: a map of top-level attribute names to values.
 *
 * @since 0.1.0
 * @category models
 */
export type Item = { readonly [attribute: string]: AttributeValue };

/**
 * A primary key (or an exclusive start key for paging): the key attributes and their values.
 *
 * @since 0.1.0
 * @category models
 */
export type Key = { readonly [attribute: string]: string | number | Uint8Array };

/**
 * A comparison operator for conditions.
 *
 * @since 0.1.0
 * @category models
 */
export type Comparator = "=" | "<>" | "<" | "<=" | ">" | ">=";

/**
 * A condition on an item's top-level attributes, as in a `ConditionExpression` or
 * `FilterExpression`. As in DynamoDB, a comparison with a missing attribute, or with a value of
 * another type, is false — except `<>`, which is then true.
 *
 * @since 0.1.0
 * @category models
 */
export type Condition =
  | { readonly _tag: "Exists"; readonly attribute: string }
  | { readonly _tag: "NotExists"; readonly attribute: string }
  | {
    readonly _tag: "Compare";
    readonly attribute: string;
    readonly op: Comparator;
    readonly value: AttributeValue;
  }
  | {
    readonly _tag: "In";
    readonly attribute: string;
    readonly values: ReadonlyArray<AttributeValue>;
  }
  | { readonly _tag: "BeginsWith"; readonly attribute: string; readonly prefix: string }
  | { readonly _tag: "And"; readonly conditions: ReadonlyArray<Condition> }
  | { readonly _tag: "Or"; readonly conditions: ReadonlyArray<Condition> }
  | { readonly _tag: "Not"; readonly condition: Condition };

/**
 * `attribute_exists(attribute)`.
 *
 * @since 0.1.0
 * @category conditions
 */
export const exists = (attribute: string): Condition => ({ _tag: "Exists", attribute });

/**
 * `attribute_not_exists(attribute)`.
 *
 * @since 0.1.0
 * @category conditions
 */
export const notExists = (attribute: string): Condition => ({ _tag: "NotExists", attribute });

/**
 * `attribute <op> value`.
 *
 * @since 0.1.0
 * @category conditions
 */
export const compare = (attribute: string, op: Comparator, value: AttributeValue): Condition => ({
  _tag: "Compare",
  attribute,
  op,
  value,
});

/**
 * `attribute = value`.
 *
 * @since 0.1.0
 * @category conditions
 */
export const eq = (attribute: string, value: AttributeValue): Condition =>
  compare(attribute, "=", value);

/**
 * `attribute IN (values…)` (1 to 100 values).
 *
 * @since 0.1.0
 * @category conditions
 */
export const isIn = (attribute: string, values: ReadonlyArray<AttributeValue>): Condition => ({
  _tag: "In",
  attribute,
  values,
});

/**
 * `begins_with(attribute, prefix)`.
 *
 * @since 0.1.0
 * @category conditions
 */
export const beginsWith = (attribute: string, prefix: string): Condition => ({
  _tag: "BeginsWith",
  attribute,
  prefix,
});

/**
 * All of the conditions.
 *
 * @since 0.1.0
 * @category conditions
 */
export const and = (...conditions: ReadonlyArray<Condition>): Condition => ({
  _tag: "And",
  conditions,
});

/**
 * Any of the conditions.
 *
 * @since 0.1.0
 * @category conditions
 */
export const or = (...conditions: ReadonlyArray<Condition>): Condition => ({
  _tag: "Or",
  conditions,
});

/**
 * The negation of a condition.
 *
 * @since 0.1.0
 * @category conditions
 */
export const not = (condition: Condition): Condition => ({ _tag: "Not", condition });

/**
 * An update of top-level attributes: `SET` values, `ADD` numbers, `REMOVE` attributes. At least
 * one action is required, key attributes cannot be updated, and an attribute may appear in only
 * one action.
 *
 * @since 0.1.0
 * @category models
 */
export interface Update {
  /** `SET attribute = value` for each entry. */
  readonly set?: { readonly [attribute: string]: AttributeValue } | undefined;
  /** `ADD attribute value` (numbers only; a missing attribute counts as 0). */
  readonly add?: { readonly [attribute: string]: number } | undefined;
  /** `REMOVE attribute` for each name. */
  readonly remove?: ReadonlyArray<string> | undefined;
}

/**
 * A condition on the sort key of a query.
 *
 * @since 0.1.0
 * @category models
 */
export type SortKeyCondition =
  | {
    readonly _tag: "Compare";
    readonly op: Exclude<Comparator, "<>">;
    readonly value: string | number;
  }
  | { readonly _tag: "Between"; readonly low: string | number; readonly high: string | number }
  | { readonly _tag: "BeginsWith"; readonly prefix: string };

/**
 * A query of one partition of the table or of a global secondary index.
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  /** The index to query; the base table when absent. */
  readonly index?: string | undefined;
  /** The partition key attribute and the value to match. */
  readonly partition: { readonly attribute: string; readonly value: string | number };
  /** An optional condition on the sort key attribute. */
  readonly sort?:
    | { readonly attribute: string; readonly condition: SortKeyCondition }
    | undefined;
  /** Applied after `limit`, as DynamoDB does: a page may hold fewer items than the limit. */
  readonly filter?: Condition | undefined;
  /** The maximum number of items to evaluate (before the filter). */
  readonly limit?: number | undefined;
  /** Ascending sort-key order when true (the default). */
  readonly ascending?: boolean | undefined;
  /** Continue after this key (from a previous page's `lastKey`). */
  readonly startKey?: Key | undefined;
  /** Strongly consistent read (base table only: an index query rejects it). */
  readonly consistent?: boolean | undefined;
}

/**
 * One page of query results.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueryPage {
  /** The items of this page, in key order. */
  readonly items: ReadonlyArray<Item>;
  /** Present when there may be more items: pass it as `startKey` to read the next page. */
  readonly lastKey?: Key | undefined;
}

/**
 * One entry of a batch write.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchWriteRequest =
  | { readonly _tag: "Put"; readonly item: Item }
  | { readonly _tag: "Delete"; readonly key: Key };

/**
 * The outcome of a batch write: the requests DynamoDB did not process (to be retried).
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchWriteResult {
  /** The requests to send again (empty when everything was written). */
  readonly unprocessed: ReadonlyArray<BatchWriteRequest>;
}

/**
 * One action of a transaction.
 *
 * @since 0.1.0
 * @category models
 */
export type TransactItem =
  | {
    readonly _tag: "Put";
    readonly table: string;
    readonly item: Item;
    readonly condition?: Condition | undefined;
  }
  | {
    readonly _tag: "Update";
    readonly table: string;
    readonly key: Key;
    readonly update: Update;
    readonly condition?: Condition | undefined;
  }
  | {
    readonly _tag: "Delete";
    readonly table: string;
    readonly key: Key;
    readonly condition?: Condition | undefined;
  }
  | {
    readonly _tag: "ConditionCheck";
    readonly table: string;
    readonly key: Key;
    readonly condition: Condition;
  };

/**
 * A global secondary index of a table (string keys; the projection names the non-key attributes
 * it copies, or `"ALL"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface IndexDefinition {
  /** The index name. */
  readonly name: string;
  /** The index's partition key attribute (a string). */
  readonly partitionKey: string;
  /** The index's sort key attribute (a string). */
  readonly sortKey: string;
  /** `"KEYS_ONLY"`, `"ALL"`, or the non-key attributes to include. */
  readonly projection: "KEYS_ONLY" | "ALL" | ReadonlyArray<string>;
}

/**
 * A table with string partition and sort keys, on-demand billing, and global secondary indexes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableDefinition {
  /** The table name. */
  readonly name: string;
  /** The partition key attribute (a string). */
  readonly partitionKey: string;
  /** The sort key attribute (a string). */
  readonly sortKey: string;
  /** The global secondary indexes. */
  readonly indexes: ReadonlyArray<IndexDefinition>;
}

/**
 * What `describeTable` reports of an existing table.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableDescription {
  /** The table name. */
  readonly name: string;
  /** `ACTIVE`, `CREATING`, … */
  readonly status: string;
  /** Key attribute names with their key type and attribute type. */
  readonly keys: ReadonlyArray<
    { readonly attribute: string; readonly keyType: "HASH" | "RANGE"; readonly type: string }
  >;
  /** The global secondary indexes with their keys and projections. */
  readonly indexes: ReadonlyArray<
    {
      readonly name: string;
      readonly keys: ReadonlyArray<
        { readonly attribute: string; readonly keyType: "HASH" | "RANGE"; readonly type: string }
      >;
      readonly projection: "KEYS_ONLY" | "ALL" | ReadonlyArray<string>;
      readonly status: string;
    }
  >;
  /** The TTL attribute when TTL is enabled; `undefined` when disabled or unknown. */
  readonly ttlAttribute?: string | undefined;
}

/**
 * The port. Every method fails with `DynamoDBError`; conditional writes also fail with
 * `ConditionFailed` (and then write nothing).
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamoDB {
  /** Strongly consistent `GetItem`; `undefined` when there is no such item. */
  readonly get: (
    table: string,
    key: Key,
  ) => Effect.Effect<Item | undefined, DynamoDBError>;
  /** `PutItem`, replacing any item with the same key unless the condition forbids it. */
  readonly put: (
    table: string,
    item: Item,
    options?: { readonly condition?: Condition | undefined },
  ) => Effect.Effect<void, ConditionFailed | DynamoDBError>;
  /**
   * `UpdateItem` (creating the item if it does not exist); returns the whole new item. With
   * `itemOnConditionFailure`, a failed condition carries the item as it is in the table
   * (`ConditionFailed.item`, DynamoDB's `ReturnValuesOnConditionCheckFailure: ALL_OLD`) when the
   * backend supports it; absent when there is no item or the backend does not return it.
   */
  readonly update: (
    table: string,
    key: Key,
    update: Update,
    options?: {
      readonly condition?: Condition | undefined;
      readonly itemOnConditionFailure?: boolean | undefined;
    },
  ) => Effect.Effect<Item, ConditionFailed | DynamoDBError>;
  /**
   * `DeleteItem`; returns the deleted item, or `undefined` when there was none. With
   * `returnOld: false` it returns `undefined` always, and the item is not sent back at all
   * (`ReturnValues: NONE`): for a caller that does not read it.
   */
  readonly delete: (
    table: string,
    key: Key,
    options?: {
      readonly condition?: Condition | undefined;
      readonly returnOld?: boolean | undefined;
    },
  ) => Effect.Effect<Item | undefined, ConditionFailed | DynamoDBError>;
  /** One page of a `Query`. */
  readonly query: (table: string, query: Query) => Effect.Effect<QueryPage, DynamoDBError>;
  /** `BatchGetItem` of at most 100 keys from one table (strongly consistent); order is not kept. */
  readonly batchGet: (
    table: string,
    keys: ReadonlyArray<Key>,
  ) => Effect.Effect<
    { readonly items: ReadonlyArray<Item>; readonly unprocessed: ReadonlyArray<Key> },
    DynamoDBError
  >;
  /** `BatchWriteItem` of at most 25 puts and deletes on one table, no two on the same key. */
  readonly batchWrite: (
    table: string,
    requests: ReadonlyArray<BatchWriteRequest>,
  ) => Effect.Effect<BatchWriteResult, DynamoDBError>;
  /**
   * `TransactWriteItems` of at most 100 actions, no two on the same item. Fails with
   * `ConditionFailed` if any condition is false (and then writes nothing), and with
   * `DynamoDBError` reason `Unsupported` on backends without transactions (dynalite).
   */
  readonly transactWrite: (
    items: ReadonlyArray<TransactItem>,
  ) => Effect.Effect<void, ConditionFailed | DynamoDBError>;
  /** `CreateTable` (on-demand). Fails with reason `TableExists` if it exists already. */
  readonly createTable: (definition: TableDefinition) => Effect.Effect<void, DynamoDBError>;
  /** `DescribeTable` plus `DescribeTimeToLive`. Fails with reason `TableNotFound`. */
  readonly describeTable: (table: string) => Effect.Effect<TableDescription, DynamoDBError>;
  /** `UpdateTimeToLive`. Fails with reason `Unsupported` on backends without it (dynalite). */
  readonly enableTimeToLive: (
    table: string,
    attribute: string,
  ) => Effect.Effect<void, DynamoDBError>;
  /** `DeleteTable`. Fails with reason `TableNotFound`. */
  readonly deleteTable: (table: string) => Effect.Effect<void, DynamoDBError>;
}

/**
 * The `DynamoDB` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const DynamoDB: Context.Tag<DynamoDB, DynamoDB> = Context.GenericTag<DynamoDB>(
  "@dynamomq/dynamomq/DynamoDB",
);

/**
 * A port operation, each of which is one DynamoDB request (`describeTable` is two).
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = keyof DynamoDB;

// One entry per operation: adding a method to the port without listing it here fails to compile.
const operationOrder: { readonly [K in Operation]: null } = {
  get: null,
  put: null,
  update: null,
  delete: null,
  query: null,
  batchGet: null,
  batchWrite: null,
  transactWrite: null,
  createTable: null,
  describeTable: null,
  enableTimeToLive: null,
  deleteTable: null,
};

/**
 * Every port operation in a fixed order: the data operations, then table administration.
 *
 * @since 0.1.0
 * @category constants
 */
export const operations: ReadonlyArray<Operation> = Object.keys(operationOrder) as Array<
  Operation
>;

/**
 * The data operations: every operation but table administration (`createTable`,
 * `describeTable`, `enableTimeToLive`, `deleteTable`).
 *
 * @since 0.1.0
 * @category constants
 */
export const dataOperations: ReadonlyArray<Operation> = operations.slice(
  0,
  operations.indexOf("createTable"),
);

/**
 * DynamoDB's item size limit in bytes (400 KB).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_ITEM_BYTES: number = 400 * 1024;

/**
 * The most requests one `BatchWriteItem` takes.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BATCH_WRITE: number = 25;

/**
 * The most keys one `BatchGetItem` takes.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BATCH_GET: number = 100;

/**
 * The most actions one `TransactWriteItems` takes.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_TRANSACT_ITEMS: number = 100;

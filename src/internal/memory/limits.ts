/**
 * The limits DynamoDB enforces on requests, items and tables, as the memory layer applies them:
 * sizes of pages, batches, transactions and keys, nesting depth, operand and index counts, and
 * the rules for table, index and attribute names. The item size itself (400 KB) is
 * `MAX_ITEM_BYTES` of the port, measured by `internal/itemSize.ts`.
 *
 * @module
 */
import { invalid } from "./failures.ts";

/** A query page stops after the item that brings the data read to 1 MB. */
export const MAX_PAGE_BYTES: number = 1024 * 1024;
/** A BatchGetItem response carries at most 16 MB; the other keys come back unprocessed. */
export const MAX_BATCH_GET_BYTES: number = 16 * 1024 * 1024;
/** The items of one TransactWriteItems request add up to at most 4 MB. */
export const MAX_TRANSACT_BYTES: number = 4 * 1024 * 1024;
/** A partition key value (of the table or an index) is at most 2048 UTF-8 bytes. */
export const MAX_PARTITION_KEY_BYTES: number = 2048;
/** A sort key value (of the table or an index) is at most 1024 UTF-8 bytes. */
export const MAX_SORT_KEY_BYTES: number = 1024;
/** Lists and maps nest at most this deep (DynamoDB Local rejects the 32nd level). */
export const MAX_DEPTH: number = 31;
/** An `IN` condition takes at most 100 values. */
export const MAX_IN_OPERANDS: number = 100;
/** A table has at most 20 global secondary indexes. */
export const MAX_INDEXES: number = 20;
/** The INCLUDE projections of a table's indexes name at most 100 attributes in all. */
export const MAX_PROJECTED_ATTRIBUTES: number = 100;

const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

/** A table or index name: 3 to 255 characters of `a-zA-Z0-9_.-`. */
export const checkTableName = (name: string): string =>
  typeof name === "string" && TABLE_NAME.test(name) ? name : invalid(
    "Invalid table/index name.  Table/index names must be between 3 and 255 characters long, and may contain only the characters a-z, A-Z, 0-9, '_', '-', and '.'",
  );

/** A key or projected attribute name in a table definition: 1 to 255 characters. */
export const checkDefinitionName = (name: string): string =>
  typeof name === "string" && name.length >= 1 && name.length <= 255 ? name : invalid(
    "Names of key attributes and attributes projected into an index must be between 1 and 255 characters, inclusive",
  );

/**
 * BatchGetItem and BatchWriteItem on one table, as DynamoDB limits them: at most `MAX_BATCH_GET`
 * keys and `MAX_BATCH_WRITE` requests, no key twice in one batch, every request validated before
 * any is carried out, and a batch-get response of at most 16 MB, the keys past it coming back
 * unprocessed. A batch write here is always processed whole.
 *
 * @module
 */
import { itemSize } from "../itemSize.ts";
import {
  type BatchWriteRequest,
  type BatchWriteResult,
  type Item,
  type Key,
  MAX_BATCH_GET,
  MAX_BATCH_WRITE,
} from "../../services/DynamoDB.ts";
import { invalid } from "./failures.ts";
import { MAX_BATCH_GET_BYTES } from "./limits.ts";
import {
  checkKey,
  findTable,
  keyId,
  preparePut,
  read,
  remove,
  type TableState,
  write,
} from "./tables.ts";
import { copyItemOut } from "./values.ts";

/** The items found under these keys, as far as 16 MB of them go. */
export const batchGet = (
  tables: ReadonlyMap<string, TableState>,
  table: string,
  keys: ReadonlyArray<Key>,
): { readonly items: ReadonlyArray<Item>; readonly unprocessed: ReadonlyArray<Key> } => {
  // As the live layer: an empty batch sends no request.
  if (keys.length === 0) return { items: [], unprocessed: [] };
  if (keys.length > MAX_BATCH_GET) {
    invalid("Too many items requested for the BatchGetItem call");
  }
  const state = findTable(tables, table);
  const targets = keys.map((key) => checkKey(state, key));
  if (new Set(targets.map((t) => keyId(t.pk, t.sk))).size !== targets.length) {
    invalid("Provided list of item keys contains duplicates");
  }
  const items: Array<Item> = [];
  const unprocessed: Array<Key> = [];
  let bytes = 0;
  for (const target of targets) {
    if (unprocessed.length > 0) {
      unprocessed.push(target.key);
      continue;
    }
    const item = read(state, target);
    if (item === undefined) continue;
    const size = itemSize(item);
    // A response holds at most 16 MB: the keys past that come back to be asked again.
    if (bytes + size > MAX_BATCH_GET_BYTES) {
      unprocessed.push(target.key);
      continue;
    }
    bytes += size;
    items.push(copyItemOut(item));
  }
  return { items, unprocessed };
};

/** Puts and deletes items of one table, all or (when a request is invalid) none. */
export const batchWrite = (
  tables: ReadonlyMap<string, TableState>,
  table: string,
  requests: ReadonlyArray<BatchWriteRequest>,
): BatchWriteResult => {
  if (requests.length === 0) return { unprocessed: [] };
  if (requests.length > MAX_BATCH_WRITE) {
    invalid("Too many items requested for the BatchWriteItem call");
  }
  const state = findTable(tables, table);
  const writes = requests.map((request: BatchWriteRequest) =>
    request._tag === "Put"
      ? { _tag: "Put" as const, ...preparePut(state, request.item) }
      : { _tag: "Delete" as const, target: checkKey(state, request.key) }
  );
  if (new Set(writes.map((w) => keyId(w.target.pk, w.target.sk))).size !== writes.length) {
    invalid("Provided list of item keys contains duplicates");
  }
  // Everything was validated first: the batch is written whole.
  for (const w of writes) {
    if (w._tag === "Put") write(state, w.target, w.item);
    else remove(state, w.target);
  }
  return { unprocessed: [] };
};

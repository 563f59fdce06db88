/**
 * TransactWriteItems as DynamoDB runs it: at most `MAX_TRANSACT_ITEMS` actions, each validated
 * before anything is read, no two on the same item, at most 4 MB of payload, and every condition
 * checked against the state before the transaction — all of it is written, or (when a condition
 * is false or an update's result is invalid) none.
 *
 * @module
 */
import { itemSize } from "../itemSize.ts";
import {
  type Item,
  type Key,
  MAX_TRANSACT_ITEMS,
  type TransactItem,
} from "../../services/DynamoDB.ts";
import { holds, prepareCondition } from "./conditions.ts";
import { ConditionFalse, invalid } from "./failures.ts";
import { MAX_TRANSACT_BYTES } from "./limits.ts";
import { checkKey, findTable, preparePut, read, remove, type TableState, write } from "./tables.ts";
import { type CheckedUpdate, checkUpdate, checkUpdateAgainst, updated } from "./updates.ts";

/** Carries out a transaction's writes and condition checks, all or none. */
export const transactWrite = (
  tables: ReadonlyMap<string, TableState>,
  items: ReadonlyArray<TransactItem>,
): void => {
  if (items.length === 0) return;
  if (items.length > MAX_TRANSACT_ITEMS) {
    invalid(`Member must have length less than or equal to ${MAX_TRANSACT_ITEMS}`);
  }
  type Action =
    | { readonly _tag: "Put"; readonly item: Item }
    | { readonly _tag: "Update"; readonly update: CheckedUpdate }
    | { readonly _tag: "Delete" }
    | { readonly _tag: "ConditionCheck" };
  const prepared = items.map((entry: TransactItem) => {
    const condition = prepareCondition(entry.condition);
    const table = findTable(tables, entry.table);
    switch (entry._tag) {
      case "Put": {
        const { target, item } = preparePut(table, entry.item);
        return { entry, table, target, condition, action: { _tag: "Put", item } as Action };
      }
      case "Update": {
        const update = checkUpdate(entry.update);
        const target = checkKey(table, entry.key);
        checkUpdateAgainst(table, target, update);
        return {
          entry,
          table,
          target,
          condition,
          action: { _tag: "Update", update } as Action,
        };
      }
      default:
        return {
          entry,
          table,
          target: checkKey(table, entry.key),
          condition,
          action: { _tag: entry._tag } as Action,
        };
    }
  });
  const targets = new Set<string>();
  let payload = 0;
  for (const p of prepared) {
    const id = JSON.stringify([p.table.name, p.target.pk, p.target.sk]);
    if (targets.has(id)) {
      invalid("Transaction request cannot include multiple operations on one item");
    }
    targets.add(id);
    payload += p.action._tag === "Put"
      ? itemSize(p.action.item)
      : p.action._tag === "Update"
      ? itemSize(p.target.key) +
        itemSize(Object.fromEntries([...p.action.update.set, ...p.action.update.add]))
      : itemSize(p.target.key);
  }
  if (payload > MAX_TRANSACT_BYTES) {
    invalid(`Transaction payload size cannot exceed 4MB. Payload Size: ${payload}`);
  }
  // Every condition is checked against the state before the transaction; nothing is
  // written unless all hold.
  let failed: { readonly table: string; readonly key: Key } | undefined;
  const results = prepared.map((p) => {
    const current = read(p.table, p.target);
    if (!holds(p.condition, current)) {
      failed ??= { table: p.table.name, key: p.target.key };
      return undefined;
    }
    return p.action._tag === "Update"
      ? updated(p.table, p.target, current, p.action.update)
      : p.action._tag === "Put"
      ? p.action.item
      : undefined;
  });
  if (failed !== undefined) throw new ConditionFalse(failed.table, failed.key);
  prepared.forEach((p, i) => {
    if (p.action._tag === "Delete") remove(p.table, p.target);
    else if (p.action._tag !== "ConditionCheck") write(p.table, p.target, results[i]!);
  });
};

/**
 * Updates as DynamoDB checks and applies them: at least one action, no empty names, no path set,
 * added or removed twice, `ADD` only with numbers (summed exactly, see `addDecimal`), never the
 * table's key attributes, and the update's own values must fit in an item before the item is
 * read. The item an update produces is then checked like a put's: index keys and the 400 KB size.
 *
 * @module
 */
import type { AttributeValue, Item, Update } from "../../services/DynamoDB.ts";
import { invalid } from "./failures.ts";
import { checkIndexKeys, checkItemSize, type TableKey, type TableState } from "./tables.ts";
import { addDecimal, attr, define, expressionName, expressionValue, typeOf } from "./values.ts";

/** An update with its names and values validated and copied in. */
export interface CheckedUpdate {
  readonly set: ReadonlyArray<readonly [string, AttributeValue]>;
  readonly add: ReadonlyArray<readonly [string, number]>;
  readonly remove: ReadonlyArray<string>;
}

/** Validates an update on its own, before the table or the item is looked at. */
export const checkUpdate = (update: Update): CheckedUpdate => {
  const set = Object.entries(update.set ?? {}).map(([name, value]) =>
    [expressionName(name), expressionValue(value)] as const
  );
  const add = Object.entries(update.add ?? {}).map(([name, value]) => {
    const checked = expressionValue(value);
    if (typeof checked !== "number") {
      invalid(
        `Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ${
          typeOf(checked)
        }`,
      );
    }
    return [expressionName(name), checked as number] as const;
  });
  const remove = (update.remove ?? []).map(expressionName);
  if (set.length + add.length + remove.length === 0) {
    invalid("an update needs at least one set, add or remove action");
  }
  const seen = new Set<string>();
  for (const name of [...set.map(([n]) => n), ...add.map(([n]) => n), ...remove]) {
    if (seen.has(name)) {
      invalid(
        `Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${name}], path two: [${name}]`,
      );
    }
    seen.add(name);
  }
  return { set, add, remove };
};

/** Checks that an update leaves the key alone and that its own values fit in an item. */
export const checkUpdateAgainst = (
  table: TableState,
  target: TableKey,
  update: CheckedUpdate,
): void => {
  for (
    const name of [
      ...update.set.map(([n]) => n),
      ...update.add.map(([n]) => n),
      ...update.remove,
    ]
  ) {
    if (name === table.partitionKey || name === table.sortKey) {
      invalid(
        `One or more parameter values were invalid: Cannot update attribute ${name}. This attribute is part of the key`,
      );
    }
  }
  // DynamoDB rejects an update whose own values cannot fit, before looking at the item.
  const own: { [attribute: string]: AttributeValue } = { ...target.key };
  for (const [name, value] of update.set) define(own, name, value);
  for (const [name, value] of update.add) define(own, name, value);
  checkItemSize(own, true);
};

/** The item an update produces (before the index and size checks of the result). */
const applyUpdate = (
  current: Item | undefined,
  target: TableKey,
  update: CheckedUpdate,
): { [attribute: string]: AttributeValue } => {
  const base = current ?? target.key;
  // Removed attributes are left out of the copy, not deleted from it: `delete` turns a V8 object
  // into a hash table several times its size, and an ack's tombstone stays stored for minutes.
  let next: { [attribute: string]: AttributeValue };
  if (update.remove.length === 0) next = { ...base };
  else {
    next = {};
    for (const name in base) {
      if (Object.hasOwn(base, name) && !update.remove.includes(name)) {
        define(next, name, base[name]);
      }
    }
  }
  for (const [name, value] of update.set) define(next, name, value);
  for (const [name, value] of update.add) {
    const old = attr(next, name);
    if (old === undefined) define(next, name, value);
    else if (typeof old === "number") define(next, name, addDecimal(old, value));
    else invalid("An operand in the update expression has an incorrect data type");
  }
  return next;
};

/** Computes and validates the item an update produces. */
export const updated = (
  table: TableState,
  target: TableKey,
  current: Item | undefined,
  update: CheckedUpdate,
): Item => {
  const next = applyUpdate(current, target, update);
  checkIndexKeys(table, next, true);
  checkItemSize(next, true);
  return next;
};

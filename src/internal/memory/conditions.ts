/**
 * Conditions and filters as DynamoDB checks and evaluates them. A condition is folded as the live
 * layer folds it before sending (an empty `And` is true, an empty `Or` or `In` false), then
 * validated as DynamoDB parses an expression: known comparators only, ordering operators only on
 * S, N or B operands, `begins_with` only on S or B, at most `MAX_IN_OPERANDS` values in an `IN`,
 * no empty names and no missing values. Evaluation follows DynamoDB: a missing attribute or one
 * of another type fails every comparison except `<>`.
 *
 * @module
 */
// Folded exactly as the live layer does before it sends an expression (an empty `And` is true,
// an empty `Or` or `In` false), so both validate and evaluate the same expression.
import { fold } from "../expression.ts";
import type { AttributeValue, Comparator, Condition, Item } from "../../services/DynamoDB.ts";
import { invalid } from "./failures.ts";
import { MAX_IN_OPERANDS } from "./limits.ts";
import {
  attr,
  compareBytes,
  equal,
  expressionName,
  expressionValue,
  order,
  typeOf,
} from "./values.ts";

/** The comparators that order values (S, N and B only). */
export const ORDERING: ReadonlySet<Comparator> = new Set(["<", "<=", ">", ">="]);
const COMPARATORS: ReadonlySet<string> = new Set(["=", "<>", "<", "<=", ">", ">="]);

/** Validates a folded condition and copies its values in, as DynamoDB parses an expression. */
const checkCondition = (condition: Condition, names: Set<string>): Condition => {
  switch (condition._tag) {
    case "Exists":
    case "NotExists":
      names.add(expressionName(condition.attribute));
      return condition;
    case "Compare": {
      names.add(expressionName(condition.attribute));
      if (!COMPARATORS.has(condition.op)) invalid(`Invalid comparator: ${condition.op}`);
      const value = expressionValue(condition.value);
      const type = typeOf(value);
      if (ORDERING.has(condition.op) && type !== "S" && type !== "N" && type !== "B") {
        invalid(
          `Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: ${condition.op}, operand type: ${type}`,
        );
      }
      return { ...condition, value };
    }
    case "In": {
      names.add(expressionName(condition.attribute));
      if (condition.values.length > MAX_IN_OPERANDS) {
        invalid(
          `Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: ${condition.values.length}`,
        );
      }
      return { ...condition, values: condition.values.map(expressionValue) };
    }
    case "BeginsWith": {
      names.add(expressionName(condition.attribute));
      const prefix = expressionValue(condition.prefix);
      const type = typeOf(prefix);
      if (type !== "S" && type !== "B") {
        invalid(
          `Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: ${type}`,
        );
      }
      return { ...condition, prefix: prefix as string };
    }
    case "And":
    case "Or":
      return {
        ...condition,
        conditions: condition.conditions.map((c) => checkCondition(c, names)),
      };
    case "Not":
      return { ...condition, condition: checkCondition(condition.condition, names) };
  }
};

/** A checked condition: `true`/`false` when it folded to a constant. */
export interface Prepared {
  readonly condition: boolean | Condition;
  /** The attribute names it reads. */
  readonly names: ReadonlySet<string>;
}

/** Folds and validates a condition (none holds always), collecting the names it reads. */
export const prepareCondition = (condition: Condition | undefined): Prepared => {
  const names = new Set<string>();
  if (condition === undefined) return { condition: true, names };
  const folded = fold(condition);
  return {
    condition: typeof folded === "boolean" ? folded : checkCondition(folded, names),
    names,
  };
};

const beginsWith = (value: AttributeValue, prefix: AttributeValue): boolean => {
  if (typeof value === "string" && typeof prefix === "string") return value.startsWith(prefix);
  if (value instanceof Uint8Array && prefix instanceof Uint8Array) {
    return prefix.length <= value.length &&
      compareBytes(value.subarray(0, prefix.length), prefix) === 0;
  }
  return false;
};

/**
 * Evaluates a checked condition against an item (a missing item has no attributes). A
 * comparison with a missing attribute, or with a value of another type, is false — except `<>`,
 * which is then true (DynamoDB Local and dynalite agree on this).
 */
const evaluate = (condition: Condition, item: Item | undefined): boolean => {
  switch (condition._tag) {
    case "Exists":
      return item !== undefined && Object.hasOwn(item, condition.attribute);
    case "NotExists":
      return item === undefined || !Object.hasOwn(item, condition.attribute);
    case "Compare": {
      const actual = item === undefined ? undefined : attr(item, condition.attribute);
      if (actual === undefined) return condition.op === "<>";
      if (condition.op === "=") return equal(actual, condition.value);
      if (condition.op === "<>") return !equal(actual, condition.value);
      const c = order(actual, condition.value);
      if (c === undefined) return false;
      switch (condition.op) {
        case "<":
          return c < 0;
        case "<=":
          return c <= 0;
        case ">":
          return c > 0;
        default:
          return c >= 0;
      }
    }
    case "In": {
      const actual = item === undefined ? undefined : attr(item, condition.attribute);
      return actual !== undefined && condition.values.some((v) => equal(actual, v));
    }
    case "BeginsWith": {
      const actual = item === undefined ? undefined : attr(item, condition.attribute);
      return actual !== undefined && beginsWith(actual, condition.prefix);
    }
    case "And":
      return condition.conditions.every((c) => evaluate(c, item));
    case "Or":
      return condition.conditions.some((c) => evaluate(c, item));
    case "Not":
      return !evaluate(condition.condition, item);
  }
};

/** Whether a prepared condition holds on an item (`undefined`: there is none). */
export const holds = (prepared: Prepared, item: Item | undefined): boolean =>
  typeof prepared.condition === "boolean" ? prepared.condition : evaluate(prepared.condition, item);

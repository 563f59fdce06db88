/**
 * Compiles the port's structured `Condition`, `Update` and key conditions into DynamoDB expression
 * strings. Attribute names and values never appear in an expression: each becomes a placeholder
 * (`#n0`, `:v0`, …) allocated by one {@linkcode ExpressionBuilder}, so a condition and an update sent
 * in the same request share one `ExpressionAttributeNames` / `ExpressionAttributeValues` pair.
 * Used by the live layer only; the memory layer evaluates the same data directly.
 *
 * @module
 */
import type { AttributeValue, Condition, SortKeyCondition, Update } from "../services/DynamoDB.ts";

/**
 * Allocates placeholders for one request and collects the maps to send with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExpressionBuilder {
  /** The `#n…` placeholder of an attribute name (one per distinct name). */
  readonly name: (attribute: string) => string;
  /** A fresh `:v…` placeholder bound to the value. */
  readonly value: (value: AttributeValue) => string;
  /** The maps to merge into the request; each is absent when empty (DynamoDB rejects `{}`). */
  readonly attributes: () => ExpressionAttributes;
}

/**
 * The placeholder maps of a request, ready to spread into a command input.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExpressionAttributes {
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/**
 * A fresh builder: placeholders start at `#n0` and `:v0`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeBuilder = (): ExpressionBuilder => {
  const names = new Map<string, string>();
  const values: Record<string, AttributeValue> = {};
  let valueCount = 0;
  return {
    name: (attribute) => {
      let placeholder = names.get(attribute);
      if (placeholder === undefined) {
        placeholder = `#n${names.size}`;
        names.set(attribute, placeholder);
      }
      return placeholder;
    },
    value: (value) => {
      const placeholder = `:v${valueCount++}`;
      values[placeholder] = value;
      return placeholder;
    },
    attributes: () => {
      const out: {
        ExpressionAttributeNames?: Record<string, string>;
        ExpressionAttributeValues?: Record<string, AttributeValue>;
      } = {};
      if (names.size > 0) {
        const map: Record<string, string> = {};
        for (const [attribute, placeholder] of names) map[placeholder] = attribute;
        out.ExpressionAttributeNames = map;
      }
      if (valueCount > 0) out.ExpressionAttributeValues = values;
      return out;
    },
  };
};

/**
 * A condition with its constants folded away. DynamoDB has no literal `true` or `false`, so an
 * empty `And` (true), an empty `Or` (false) and an empty `In` (false) are resolved here, the way
 * `Array.prototype.every` / `some` would evaluate them.
 */
type Folded = boolean | Condition;

/**
 * Folds the constant parts of a condition away. The memory layer folds with this too, so that
 * both layers validate and evaluate the same expression.
 *
 * @since 0.1.0
 * @category compilers
 */
export const fold = (condition: Condition): Folded => {
  switch (condition._tag) {
    case "In":
      return condition.values.length === 0 ? false : condition;
    case "And": {
      const parts: Array<Condition> = [];
      for (const part of condition.conditions) {
        const folded = fold(part);
        if (folded === false) return false;
        if (folded !== true) parts.push(folded);
      }
      if (parts.length === 0) return true;
      return parts.length === 1 ? parts[0]! : { _tag: "And", conditions: parts };
    }
    case "Or": {
      const parts: Array<Condition> = [];
      for (const part of condition.conditions) {
        const folded = fold(part);
        if (folded === true) return true;
        if (folded !== false) parts.push(folded);
      }
      if (parts.length === 0) return false;
      return parts.length === 1 ? parts[0]! : { _tag: "Or", conditions: parts };
    }
    case "Not": {
      const inner = fold(condition.condition);
      return typeof inner === "boolean" ? !inner : { _tag: "Not", condition: inner };
    }
    default:
      return condition;
  }
};

/**
 * The name used to spell a constant (`attribute_exists(x) AND attribute_not_exists(x)` is false).
 * It must not be a key attribute, since filter expressions may not reference keys.
 */
const FALSE_ATTRIBUTE = "__dynamomq_never";

const compileFolded = (builder: ExpressionBuilder, condition: Condition): string => {
  switch (condition._tag) {
    case "Exists":
      return `attribute_exists(${builder.name(condition.attribute)})`;
    case "NotExists":
      return `attribute_not_exists(${builder.name(condition.attribute)})`;
    case "Compare":
      return `${builder.name(condition.attribute)} ${condition.op} ${
        builder.value(condition.value)
      }`;
    case "In":
      return `${builder.name(condition.attribute)} IN (${
        condition.values.map((value) => builder.value(value)).join(", ")
      })`;
    case "BeginsWith":
      return `begins_with(${builder.name(condition.attribute)}, ${
        builder.value(condition.prefix)
      })`;
    case "And":
      return `(${condition.conditions.map((c) => compileFolded(builder, c)).join(" AND ")})`;
    case "Or":
      return `(${condition.conditions.map((c) => compileFolded(builder, c)).join(" OR ")})`;
    case "Not":
      return `(NOT ${compileFolded(builder, condition.condition)})`;
  }
};

/**
 * Whether a condition can never hold (an empty `or()`, `isIn(x, [])`, …). A query filter like
 * that cannot be spelled for an index that projects few attributes, so the live layer drops
 * the filter and returns no items instead.
 *
 * @since 0.1.0
 * @category compilers
 */
export const isNeverTrue = (condition: Condition): boolean => fold(condition) === false;

/**
 * Compiles a condition (for a `ConditionExpression` or `FilterExpression`). Returns `undefined`
 * when the condition is always true, so the request should carry no expression at all.
 *
 * @since 0.1.0
 * @category compilers
 */
export const compileCondition = (
  builder: ExpressionBuilder,
  condition: Condition,
): string | undefined => {
  const folded = fold(condition);
  if (folded === true) return undefined;
  if (folded === false) {
    const name = builder.name(FALSE_ATTRIBUTE);
    return `(attribute_exists(${name}) AND attribute_not_exists(${name}))`;
  }
  return compileFolded(builder, folded);
};

/**
 * A condition that always holds, for requests that must carry one (a transaction's
 * `ConditionCheck`).
 *
 * @since 0.1.0
 * @category compilers
 */
export const compileTrue = (builder: ExpressionBuilder): string => {
  const name = builder.name(FALSE_ATTRIBUTE);
  return `(attribute_exists(${name}) OR attribute_not_exists(${name}))`;
};

/**
 * Compiles an update into an `UpdateExpression` (`SET … ADD … REMOVE …`). Returns `undefined`
 * when the update has no action.
 *
 * @since 0.1.0
 * @category compilers
 */
export const compileUpdate = (builder: ExpressionBuilder, update: Update): string | undefined => {
  const clauses: Array<string> = [];
  const set = Object.entries(update.set ?? {});
  if (set.length > 0) {
    clauses.push(
      `SET ${
        set.map(([attribute, value]) => `${builder.name(attribute)} = ${builder.value(value)}`)
          .join(", ")
      }`,
    );
  }
  const add = Object.entries(update.add ?? {});
  if (add.length > 0) {
    clauses.push(
      `ADD ${
        add.map(([attribute, value]) => `${builder.name(attribute)} ${builder.value(value)}`)
          .join(", ")
      }`,
    );
  }
  const remove = update.remove ?? [];
  if (remove.length > 0) {
    clauses.push(`REMOVE ${remove.map((attribute) => builder.name(attribute)).join(", ")}`);
  }
  return clauses.length === 0 ? undefined : clauses.join(" ");
};

/**
 * Compiles a sort key condition on `attribute`.
 *
 * @since 0.1.0
 * @category compilers
 */
export const compileSortKeyCondition = (
  builder: ExpressionBuilder,
  attribute: string,
  condition: SortKeyCondition,
): string => {
  const name = builder.name(attribute);
  switch (condition._tag) {
    case "Compare":
      return `${name} ${condition.op} ${builder.value(condition.value)}`;
    case "Between":
      return `${name} BETWEEN ${builder.value(condition.low)} AND ${builder.value(condition.high)}`;
    case "BeginsWith":
      return `begins_with(${name}, ${builder.value(condition.prefix)})`;
  }
};

/**
 * Compiles a query's `KeyConditionExpression`: partition key equality, then the optional sort key
 * condition.
 *
 * @since 0.1.0
 * @category compilers
 */
export const compileKeyCondition = (
  builder: ExpressionBuilder,
  partition: { readonly attribute: string; readonly value: string | number },
  sort?: { readonly attribute: string; readonly condition: SortKeyCondition } | undefined,
): string => {
  const head = `${builder.name(partition.attribute)} = ${builder.value(partition.value)}`;
  return sort === undefined
    ? head
    : `${head} AND ${compileSortKeyCondition(builder, sort.attribute, sort.condition)}`;
};

/**
 * The request inputs of the live layer: the port's conditions, updates and key conditions
 * compiled (by `internal/expression.ts`) into the expression fields of a request, and the index
 * projections of `CreateTable`.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import { DynamoDBError } from "../../Errors.ts";
import {
  compileCondition,
  compileUpdate,
  type ExpressionBuilder,
  makeBuilder,
} from "../expression.ts";
import type { Condition, IndexDefinition, Update } from "../../services/DynamoDB.ts";

/** The expression fields of a request, each present only when it has content. */
export interface Expressions {
  ConditionExpression?: string;
  UpdateExpression?: string;
  KeyConditionExpression?: string;
  FilterExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

export const withExpressions = (
  builder: ExpressionBuilder,
  expressions: {
    readonly [K in "ConditionExpression" | "KeyConditionExpression" | "FilterExpression"]?:
      | string
      | undefined;
  },
): Expressions => {
  const out: Expressions = {};
  for (const [k, v] of Object.entries(expressions)) {
    if (v !== undefined) out[k as keyof typeof expressions] = v;
  }
  return { ...out, ...builder.attributes() };
};

export const conditionInput = (condition: Condition | undefined): Expressions => {
  const builder = makeBuilder();
  return withExpressions(builder, {
    ConditionExpression: condition === undefined ? undefined : compileCondition(builder, condition),
  });
};

export const updateInput = (
  operation: string,
  update: Update,
  condition: Condition | undefined,
): Effect.Effect<Expressions & { UpdateExpression: string }, DynamoDBError> => {
  const builder = makeBuilder();
  const updateExpression = compileUpdate(builder, update);
  if (updateExpression === undefined) {
    // The port requires at least one action; DynamoDB would silently create a key-only item.
    return Effect.fail(
      new DynamoDBError({
        operation,
        reason: "Validation",
        retryable: false,
        detail: "an update needs at least one set, add or remove action",
      }),
    );
  }
  const conditionExpression = condition === undefined
    ? undefined
    : compileCondition(builder, condition);
  return Effect.succeed({
    ...withExpressions(builder, { ConditionExpression: conditionExpression }),
    UpdateExpression: updateExpression,
  });
};

export const projectionOf = (projection: IndexDefinition["projection"]) =>
  projection === "ALL" || projection === "KEYS_ONLY"
    ? { ProjectionType: projection }
    : projection.length === 0
    ? { ProjectionType: "KEYS_ONLY" as const }
    : { ProjectionType: "INCLUDE" as const, NonKeyAttributes: [...projection] };

export const keyType = (t: string | undefined): "HASH" | "RANGE" =>
  t === "RANGE" ? "RANGE" : "HASH";

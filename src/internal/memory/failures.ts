/**
 * How the memory layer fails. Every operation runs as one synchronous step (that is what makes a
 * read-modify-write atomic, as DynamoDB makes each request); inside it a check throws a
 * `Rejection` (DynamoDB's validation and resource errors) or a `ConditionFalse` (a failed
 * condition), and the step's edge turns them into the port's typed errors. Anything else thrown
 * is a bug and stays a defect.
 *
 * @module
 */
import * as Effect from "effect/Effect";
import { ConditionFailed, DynamoDBError, type DynamoDBErrorReason } from "../../Errors.ts";
import type { Item, Key } from "../../services/DynamoDB.ts";

/** A request DynamoDB refuses: a `DynamoDBError` of this reason once it leaves the step. */
export class Rejection {
  constructor(readonly reason: DynamoDBErrorReason, readonly detail: string) {}
}

/** A condition that did not hold on this item: a `ConditionFailed` once it leaves the step. */
export class ConditionFalse {
  constructor(readonly table: string, readonly key: Key, readonly item?: Item | undefined) {}
}

/** Refuses the request as DynamoDB's `ValidationException` would, with its message. */
export const invalid = (detail: string): never => {
  throw new Rejection("Validation", detail);
};

/**
 * Runs one operation synchronously, so that no other operation can interleave with it: this is
 * what makes every read-modify-write atomic.
 */
export const attempt = <A>(
  operation: string,
  body: () => A,
): Effect.Effect<A, DynamoDBError> =>
  Effect.suspend((): Effect.Effect<A, DynamoDBError> => {
    try {
      return Effect.succeed(body());
    } catch (e) {
      if (e instanceof Rejection) {
        return Effect.fail(
          new DynamoDBError({ operation, reason: e.reason, retryable: false, detail: e.detail }),
        );
      }
      throw e;
    }
  });

/** As `attempt`, for the writes, whose conditions can fail too. */
export const attemptWrite = <A>(
  operation: string,
  body: () => A,
): Effect.Effect<A, ConditionFailed | DynamoDBError> =>
  Effect.suspend((): Effect.Effect<A, ConditionFailed | DynamoDBError> => {
    try {
      return Effect.succeed(body());
    } catch (e) {
      if (e instanceof ConditionFalse) {
        return Effect.fail(
          new ConditionFailed({
            table: e.table,
            operation,
            key: e.key,
            ...(e.item === undefined ? {} : { item: e.item }),
          }),
        );
      }
      if (e instanceof Rejection) {
        return Effect.fail(
          new DynamoDBError({ operation, reason: e.reason, retryable: false, detail: e.detail }),
        );
      }
      throw e;
    }
  });

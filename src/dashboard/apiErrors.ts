/**
 * The dashboard's admin API errors: every `error` tag it answers with, and its HTTP status. Any
 * other failure is a bug and answers 500 under its own tag. `docs/dashboard.md` lists the same
 * table, and `tests/DashboardApi.test.ts` fails when the two differ.
 *
 * @module
 */

/**
 * The `error` tags of the admin API.
 *
 * @since 0.1.0
 * @category models
 */
export type ApiErrorTag =
  | "BadRequest"
  | "InvalidOptions"
  | "Unauthorized"
  | "ReadOnly"
  | "ForbiddenOrigin"
  | "ForbiddenHost"
  | "QueueNotFound"
  | "MessageNotFound"
  | "NotFound"
  | "InvalidState"
  | "UnsupportedMediaType"
  | "DynamoDBError";

/**
 * The HTTP status of each `error` tag.
 *
 * @since 0.1.0
 * @category models
 */
export const apiErrorStatus: Readonly<Record<ApiErrorTag, number>> = {
  BadRequest: 400,
  InvalidOptions: 400,
  Unauthorized: 401,
  ReadOnly: 403,
  ForbiddenOrigin: 403,
  ForbiddenHost: 403,
  QueueNotFound: 404,
  MessageNotFound: 404,
  NotFound: 404,
  InvalidState: 409,
  UnsupportedMediaType: 415,
  DynamoDBError: 503,
};

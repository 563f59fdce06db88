/**
 * The dashboard API's answers: JSON and asset responses with the security headers, and failures
 * as API errors (status from `src/dashboard/apiErrors.ts`, `{ error, message, retryable? }`).
 *
 * @module
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse";
import * as Data from "effect/Data";
import * as Effect from "effect/Effect";
import * as ParseResult from "effect/ParseResult";
import { apiErrorStatus, type ApiErrorTag } from "../../dashboard/apiErrors.ts";

/** What the API answers with on failure: a status and `{ error, message }`. */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly status: number;
  readonly error: string;
  readonly message: string;
  readonly retryable?: boolean | undefined;
}> {}

/** A failure of the API's own: its status comes from the table of `apiErrors.ts`. */
export const apiError = (error: ApiErrorTag, message: string): ApiError =>
  new ApiError({ status: apiErrorStatus[error], error, message });

/** Sent with every answer: the pages load only their own assets and are never framed or cached. */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** A page asset, with the security headers. */
export const asset = (
  body: string,
  contentType: string,
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.succeed(HttpServerResponse.text(body, { contentType, headers: securityHeaders }));

/** A JSON answer, with the security headers. */
export const ok = (body: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.succeed(HttpServerResponse.unsafeJson(body, { headers: securityHeaders }));

/** Maps the library's typed failures to API errors. */
export const fromLibrary = (
  e: { readonly _tag: string; readonly message: string; readonly retryable?: boolean | undefined },
): ApiError => {
  switch (e._tag) {
    case "ApiError":
      return e as ApiError;
    case "DynamoDBError":
      return new ApiError({
        status: apiErrorStatus.DynamoDBError,
        error: e._tag,
        message: e.message,
        retryable: e.retryable,
      });
    case "InvalidOptions":
    case "MessageNotFound":
    case "InvalidState":
      return apiError(e._tag, e.message);
    case "QueueDefinitionConflict":
      return apiError("InvalidState", e.message);
    case "ParseError":
      return apiError("BadRequest", bodyError(e as ParseResult.ParseError));
    case "RequestError":
      return apiError("BadRequest", e.message);
    default:
      // Not in the table: a failure the API does not expect, i.e. a bug.
      return new ApiError({ status: 500, error: e._tag, message: e.message });
  }
};

/**
 * A request body that fails its schema, as one line naming each failing field once, e.g.
 * `state: is missing` or `ids.0: Expected string, actual 1` (not Schema's multi-line tree).
 */
const bodyError = (e: ParseResult.ParseError): string => {
  const seen = new Set<string>();
  const parts: Array<string> = [];
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(e)) {
    const field = issue.path.join(".");
    if (seen.has(field)) continue;
    seen.add(field);
    parts.push(field === "" ? "the body must be a JSON object" : `${field}: ${issue.message}`);
  }
  return parts.join("; ").replace(/\s+/g, " ");
};

/** An API error as its response: its status and `{ error, message, retryable? }`. */
export const errorResponse = (e: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    {
      error: e.error,
      message: e.message,
      ...(e.retryable === undefined ? {} : { retryable: e.retryable }),
    },
    { status: e.status, headers: securityHeaders },
  );

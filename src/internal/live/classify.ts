/**
 * How the live layer classifies a failed request: `ConditionFailed` for a failed condition, else a
 * `DynamoDBError` whose `reason` and `retryable` come from the SDK error's `name` (never
 * `instanceof`: several copies of the SDK may be loaded), its HTTP status or its network code.
 *
 * @module
 */
import { ConditionFailed, DynamoDBError, type DynamoDBErrorReason } from "../../Errors.ts";
import type { Key, TransactItem } from "../../services/DynamoDB.ts";

const field = (e: unknown, key: string): unknown =>
  typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined;

const stringField = (e: unknown, key: string): string => {
  const v = field(e, key);
  return typeof v === "string" ? v : "";
};

const messageOf = (e: unknown): string => {
  const message = stringField(e, "message");
  if (message !== "") return message;
  const name = stringField(e, "name");
  return name !== "" ? name : String(e);
};

const THROTTLED = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "Throttling",
  "RequestLimitExceeded",
  "LimitExceededException",
  "TooManyRequestsException",
]);
const VALIDATION = new Set([
  "ValidationException",
  "SerializationException",
  "ItemCollectionSizeLimitExceededException",
]);
const ACCESS_DENIED = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "InvalidSignatureException",
  "IncompleteSignature",
  "IncompleteSignatureException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
]);
const SERVER = new Set([
  "InternalServerError",
  "InternalServerErrorException",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
]);
const TRANSPORT_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "NetworkingError",
  "AbortError",
]);
const TRANSPORT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const isTransport = (e: unknown): boolean => {
  if (TRANSPORT_NAMES.has(stringField(e, "name"))) return true;
  const cause = field(e, "cause");
  if (
    TRANSPORT_CODES.has(stringField(e, "code")) || TRANSPORT_CODES.has(stringField(cause, "code"))
  ) {
    return true;
  }
  const message = stringField(e, "message");
  return /socket hang up|fetch failed|network error|connection (refused|reset)/i.test(message);
};

// The document client marshals before anything is sent; its errors are about the input.
const isMarshallError = (e: unknown): boolean =>
  /^(Special numeric value|Unsupported type passed|Number .* (is greater than|is lesser than))/
    .test(stringField(e, "message"));

const httpStatus = (e: unknown): number | undefined => {
  const status = field(field(e, "$metadata"), "httpStatusCode");
  return typeof status === "number" ? status : undefined;
};

const dynamoDBError = (
  operation: string,
  reason: DynamoDBErrorReason,
  retryable: boolean,
  e: unknown,
): DynamoDBError =>
  new DynamoDBError({ operation, reason, retryable, detail: messageOf(e), cause: e });

const cancellationCodes = (e: unknown): ReadonlyArray<string | undefined> => {
  const reasons = field(e, "CancellationReasons");
  return Array.isArray(reasons)
    ? reasons.map((r) => {
      const code = field(r, "Code");
      return typeof code === "string" ? code : undefined;
    })
    : [];
};

/** Classifies any failure of a request other than a failed condition. */
export const classify = (operation: string, e: unknown): DynamoDBError => {
  const name = stringField(e, "name");
  if (name === "TransactionCanceledException") {
    // Called only when no reason is a failed condition; look at the others.
    const codes = cancellationCodes(e);
    if (codes.includes("ValidationError")) return dynamoDBError(operation, "Validation", false, e);
    if (codes.some((c) => c === "ThrottlingError" || c === "ProvisionedThroughputExceeded")) {
      return dynamoDBError(operation, "Throttled", true, e);
    }
    return dynamoDBError(operation, "TransactionConflict", true, e);
  }
  if (name === "TransactionConflictException" || name === "TransactionInProgressException") {
    return dynamoDBError(operation, "TransactionConflict", true, e);
  }
  if (THROTTLED.has(name)) return dynamoDBError(operation, "Throttled", true, e);
  if (VALIDATION.has(name)) return dynamoDBError(operation, "Validation", false, e);
  // The SDK found no credentials (or could not load them): nothing was sent.
  if (name === "CredentialsProviderError") {
    return dynamoDBError(operation, "Credentials", false, e);
  }
  if (ACCESS_DENIED.has(name)) return dynamoDBError(operation, "AccessDenied", false, e);
  if (name === "ResourceNotFoundException") {
    return dynamoDBError(operation, "TableNotFound", false, e);
  }
  if (name === "ResourceInUseException") return dynamoDBError(operation, "TableExists", false, e);
  if (name === "UnknownOperationException") {
    return dynamoDBError(operation, "Unsupported", false, e);
  }
  if (SERVER.has(name) || (httpStatus(e) ?? 0) >= 500) {
    return dynamoDBError(operation, "ServerError", true, e);
  }
  if (isTransport(e)) return dynamoDBError(operation, "Transport", true, e);
  if (isMarshallError(e)) return dynamoDBError(operation, "Validation", false, e);
  return dynamoDBError(operation, "Unknown", false, e);
};

/** Classifies the failure of a conditional single-item write. */
export const classifyWrite = (operation: string, table: string, key: Key | undefined) =>
(
  e: unknown,
): ConditionFailed | DynamoDBError =>
  stringField(e, "name") === "ConditionalCheckFailedException"
    ? new ConditionFailed({ table, operation, key, item: oldItemOf(e), cause: e })
    : classify(operation, e);

/**
 * The item a failed condition returned (`ReturnValuesOnConditionCheckFailure: ALL_OLD`). The
 * document client does not translate it: it arrives as wire attribute values.
 */
const oldItemOf = (e: unknown): Readonly<Record<string, unknown>> | undefined => {
  const item = typeof e === "object" && e !== null ? (e as { Item?: unknown }).Item : undefined;
  if (typeof item !== "object" || item === null) return undefined;
  return Object.fromEntries(
    Object.entries(item as Record<string, unknown>).map(([k, v]) => [k, wireValue(v)]),
  );
};

const wireValue = (v: unknown): unknown => {
  const w = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if ("S" in w) return w.S;
  if ("N" in w) return Number(w.N);
  if ("BOOL" in w) return w.BOOL;
  if ("NULL" in w) return null;
  if ("B" in w) return w.B;
  if ("L" in w && Array.isArray(w.L)) return w.L.map(wireValue);
  if ("M" in w && typeof w.M === "object" && w.M !== null) {
    return Object.fromEntries(
      Object.entries(w.M as Record<string, unknown>).map(([k, x]) => [k, wireValue(x)]),
    );
  }
  if ("SS" in w) return w.SS;
  if ("NS" in w && Array.isArray(w.NS)) return w.NS.map(Number);
  if ("BS" in w) return w.BS;
  return v;
};

const transactTarget = (item: TransactItem): Key | undefined =>
  item._tag === "Put" ? undefined : item.key;

/** Classifies the failure of a transaction: a failed condition names the first failing item. */
export const classifyTransaction = (items: ReadonlyArray<TransactItem>) =>
(
  e: unknown,
): ConditionFailed | DynamoDBError => {
  if (stringField(e, "name") === "TransactionCanceledException") {
    const index = cancellationCodes(e).indexOf("ConditionalCheckFailed");
    const failed = index >= 0 ? items[index] : undefined;
    if (failed !== undefined) {
      return new ConditionFailed({
        table: failed.table,
        operation: "transactWrite",
        key: transactTarget(failed),
        cause: e,
      });
    }
  }
  return classify("transactWrite", e);
};

/** The failure of a request that got no answer within the request timeout. */
export const timedOut = (operation: string, timeout: string): DynamoDBError =>
  new DynamoDBError({
    operation,
    reason: "Transport",
    retryable: true,
    detail: `no response within ${timeout} (requestTimeout); the request was aborted`,
  });

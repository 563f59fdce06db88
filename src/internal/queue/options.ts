/**
 * Option validation for `Queue.make` and the queue's operations. Pure: no request, no clock, no
 * randomness. Every invalid option is a typed `InvalidOptions` naming the operation and option,
 * returned before anything is written; durations become finite, whole milliseconds.
 *
 * @module
 */
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import { InvalidOptions } from "../../Errors.ts";
import { MESSAGE_ID, QUEUE_NAME, TABLE_NAME } from "../keys.ts";
import type { MessageState } from "../../schema/Message.ts";
import type { QueueOptions } from "../../services/Queue.ts";

const DEFAULT_VISIBILITY = Duration.seconds(30);
const DEFAULT_MAX_RECEIVES = 5;
const DEFAULT_COMPRESS_ABOVE = 4096;
const DEFAULT_DEDUPLICATION_WINDOW = Duration.minutes(5);

/** The typed failure of an invalid option. */
export const invalid = (operation: string, option: string, detail: string): InvalidOptions =>
  new InvalidOptions({ operation, option, detail });

/**
 * The longest duration any option takes: 100 years. A delay, visibility or window of at most
 * this, added to any time before the year 2186, stays within the 13-digit index keys.
 */
export const MAX_DURATION_MILLIS = 36_525 * 24 * 60 * 60 * 1000;

/** The latest time a 13-digit epoch-milliseconds index key can hold (the year 2286). */
export const MAX_TIME_MILLIS = 9_999_999_999_999;

/**
 * Why a duration input is out of range before decoding, or `undefined`. Effect's decoder turns
 * NaN and negative numbers (and `"-5 seconds"`) into zero, so they are caught here first.
 */
export const durationInputProblem = (input: unknown): string | undefined => {
  const bad = (n: unknown) => typeof n === "number" && (Number.isNaN(n) || n < 0);
  if (bad(input) || (typeof input === "bigint" && input < 0n)) {
    return `not a non-negative duration: ${String(input)}`;
  }
  if (Array.isArray(input) && input.some(bad)) {
    return `not a non-negative duration: [${input.join(", ")}]`;
  }
  if (typeof input === "string" && /^\s*-/.test(input)) {
    return `not a non-negative duration: ${input}`;
  }
  return undefined;
};

/**
 * Decodes a duration option into whole milliseconds from 0 to 100 years; NaN, negative,
 * infinite and unreadable inputs are refused, never turned into 0.
 */
export const durationMillis = (
  operation: string,
  option: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration,
): Either.Either<number, InvalidOptions> => {
  if (input === undefined) return Either.right(Duration.toMillis(fallback));
  const problem = durationInputProblem(input);
  if (problem !== undefined) return Either.left(invalid(operation, option, problem));
  const decoded = Duration.decodeUnknown(input);
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value)) {
    return Either.left(invalid(operation, option, `not a finite duration: ${String(input)}`));
  }
  const millis = Math.floor(Duration.toMillis(decoded.value));
  if (!(millis <= MAX_DURATION_MILLIS)) {
    return Either.left(
      invalid(operation, option, `at most 100 years (${MAX_DURATION_MILLIS} ms), got ${millis} ms`),
    );
  }
  return Either.right(millis);
};

/** An integer option in `[min, max]`, `fallback` when absent. */
export const integerIn = (
  operation: string,
  option: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): Either.Either<number, InvalidOptions> => {
  const n = value ?? fallback;
  return Number.isInteger(n) && n >= min && n <= max
    ? Either.right(n)
    : Either.left(invalid(operation, option, `must be an integer from ${min} to ${max}, got ${n}`));
};

/**
 * Epoch milliseconds (whole) of an absolute time option: a number or a valid `Date` from 1970
 * to the latest time the 13-digit index keys hold (the year 2286).
 */
export const timeOf = (
  operation: string,
  at: number | Date,
): Either.Either<number, InvalidOptions> => {
  const t = typeof at === "number" ? at : at instanceof Date ? at.getTime() : NaN;
  return Number.isFinite(t) && t >= 0 && t <= MAX_TIME_MILLIS
    ? Either.right(Math.floor(t))
    : Either.left(
      invalid(
        operation,
        "at",
        `not a time from 1970 to 2286 (epoch ms 0 to ${MAX_TIME_MILLIS}): ${String(at)}`,
      ),
    );
};

/**
 * A message id given to an operation: the characters and length `send` accepts (letters,
 * digits, `_ . : -`, at most 128), and never `.` or `..`, which no URL path can address.
 */
export const messageIdOf = (
  operation: string,
  id: string,
): Either.Either<string, InvalidOptions> =>
  typeof id === "string" && MESSAGE_ID.test(id) ? Either.right(id) : Either.left(
    invalid(
      operation,
      "id",
      `1-128 characters of A-Z a-z 0-9 _ . : - (not "." or ".."), got ${
        typeof id === "string" ? `"${id.length > 140 ? `${id.slice(0, 140)}…` : id}"` : typeof id
      }`,
    ),
  );

/** The states a message can be listed, counted or purged in. */
const STATES: ReadonlyArray<MessageState> = ["ready", "delayed", "inflight", "dead"];

/** A `state` option: one of the four message states (`undefined` passes when allowed). */
export const stateOf = <S extends MessageState | undefined>(
  operation: string,
  state: S,
): Either.Either<S, InvalidOptions> =>
  state === undefined || STATES.includes(state as MessageState) ? Either.right(state) : Either.left(
    invalid(operation, "state", `one of ${STATES.join(", ")}, got ${JSON.stringify(state)}`),
  );

/** Validated queue settings. */
export interface Settings {
  readonly table: string;
  readonly name: string;
  readonly visibilityTimeoutMillis: number;
  readonly maxReceives: number;
  readonly shards: number;
  readonly priorities: number;
  readonly compressAbove: number;
  readonly deduplicationWindowMillis: number;
  readonly contentBasedDeduplication: boolean;
}

/** Validates the options of `Queue.make`, in the order the fields are documented. */
export const settingsOf = <A, I>(
  options: QueueOptions<A, I>,
): Effect.Effect<Settings, InvalidOptions> =>
  Effect.gen(function* () {
    const op = "Queue.make";
    if (!TABLE_NAME.test(options.table)) {
      return yield* invalid(
        op,
        "table",
        `3-255 characters of A-Z a-z 0-9 _ . -, got "${options.table}"`,
      );
    }
    if (!QUEUE_NAME.test(options.name)) {
      return yield* invalid(
        op,
        "name",
        `1-80 characters of A-Z a-z 0-9 _ . - (not "." or ".."), got "${options.name}"`,
      );
    }
    const visibilityTimeoutMillis = yield* durationMillis(
      op,
      "visibilityTimeout",
      options.visibilityTimeout,
      DEFAULT_VISIBILITY,
    );
    if (visibilityTimeoutMillis < 1) {
      return yield* invalid(op, "visibilityTimeout", "must be positive");
    }
    const compressAbove = options.compressAbove === false ? Infinity : yield* integerIn(
      op,
      "compressAbove",
      options.compressAbove,
      DEFAULT_COMPRESS_ABOVE,
      0,
      400 * 1024,
    );
    return {
      table: options.table,
      name: options.name,
      visibilityTimeoutMillis,
      maxReceives: yield* integerIn(
        op,
        "maxReceives",
        options.maxReceives,
        DEFAULT_MAX_RECEIVES,
        1,
        10_000,
      ),
      shards: yield* integerIn(op, "shards", options.shards, 1, 1, 64),
      priorities: yield* integerIn(op, "priorities", options.priorities, 1, 1, 10),
      compressAbove,
      deduplicationWindowMillis: yield* durationMillis(
        op,
        "deduplicationWindow",
        options.deduplicationWindow,
        DEFAULT_DEDUPLICATION_WINDOW,
      ),
      contentBasedDeduplication: options.contentBasedDeduplication ?? false,
    };
  });

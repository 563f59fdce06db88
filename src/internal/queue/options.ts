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
import { QUEUE_NAME, TABLE_NAME } from "../keys.ts";
import type { QueueOptions } from "../../services/Queue.ts";

const DEFAULT_VISIBILITY = Duration.seconds(30);
const DEFAULT_MAX_RECEIVES = 5;
const DEFAULT_COMPRESS_ABOVE = 4096;
const DEFAULT_DEDUPLICATION_WINDOW = Duration.minutes(5);

/** The typed failure of an invalid option. */
export const invalid = (operation: string, option: string, detail: string): InvalidOptions =>
  new InvalidOptions({ operation, option, detail });

/** Decodes a duration option into finite, non-negative milliseconds. */
export const durationMillis = (
  operation: string,
  option: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration,
): Either.Either<number, InvalidOptions> => {
  if (input === undefined) return Either.right(Duration.toMillis(fallback));
  const decoded = Duration.decodeUnknown(input);
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value)) {
    return Either.left(invalid(operation, option, `not a finite duration: ${String(input)}`));
  }
  return Either.right(Math.floor(Duration.toMillis(decoded.value)));
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

/** Epoch milliseconds of an absolute time option. */
export const timeOf = (
  operation: string,
  at: number | Date,
): Either.Either<number, InvalidOptions> => {
  const t = typeof at === "number" ? at : at.getTime();
  return Number.isFinite(t)
    ? Either.right(t)
    : Either.left(invalid(operation, "at", "not a valid time"));
};

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
        `1-80 characters of A-Z a-z 0-9 _ . -, got "${options.name}"`,
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

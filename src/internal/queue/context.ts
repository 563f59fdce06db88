/**
 * The queue context: the one record every protocol module of a queue handle receives, in place of
 * the closure variables `makeQueue` used to share. Its fields never change, except that
 * `settings` is a live view of `live.current`: the queue's stored definition, which
 * `catalogReport.ts` reads again periodically, so an updated `maxReceives`, visibility timeout or
 * deduplication window reaches every protocol without a restart (read `ctx.settings.x` when the
 * value is used; `shards` and `priorities` never change). The only other mutable state of a
 * handle (catalog reporting) is owned by `catalogReport.ts` too.
 *
 * Also the helpers every protocol shares: decoding a stored body, the fields that move a message
 * to the dead-letter queue, and two ways to treat a `ConditionFailed`. None of them makes a
 * DynamoDB request.
 *
 * Invariants: all times come from `now` (Effect's `Clock`, so `TestClock` drives visibility);
 * a message's key is derived from its id alone (`keyOf`), so an id is enough to find a live
 * message, grouped or not.
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as ParseResult from "effect/ParseResult";
import * as Schema from "effect/Schema";
import type { ConditionFailed, DynamoDBError } from "../../Errors.ts";
import { boundFailure, type StoredMessage, toInfo } from "../envelope.ts";
import { gunzip } from "../compression.ts";
import {
  deadPartition,
  groupMessageSk,
  groupPk,
  indexSortKey,
  messageKey,
  parseGroupedId,
  readyPartition,
} from "../keys.ts";
import type { MessageInfo } from "../../schema/Message.ts";
import type { DynamoDB, Item, Key } from "../../services/DynamoDB.ts";
import type { FailureInfo } from "../../services/Queue.ts";
import type { Settings } from "./options.ts";

/** The stored definition a handle runs with; `catalogReport.ts` replaces it on a newer version. */
export interface LiveSettings {
  current: Settings;
  /** The definition's version (0: the queue has none, the handle runs with its options). */
  version: number;
  /** When the definition was last read (epoch ms). */
  readAt: number;
}

/** Everything a protocol module of one queue handle needs. */
export interface QueueContext<A> {
  readonly db: DynamoDB;
  /** The current settings: a view whose every read returns `live.current`'s value. */
  readonly settings: Settings;
  /** The cell behind `settings`. */
  readonly live: LiveSettings;
  /** `settings.table`. */
  readonly table: string;
  /** `settings.name`. */
  readonly name: string;
  /** The queue's schema as JSON text. */
  readonly codec: Schema.Schema<A, string>;
  /** Encodes a body with `codec`. */
  readonly encode: (body: A) => Effect.Effect<string, ParseResult.ParseError>;
  /** The current time in epoch milliseconds, from Effect's `Clock`. */
  readonly now: Effect.Effect<number>;
  /** The key of a live message: grouped ids locate their group's partition. */
  readonly keyOf: (id: string) => Key;
  /** The span attributes of every operation (OTel `messaging.*` names). */
  readonly attrs: { readonly [attribute: string]: string };
  /** The priority bands, highest first. */
  readonly bands: ReadonlyArray<number>;
  /** Every ready partition, highest band first: `priorities × shards` index partition keys. */
  readonly readyPartitions: ReadonlyArray<string>;
}

/** A view of `live.current` whose every field read returns the current value. */
const liveView = (live: LiveSettings): Settings => {
  const view = {} as Record<keyof Settings, unknown>;
  for (const key of Object.keys(live.current) as Array<keyof Settings>) {
    Object.defineProperty(view, key, { enumerable: true, get: () => live.current[key] });
  }
  return view as unknown as Settings;
};

/** Builds the context of one queue handle from its stored settings. */
export const makeContext = <A, I>(
  db: DynamoDB,
  live: LiveSettings,
  schema: Schema.Schema<A, I>,
): QueueContext<A> => {
  const settings = liveView(live);
  const { table, name, shards, priorities } = live.current;
  const codec = Schema.parseJson(schema);
  const bands = Array.from({ length: priorities }, (_, i) => priorities - 1 - i);
  return {
    db,
    settings,
    live,
    table,
    name,
    codec,
    encode: Schema.encode(codec),
    now: Clock.currentTimeMillis,
    keyOf: (id) => {
      const grouped = parseGroupedId(id);
      return grouped === undefined
        ? messageKey(name, id)
        : { pk: groupPk(name, grouped.group), sk: groupMessageSk(grouped.seq) };
    },
    attrs: {
      "messaging.system": "dynamomq",
      "messaging.destination.name": name,
      "dynamomq.table": table,
    },
    bands,
    readyPartitions: bands.flatMap((band) =>
      Array.from({ length: shards }, (_, shard) => readyPartition(name, band, shard))
    ),
  };
};

const formatError = (e: ParseResult.ParseError): string =>
  ParseResult.TreeFormatter.formatErrorSync(e);

/** Why a stored body cannot be delivered. */
export interface BodyProblem {
  readonly detail: string;
  readonly cause: unknown;
}

/** The message body of a stored item: decompressed and decoded with the schema. */
export const bodyOf = <A>(
  ctx: QueueContext<A>,
  s: StoredMessage,
): Effect.Effect<Either.Either<A, BodyProblem>> => {
  if (s.payload === undefined) {
    return Effect.succeed(Either.left({ detail: "the item has no payload", cause: undefined }));
  }
  const text: Effect.Effect<string, Error> = s.enc === "gzip"
    ? (s.payload instanceof Uint8Array
      ? gunzip(s.payload)
      : Effect.fail(new Error("a gzip payload must be binary")))
    : (typeof s.payload === "string"
      ? Effect.succeed(s.payload)
      : Effect.fail(new Error("a json payload must be a string")));
  return text.pipe(
    Effect.mapError((e) => ({ detail: `payload: ${e.message}`, cause: e as unknown })),
    Effect.flatMap((json) =>
      Effect.mapError(
        Schema.decodeUnknown(ctx.codec)(json),
        (e) => ({ detail: formatError(e), cause: e as unknown }),
      )
    ),
    Effect.either,
  );
};

/** The caller's view of a stored message at time `t`. */
export const infoOf = <A>(
  ctx: QueueContext<A>,
  s: StoredMessage,
  t: number,
): Effect.Effect<MessageInfo<A>> =>
  Effect.map(bodyOf(ctx, s), (body) => toInfo(s, t, Either.mapLeft(body, (e) => e.detail)));

/** The fields that move a message to the dead-letter queue at `at`: out of the ready partitions. */
export const deadFields = <A>(
  ctx: QueueContext<A>,
  at: number,
  id: string,
  reason: FailureInfo,
): Item => ({
  state: "dead",
  gpk: deadPartition(ctx.name),
  gsk: indexSortKey(at, id),
  visibleAt: at,
  updatedAt: at,
  deadReason: (({ tag, message }) => ({ tag, message }))(boundFailure(reason)),
});

/** A write without a condition cannot fail one. */
export const unconditional = <X>(
  write: Effect.Effect<X, ConditionFailed | DynamoDBError>,
): Effect.Effect<X, DynamoDBError> =>
  Effect.catchTag(write, "ConditionFailed", (e) => Effect.die(e));

/** A conditional write whose lost race needs nothing done: someone else moved the item on. */
export const ignoreLost = <X>(
  write: Effect.Effect<X, ConditionFailed | DynamoDBError>,
): Effect.Effect<void, DynamoDBError> =>
  Effect.catchTag(Effect.asVoid(write), "ConditionFailed", () => Effect.void);

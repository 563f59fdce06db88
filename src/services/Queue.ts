/**
 * `Queue`: a typed handle for one named queue in a DynamoMQ table. Many queues share one table.
 * Payloads are validated and encoded with an Effect `Schema`; every operation on a received
 * message is fenced by the lease token of that receive.
 *
 * @example
 * ```ts
 * import { DynamoDBMemory, Queue, Table } from "@dynamomq/dynamomq";
 * import { Effect, Schema } from "effect";
 *
 * const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });
 *
 * const program = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const orders = yield* Queue.make({ table: "dynamomq", name: "orders", schema: Order });
 *   yield* orders.send({ id: "A-101", total: 42 }, { delay: "10 seconds" });
 *   const { messages } = yield* orders.receive({ max: 10 });
 *   for (const m of messages) yield* orders.ack(m);
 * });
 *
 * Effect.runPromise(program.pipe(Effect.provide(DynamoDBMemory.layerMemory)));
 * ```
 *
 * @module
 */
import * as Chunk from "effect/Chunk";
import * as Clock from "effect/Clock";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import * as Random from "effect/Random";
import * as ParseResult from "effect/ParseResult";
import * as Schema from "effect/Schema";
import {
  ConditionFailed,
  DuplicateMessage,
  type DynamoDBError,
  InvalidOptions,
  InvalidState,
  LeaseLost,
  MaxReceivesExceeded,
  MessageNotFound,
  PayloadTooLarge,
  UndecodableMessage,
} from "../Errors.ts";
import {
  appendAttempt,
  attemptsItem,
  deriveState,
  parseItem,
  type StoredMessage,
  toInfo,
} from "../internal/envelope.ts";
import { itemSize } from "../internal/itemSize.ts";
import {
  deadPartition,
  INDEX_NAME,
  indexSortKey,
  leaseToken,
  MESSAGE_ID,
  MESSAGE_SK,
  messageKey,
  QUEUE_NAME,
  randomShard,
  shardPartition,
  sortableId,
  TABLE_NAME,
  visibleUpTo,
} from "../internal/keys.ts";
import type { MessageInfo, MessageState, ReceivedMessage } from "../schema/Message.ts";
import {
  and,
  type Condition,
  DynamoDB,
  eq,
  exists,
  type Item,
  type Key,
  MAX_BATCH_GET,
  MAX_BATCH_WRITE,
  MAX_ITEM_BYTES,
  notExists,
  type Query,
  type QueryPage,
} from "./DynamoDB.ts";

/**
 * Options of `Queue.make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueOptions<A, I> {
  /** The DynamoMQ table (see `Table.create`). */
  readonly table: string;
  /** The queue's name: 1–80 characters of letters, digits, `-`, `_` and `.`. */
  readonly name: string;
  /** The payload schema; bodies are encoded with it to JSON on send and decoded on receive. */
  readonly schema: Schema.Schema<A, I>;
  /**
   * How long a received message stays invisible to other receivers.
   * @default "30 seconds"
   */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
  /**
   * A receive that finds a message already received this many times moves it to the
   * dead-letter queue instead of delivering it.
   * @default 5
   */
  readonly maxReceives?: number | undefined;
  /**
   * How many index partitions the ready messages are spread over (1–64).
   * @default 1
   */
  readonly shards?: number | undefined;
}

/**
 * Options of `send`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  /** The message id; a sortable unique id is generated when absent. Letters, digits, `-_.:`; at most 128. */
  readonly id?: string | undefined;
  /** Deliver no earlier than this long from now (any length). */
  readonly delay?: Duration.DurationInput | undefined;
  /** Deliver no earlier than this time (epoch milliseconds or a Date). Overrides `delay`. */
  readonly at?: number | Date | undefined;
}

/**
 * What `send` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendResult {
  readonly id: string;
  /** When the message becomes receivable, epoch milliseconds. */
  readonly visibleAt: number;
}

/**
 * Options of `receive`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveOptions {
  /**
   * The most messages to claim (1–100).
   * @default 1
   */
  readonly max?: number | undefined;
  /** Overrides the queue's visibility timeout for this receive. */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
}

/**
 * What `receive` returns: the claimed messages, and those it moved to the dead-letter queue
 * instead (at `maxReceives`, or with a payload that does not decode).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveResult<A> {
  readonly messages: ReadonlyArray<ReceivedMessage<A>>;
  readonly deadLettered: ReadonlyArray<MaxReceivesExceeded | UndecodableMessage>;
}

/**
 * What went wrong with a message, as recorded in its attempt history.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureInfo {
  readonly tag: string;
  readonly message: string;
}

/**
 * Options of `nack`.
 *
 * @since 0.1.0
 * @category models
 */
export interface NackOptions {
  /**
   * How long until the message may be received again.
   * @default 0 (at once)
   */
  readonly delay?: Duration.DurationInput | undefined;
  /** The failure to record in the attempt history. */
  readonly error?: FailureInfo | undefined;
}

/**
 * Options of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** The state to list. */
  readonly state: MessageState;
  /**
   * The most messages per page (1–1000).
   * @default 100
   */
  readonly limit?: number | undefined;
  /** The `cursor` of the previous page. */
  readonly cursor?: string | undefined;
}

/**
 * One page of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListPage<A> {
  readonly messages: ReadonlyArray<MessageInfo<A>>;
  /** Present when there may be more: pass it back as `cursor`. */
  readonly cursor?: string | undefined;
}

/**
 * Counts per state, and the age of the oldest receivable message.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueStats {
  readonly ready: number;
  readonly delayed: number;
  readonly inflight: number;
  readonly dead: number;
  /** Milliseconds since the oldest receivable message was sent; 0 when none is. */
  readonly oldestReadyAge: number;
}

/**
 * A filter for `redriveAll`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedriveFilter {
  /** Only messages whose dead-letter reason has this tag (e.g. `"MaxReceivesExceeded"`). */
  readonly reasonTag?: string | undefined;
  /** Only messages dead-lettered at or before this time (epoch ms). */
  readonly deadBefore?: number | undefined;
  /** Any other predicate over the message. */
  readonly where?: ((message: MessageInfo<unknown>) => boolean) | undefined;
}

/**
 * A typed handle for one queue.
 *
 * @since 0.1.0
 * @category models
 */
export interface Queue<A> {
  /** The queue's name. */
  readonly name: string;
  /** The table it lives in. */
  readonly table: string;
  /** The default visibility timeout in milliseconds. */
  readonly visibilityTimeoutMillis: number;
  /** The receive count at which a message goes to the dead-letter queue. */
  readonly maxReceives: number;
  /** The number of index shards. */
  readonly shards: number;

  /** Sends one message: one conditional put; an existing id is never overwritten. */
  readonly send: (
    body: A,
    options?: SendOptions,
  ) => Effect.Effect<
    SendResult,
    ParseResult.ParseError | DuplicateMessage | PayloadTooLarge | InvalidOptions | DynamoDBError
  >;
  /** Claims up to `max` receivable messages, each with a fresh lease. */
  readonly receive: (
    options?: ReceiveOptions,
  ) => Effect.Effect<ReceiveResult<A>, InvalidOptions | DynamoDBError>;
  /** Deletes a received message (done). */
  readonly ack: (message: ReceivedMessage<A>) => Effect.Effect<void, LeaseLost | DynamoDBError>;
  /** Hands a received message back to be received again after `delay`; the receive counts. */
  readonly nack: (
    message: ReceivedMessage<A>,
    options?: NackOptions,
  ) => Effect.Effect<void, LeaseLost | InvalidOptions | DynamoDBError>;
  /**
   * Sets how long from now the message stays invisible (extends the lease; 0 makes it visible
   * now while keeping the lease until someone else receives it). Returns the new `visibleAt`.
   */
  readonly changeVisibility: (
    message: ReceivedMessage<A>,
    timeout: Duration.DurationInput,
  ) => Effect.Effect<number, LeaseLost | InvalidOptions | DynamoDBError>;
  /** Makes a received message visible now without counting the receive (shutdown, interruption). */
  readonly release: (message: ReceivedMessage<A>) => Effect.Effect<void, LeaseLost | DynamoDBError>;
  /** Moves a received message to the dead-letter queue with a reason. */
  readonly deadLetter: (
    message: ReceivedMessage<A>,
    reason: FailureInfo,
  ) => Effect.Effect<void, LeaseLost | DynamoDBError>;

  /** Admin: deletes a message by id in any state. */
  readonly delete: (id: string) => Effect.Effect<void, MessageNotFound | DynamoDBError>;
  /** Admin: moves a ready or delayed message to the dead-letter queue (not one in flight). */
  readonly moveToDeadLetter: (
    id: string,
    reason?: FailureInfo,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | DynamoDBError>;
  /** Admin: moves a dead-lettered message back to ready, resetting its receive count (the history stays). */
  readonly redrive: (
    id: string,
  ) => Effect.Effect<void, MessageNotFound | InvalidState | DynamoDBError>;
  /** Admin: redrives every dead-lettered message that matches the filter; returns how many. */
  readonly redriveAll: (filter?: RedriveFilter) => Effect.Effect<number, DynamoDBError>;
  /** Reads a message by id without receiving it. */
  readonly get: (id: string) => Effect.Effect<Option.Option<MessageInfo<A>>, DynamoDBError>;
  /** Lists messages in one state, oldest first, without receiving them. */
  readonly list: (
    options: ListOptions,
  ) => Effect.Effect<ListPage<A>, InvalidOptions | DynamoDBError>;
  /** Counts messages per state. */
  readonly stats: Effect.Effect<QueueStats, DynamoDBError>;
  /** Deletes every message (or every message in one state); returns how many. */
  readonly purge: (
    options?: { readonly state?: MessageState | undefined },
  ) => Effect.Effect<number, DynamoDBError>;
}

const DEFAULT_VISIBILITY = Duration.seconds(30);
const DEFAULT_MAX_RECEIVES = 5;

const invalid = (operation: string, option: string, detail: string): InvalidOptions =>
  new InvalidOptions({ operation, option, detail });

/** Decodes a duration option into finite, non-negative milliseconds. */
const durationMillis = (
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

const integerIn = (
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

/** The W3C `traceparent` of the current span, so a consumer can link its span to the sender's. */
const currentTraceParent: Effect.Effect<string | undefined> = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.match({
    onNone: () => undefined,
    onSome: (span) => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`,
  }),
);

/** An opaque, URL-safe paging cursor: the shard being read and the last key read there. */
interface Cursor {
  readonly shard: number;
  readonly key?: Key | undefined;
}

const encodeCursor = (cursor: Cursor): string =>
  btoa(JSON.stringify(cursor)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

const decodeCursor = (cursor: string): Either.Either<Cursor, InvalidOptions> => {
  try {
    const json = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    if (typeof json === "object" && json !== null && Number.isInteger(json.shard)) {
      return Either.right(json as Cursor);
    }
  } catch {
    // fall through: any malformed cursor is the caller's error
  }
  return Either.left(invalid("list", "cursor", "not a cursor returned by list"));
};

/**
 * Creates a typed handle for one queue. Validates the options (a typed `InvalidOptions`, nothing
 * written); the table itself is created with `Table.create`.
 *
 * @example
 * ```ts
 * import { Queue } from "@dynamomq/dynamomq";
 * import { Schema } from "effect";
 *
 * const orders = Queue.make({
 *   table: "dynamomq",
 *   name: "orders",
 *   schema: Schema.Struct({ id: Schema.String }),
 *   visibilityTimeout: "1 minute",
 *   maxReceives: 3,
 * });
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I>(
  options: QueueOptions<A, I>,
): Effect.Effect<Queue<A>, InvalidOptions, DynamoDB> =>
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
    const visibilityMillis = yield* durationMillis(
      op,
      "visibilityTimeout",
      options.visibilityTimeout,
      DEFAULT_VISIBILITY,
    );
    if (visibilityMillis < 1) return yield* invalid(op, "visibilityTimeout", "must be positive");
    const maxReceives = yield* integerIn(
      op,
      "maxReceives",
      options.maxReceives,
      DEFAULT_MAX_RECEIVES,
      1,
      10_000,
    );
    const shards = yield* integerIn(op, "shards", options.shards, 1, 1, 64);
    const db = yield* DynamoDB;
    return makeQueue(
      db,
      options.table,
      options.name,
      options.schema,
      visibilityMillis,
      maxReceives,
      shards,
    );
  });

const makeQueue = <A, I>(
  db: DynamoDB,
  table: string,
  name: string,
  schema: Schema.Schema<A, I>,
  visibilityTimeoutMillis: number,
  maxReceives: number,
  shards: number,
): Queue<A> => {
  const codec = Schema.parseJson(schema);
  const encode = Schema.encode(codec);
  const decodeBody = (payload: string): Either.Either<A, string> =>
    Either.mapLeft(
      Schema.decodeUnknownEither(codec)(payload),
      (e) => ParseResult.TreeFormatter.formatErrorSync(e),
    );
  const keyOf = (id: string) => messageKey(name, id);
  const now = Clock.currentTimeMillis;
  const attrs = {
    "messaging.system": "dynamomq",
    "messaging.destination.name": name,
    "dynamomq.table": table,
  };

  /** Runs a write fenced by a lease: a failed condition means the lease is gone. */
  const fenced = <X>(
    message: ReceivedMessage<A>,
    operation: string,
    write: Effect.Effect<X, ConditionFailed | DynamoDBError>,
  ): Effect.Effect<X, LeaseLost | DynamoDBError> =>
    Effect.catchTag(
      write,
      "ConditionFailed",
      () => Effect.fail(new LeaseLost({ queue: name, messageId: message.id, operation })),
    );

  const leaseHeld = (message: ReceivedMessage<A>): Condition =>
    and(eq("lease", message.lease), eq("state", "inflight"));

  const deadFields = (at: number, id: string, reason: FailureInfo) => ({
    state: "dead",
    gpk: deadPartition(name),
    gsk: indexSortKey(at, id),
    visibleAt: at,
    updatedAt: at,
    deadReason: { tag: reason.tag, message: reason.message },
  });

  const send: Queue<A>["send"] = (body, options) =>
    Effect.gen(function* () {
      const t = yield* now;
      const id = options?.id ?? sortableId(t);
      if (!MESSAGE_ID.test(id)) {
        return yield* invalid("send", "id", `1-128 characters of A-Z a-z 0-9 _ . : -, got "${id}"`);
      }
      let visibleAt = t;
      if (options?.at !== undefined) {
        visibleAt = typeof options.at === "number" ? options.at : options.at.getTime();
        if (!Number.isFinite(visibleAt)) return yield* invalid("send", "at", "not a valid time");
      } else if (options?.delay !== undefined) {
        visibleAt = t + (yield* durationMillis("send", "delay", options.delay, Duration.zero));
      }
      const payload = yield* encode(body);
      const shard = randomShard(shards);
      const trace = yield* currentTraceParent;
      const item: Record<string, Item[string]> = {
        ...keyOf(id),
        queue: name,
        id,
        state: "ready",
        shard,
        gpk: shardPartition(name, shard),
        gsk: indexSortKey(visibleAt, id),
        visibleAt,
        sentAt: t,
        updatedAt: t,
        receives: 0,
        attempts: [],
        enc: "json",
        payload,
      };
      if (trace !== undefined) item.trace = trace;
      const bytes = itemSize(item);
      if (bytes > MAX_ITEM_BYTES) {
        return yield* new PayloadTooLarge({ queue: name, bytes, limit: MAX_ITEM_BYTES });
      }
      yield* Effect.catchTag(
        db.put(table, item, { condition: notExists("pk") }),
        "ConditionFailed",
        () => Effect.fail(new DuplicateMessage({ queue: name, messageId: id })),
      );
      return { id, visibleAt };
    }).pipe(Effect.withSpan("DynamoMQ.send", { kind: "producer", attributes: attrs }));

  /** The outcome of trying to claim one index entry. */
  type ClaimOutcome =
    | { readonly _tag: "Claimed"; readonly message: ReceivedMessage<A> }
    | { readonly _tag: "DeadLettered"; readonly error: MaxReceivesExceeded | UndecodableMessage }
    | { readonly _tag: "Lost" };
  const lost: ClaimOutcome = { _tag: "Lost" };

  /**
   * Claims one candidate read from the index: a single conditional update, conditioned on the
   * index key and receive count just read (they change on every claim, so they act as the
   * version). A lost race is not an error: the caller moves on to the next candidate.
   */
  const claim = (
    candidate: Item,
    t: number,
    visibility: number,
  ): Effect.Effect<ClaimOutcome, DynamoDBError> => {
    const pk = candidate.pk as string;
    const id = pk.slice(name.length + 1);
    const key = { pk, sk: MESSAGE_SK };
    const receives = typeof candidate.receives === "number" ? candidate.receives : 0;
    const version = and(
      eq("gpk", candidate.gpk as string),
      eq("gsk", candidate.gsk as string),
      // An item this library did not write may lack `receives`; it is claimed, then quarantined.
      typeof candidate.receives === "number" ? eq("receives", receives) : notExists("receives"),
    );
    if (receives >= maxReceives) {
      const error = new MaxReceivesExceeded({ queue: name, messageId: id, receives, maxReceives });
      return db.update(table, key, {
        set: deadFields(t, id, { tag: error._tag, message: error.message }),
        remove: ["lease"],
      }, { condition: version }).pipe(
        Effect.as<ClaimOutcome>({ _tag: "DeadLettered", error }),
        Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
      );
    }
    const lease = leaseToken();
    const visibleAt = t + visibility;
    return db.update(table, key, {
      set: {
        state: "inflight",
        lease,
        gsk: indexSortKey(visibleAt, id),
        visibleAt,
        updatedAt: t,
      },
      add: { receives: 1 },
    }, { condition: version }).pipe(
      Effect.flatMap((item) => deliver(item, id, lease, t)),
      Effect.catchTag("ConditionFailed", () => Effect.succeed(lost)),
    );
  };

  /** Turns a claimed item into a message, or dead-letters it if it does not decode. */
  const deliver = (
    item: Item,
    id: string,
    lease: string,
    t: number,
  ): Effect.Effect<ClaimOutcome, ConditionFailed | DynamoDBError> => {
    const stored = parseItem(item);
    const body = Either.isRight(stored)
      ? Either.mapLeft(Schema.decodeUnknownEither(codec)(stored.right.payload), (e) => ({
        detail: ParseResult.TreeFormatter.formatErrorSync(e),
        cause: e as unknown,
      }))
      : Either.left({
        detail: `not a DynamoMQ message: ${stored.left}`,
        cause: undefined as unknown,
      });
    if (Either.isLeft(body) || Either.isLeft(stored)) {
      const detail = Either.isLeft(body) ? body.left.detail : "";
      const error = new UndecodableMessage({
        queue: name,
        messageId: id,
        detail,
        cause: Either.isLeft(body) ? body.left.cause : undefined,
      });
      return db.update(table, messageKey(name, id), {
        set: deadFields(t, id, { tag: error._tag, message: detail }),
        remove: ["lease"],
      }, { condition: eq("lease", lease) }).pipe(
        Effect.as<ClaimOutcome>({ _tag: "DeadLettered", error }),
      );
    }
    const s = stored.right;
    return Effect.succeed<ClaimOutcome>({
      _tag: "Claimed",
      message: {
        queue: name,
        id,
        body: body.right,
        receives: s.receives,
        sentAt: s.sentAt,
        visibleAt: s.visibleAt,
        lease,
        attempts: s.attempts,
        group: s.group,
        traceParent: s.trace,
      },
    });
  };

  const receive: Queue<A>["receive"] = (options) =>
    Effect.gen(function* () {
      const max = yield* integerIn("receive", "max", options?.max, 1, 1, 100);
      const visibility = options?.visibilityTimeout === undefined
        ? visibilityTimeoutMillis
        : yield* durationMillis(
          "receive",
          "visibilityTimeout",
          options.visibilityTimeout,
          Duration.zero,
        );
      if (visibility < 1) return yield* invalid("receive", "visibilityTimeout", "must be positive");
      const t = yield* now;
      const messages: Array<ReceivedMessage<A>> = [];
      const deadLettered: Array<MaxReceivesExceeded | UndecodableMessage> = [];
      // Start at a random shard so that consumers spread over the shards.
      const first = randomShard(shards);
      for (let i = 0; i < shards && messages.length < max; i++) {
        const shard = (first + i) % shards;
        let startKey: Key | undefined = undefined;
        do {
          const need = max - messages.length;
          // Read a few more candidates than needed: some will be lost to other consumers.
          const page: QueryPage = yield* db.query(table, {
            index: INDEX_NAME,
            partition: { attribute: "gpk", value: shardPartition(name, shard) },
            sort: {
              attribute: "gsk",
              condition: { _tag: "Compare", op: "<=", value: visibleUpTo(t) },
            },
            limit: Math.min(need * 2 + 4, 200),
            startKey,
          });
          startKey = page.lastKey;
          let candidates = page.items;
          // Claim in waves of `need`, in index order, so a lone consumer receives oldest first.
          while (candidates.length > 0 && messages.length < max) {
            const wave = candidates.slice(0, max - messages.length);
            candidates = candidates.slice(wave.length);
            const outcomes = yield* Effect.forEach(wave, (c) => claim(c, t, visibility), {
              concurrency: "unbounded",
            });
            for (const o of outcomes) {
              if (o._tag === "Claimed") messages.push(o.message);
              else if (o._tag === "DeadLettered") deadLettered.push(o.error);
            }
          }
        } while (startKey !== undefined && messages.length < max);
      }
      return { messages, deadLettered };
    }).pipe(Effect.withSpan("DynamoMQ.receive", { kind: "consumer", attributes: attrs }));

  const ack: Queue<A>["ack"] = (message) =>
    fenced(message, "ack", db.delete(table, keyOf(message.id), { condition: leaseHeld(message) }))
      .pipe(Effect.asVoid, Effect.withSpan("DynamoMQ.ack", { attributes: attrs }));

  const nack: Queue<A>["nack"] = (message, options) =>
    Effect.gen(function* () {
      const delay = yield* durationMillis("nack", "delay", options?.delay, Duration.zero);
      const t = yield* now;
      const error = options?.error ?? { tag: "Nack", message: "negatively acknowledged" };
      const attempts = appendAttempt(message.attempts, {
        at: t,
        receive: message.receives,
        ...error,
      });
      yield* fenced(
        message,
        "nack",
        db.update(table, keyOf(message.id), {
          set: {
            state: "ready",
            gsk: indexSortKey(t + delay, message.id),
            visibleAt: t + delay,
            updatedAt: t,
            attempts: attemptsItem(attempts),
          },
          remove: ["lease"],
        }, { condition: leaseHeld(message) }),
      );
    }).pipe(Effect.withSpan("DynamoMQ.nack", { attributes: attrs }));

  const changeVisibility: Queue<A>["changeVisibility"] = (message, timeout) =>
    Effect.gen(function* () {
      const millis = yield* durationMillis("changeVisibility", "timeout", timeout, Duration.zero);
      const t = yield* now;
      const visibleAt = t + millis;
      yield* fenced(
        message,
        "changeVisibility",
        db.update(table, keyOf(message.id), {
          set: { gsk: indexSortKey(visibleAt, message.id), visibleAt, updatedAt: t },
        }, { condition: leaseHeld(message) }),
      );
      return visibleAt;
    }).pipe(Effect.withSpan("DynamoMQ.changeVisibility", { attributes: attrs }));

  const release: Queue<A>["release"] = (message) =>
    Effect.flatMap(now, (t) =>
      fenced(
        message,
        "release",
        db.update(table, keyOf(message.id), {
          set: { state: "ready", gsk: indexSortKey(t, message.id), visibleAt: t, updatedAt: t },
          add: { receives: -1 },
          remove: ["lease"],
        }, { condition: leaseHeld(message) }),
      )).pipe(Effect.asVoid, Effect.withSpan("DynamoMQ.release", { attributes: attrs }));

  const deadLetter: Queue<A>["deadLetter"] = (message, reason) =>
    Effect.flatMap(now, (t) =>
      fenced(
        message,
        "deadLetter",
        db.update(table, keyOf(message.id), {
          set: {
            ...deadFields(t, message.id, reason),
            attempts: attemptsItem(
              appendAttempt(message.attempts, { at: t, receive: message.receives, ...reason }),
            ),
          },
          remove: ["lease"],
        }, { condition: leaseHeld(message) }),
      )).pipe(Effect.asVoid, Effect.withSpan("DynamoMQ.deadLetter", { attributes: attrs }));

  const notFound = (id: string) => new MessageNotFound({ queue: name, messageId: id });

  /** Reads a message item, failing with `MessageNotFound` when absent or not a message. */
  const read = (id: string): Effect.Effect<StoredMessage, MessageNotFound | DynamoDBError> =>
    Effect.flatMap(db.get(table, keyOf(id)), (item) => {
      if (item === undefined) return Effect.fail(notFound(id));
      const stored = parseItem(item);
      return Either.isRight(stored) ? Effect.succeed(stored.right) : Effect.fail(notFound(id));
    });

  /** Conditioned on the item not having changed since it was read. */
  const unchanged = (s: StoredMessage): Condition =>
    and(eq("updatedAt", s.updatedAt), eq("state", s.state), eq("receives", s.receives));

  /**
   * Retries an admin read-check-write when a concurrent change slipped in between the read and
   * the write (the write is conditioned on the item being unchanged).
   */
  const retryOnRace = <X, E>(
    effect: Effect.Effect<X, E | ConditionFailed>,
  ): Effect.Effect<X, E> =>
    Effect.retry(effect, {
      times: 5,
      while: (e) => e instanceof ConditionFailed,
    }).pipe(
      Effect.catchIf(
        (e): e is ConditionFailed => e instanceof ConditionFailed,
        (e) => Effect.die(e),
      ),
    ) as Effect.Effect<X, E>;

  const deleteMessage: Queue<A>["delete"] = (id) =>
    db.delete(table, keyOf(id), { condition: exists("pk") }).pipe(
      Effect.catchTag("ConditionFailed", () => Effect.fail(notFound(id))),
      Effect.asVoid,
      Effect.withSpan("DynamoMQ.delete", { attributes: attrs }),
    );

  const moveToDeadLetter: Queue<A>["moveToDeadLetter"] = (id, reason) =>
    retryOnRace(Effect.gen(function* () {
      const s = yield* read(id);
      if (s.state === "dead") return;
      const t = yield* now;
      const state = deriveState(s.state, s.visibleAt, t);
      if (state === "inflight") {
        return yield* new InvalidState({
          queue: name,
          messageId: id,
          operation: "moveToDeadLetter",
          state,
          expected: "ready or delayed",
        });
      }
      yield* db.update(table, keyOf(id), {
        set: deadFields(
          t,
          id,
          reason ?? { tag: "Manual", message: "moved to the dead-letter queue" },
        ),
        remove: ["lease"],
      }, { condition: unchanged(s) });
    })).pipe(Effect.withSpan("DynamoMQ.moveToDeadLetter", { attributes: attrs }));

  const redriveStored = (
    s: StoredMessage,
    t: number,
  ): Effect.Effect<void, ConditionFailed | DynamoDBError> =>
    db.update(table, keyOf(s.id), {
      set: {
        state: "ready",
        gpk: shardPartition(name, s.shard),
        gsk: indexSortKey(t, s.id),
        visibleAt: t,
        updatedAt: t,
        receives: 0,
      },
      remove: ["deadReason", "lease"],
    }, { condition: unchanged(s) }).pipe(Effect.asVoid);

  const redrive: Queue<A>["redrive"] = (id) =>
    retryOnRace(Effect.gen(function* () {
      const s = yield* read(id);
      if (s.state !== "dead") {
        const t = yield* now;
        return yield* new InvalidState({
          queue: name,
          messageId: id,
          operation: "redrive",
          state: deriveState(s.state, s.visibleAt, t),
          expected: "dead",
        });
      }
      yield* redriveStored(s, yield* now);
    })).pipe(Effect.withSpan("DynamoMQ.redrive", { attributes: attrs }));

  /** Reads whole items for index entries, in the order of the entries (BatchGetItem, ≤ 100 a call). */
  const fetchItems = (entries: ReadonlyArray<Item>): Effect.Effect<Array<Item>, DynamoDBError> =>
    Effect.gen(function* () {
      const byPk = new Map<string, Item>();
      for (let i = 0; i < entries.length; i += MAX_BATCH_GET) {
        let keys: ReadonlyArray<Key> = entries.slice(i, i + MAX_BATCH_GET).map((e) => ({
          pk: e.pk as string,
          sk: e.sk as string,
        }));
        while (keys.length > 0) {
          const result = yield* db.batchGet(table, keys);
          for (const item of result.items) byPk.set(item.pk as string, item);
          keys = result.unprocessed;
        }
      }
      return entries.flatMap((e) => {
        const item = byPk.get(e.pk as string);
        return item === undefined ? [] : [item];
      });
    });

  /** The index queries that hold messages in a given state, shard by shard. */
  const stateQuery = (state: MessageState, shard: number, t: number): Query => {
    if (state === "dead") {
      return { index: INDEX_NAME, partition: { attribute: "gpk", value: deadPartition(name) } };
    }
    const partition = { attribute: "gpk", value: shardPartition(name, shard) };
    if (state === "ready") {
      return {
        index: INDEX_NAME,
        partition,
        sort: { attribute: "gsk", condition: { _tag: "Compare", op: "<=", value: visibleUpTo(t) } },
      };
    }
    return {
      index: INDEX_NAME,
      partition,
      sort: { attribute: "gsk", condition: { _tag: "Compare", op: ">", value: visibleUpTo(t) } },
      filter: eq("state", state === "inflight" ? "inflight" : "ready"),
    };
  };
  const shardsOf = (state: MessageState) => (state === "dead" ? 1 : shards);

  /**
   * Walks every index entry in one state, page by page, handing each page to `f`. Entries are
   * keys plus the projected `state`, `sentAt`, `receives`.
   */
  const forEachEntryPage = <E>(
    state: MessageState,
    t: number,
    f: (entries: ReadonlyArray<Item>) => Effect.Effect<void, E>,
  ): Effect.Effect<void, E | DynamoDBError> =>
    Effect.gen(function* () {
      for (let shard = 0; shard < shardsOf(state); shard++) {
        let startKey: Key | undefined = undefined;
        do {
          const page: QueryPage = yield* db.query(table, {
            ...stateQuery(state, shard, t),
            limit: 1000,
            startKey,
          });
          startKey = page.lastKey;
          if (page.items.length > 0) yield* f(page.items);
        } while (startKey !== undefined);
      }
    });

  const redriveAll: Queue<A>["redriveAll"] = (filter) =>
    Effect.gen(function* () {
      const t = yield* now;
      let count = 0;
      yield* forEachEntryPage("dead", t, (entries) =>
        Effect.gen(function* () {
          const items = yield* fetchItems(entries);
          const matching = items.flatMap((item) => {
            const s = parseItem(item);
            if (Either.isLeft(s) || s.right.state !== "dead") return [];
            const info = toInfo(s.right, t, decodeBody);
            const ok =
              (filter?.reasonTag === undefined || info.deadReason?.tag === filter.reasonTag) &&
              (filter?.deadBefore === undefined || info.updatedAt <= filter.deadBefore) &&
              (filter?.where === undefined || filter.where(info as MessageInfo<unknown>));
            return ok ? [s.right] : [];
          });
          const results = yield* Effect.forEach(
            matching,
            (s) =>
              Effect.either(
                Effect.catchTag(redriveStored(s, t), "ConditionFailed", (e) => Effect.fail(e)),
              ),
            { concurrency: 16 },
          );
          for (const r of results) {
            if (Either.isRight(r)) count++;
            else if (r.left._tag === "DynamoDBError") return yield* r.left;
            // A ConditionFailed means the message changed meanwhile (redriven, purged): skip it.
          }
        }));
      return count;
    }).pipe(Effect.withSpan("DynamoMQ.redriveAll", { attributes: attrs }));

  const get: Queue<A>["get"] = (id) =>
    Effect.gen(function* () {
      const item = yield* db.get(table, keyOf(id));
      if (item === undefined) return Option.none();
      const s = parseItem(item);
      if (Either.isLeft(s)) return Option.none();
      return Option.some(toInfo(s.right, yield* now, decodeBody));
    }).pipe(Effect.withSpan("DynamoMQ.get", { attributes: attrs }));

  const list: Queue<A>["list"] = (options) =>
    Effect.gen(function* () {
      const limit = yield* integerIn("list", "limit", options.limit, 100, 1, 1000);
      let cursor: Cursor = options.cursor === undefined
        ? { shard: 0 }
        : yield* decodeCursor(options.cursor);
      const t = yield* now;
      const entries: Array<Item> = [];
      let next: Cursor | undefined = cursor;
      while (next !== undefined && entries.length < limit) {
        cursor = next;
        const page: QueryPage = yield* db.query(table, {
          ...stateQuery(options.state, cursor.shard, t),
          limit: limit - entries.length,
          startKey: cursor.key,
        });
        entries.push(...page.items);
        next = page.lastKey !== undefined
          ? { shard: cursor.shard, key: page.lastKey }
          : cursor.shard + 1 < shardsOf(options.state)
          ? { shard: cursor.shard + 1 }
          : undefined;
      }
      const items = yield* fetchItems(entries);
      const messages = items.flatMap((item) => {
        const s = parseItem(item);
        if (Either.isLeft(s)) return [];
        const info = toInfo(s.right, t, decodeBody);
        // The index lags the table a little: keep only what is still in the state asked for.
        return info.state === options.state ? [info] : [];
      });
      return { messages, cursor: next === undefined ? undefined : encodeCursor(next) };
    }).pipe(Effect.withSpan("DynamoMQ.list", { attributes: attrs }));

  const stats: Queue<A>["stats"] = Effect.gen(function* () {
    const t = yield* now;
    let ready = 0;
    let delayed = 0;
    let inflight = 0;
    let dead = 0;
    let oldestSent = Infinity;
    for (let shard = 0; shard < shards; shard++) {
      let startKey: Key | undefined = undefined;
      do {
        const page: QueryPage = yield* db.query(table, {
          index: INDEX_NAME,
          partition: { attribute: "gpk", value: shardPartition(name, shard) },
          limit: 1000,
          startKey,
        });
        startKey = page.lastKey;
        for (const e of page.items) {
          const gsk = e.gsk as string;
          if (gsk <= visibleUpTo(t)) {
            ready++;
            if (typeof e.sentAt === "number" && e.sentAt < oldestSent) oldestSent = e.sentAt;
          } else if (e.state === "inflight") inflight++;
          else delayed++;
        }
      } while (startKey !== undefined);
    }
    yield* forEachEntryPage(
      "dead",
      t,
      (entries) => Effect.sync(() => void (dead += entries.length)),
    );
    return {
      ready,
      delayed,
      inflight,
      dead,
      oldestReadyAge: oldestSent === Infinity ? 0 : Math.max(0, t - oldestSent),
    };
  }).pipe(Effect.withSpan("DynamoMQ.stats", { attributes: attrs }));

  /** Deletes keys with BatchWriteItem, retrying unprocessed entries with jittered backoff. */
  const batchDelete = (keys: ReadonlyArray<Key>): Effect.Effect<void, DynamoDBError> =>
    Effect.forEach(
      Chunk.chunksOf(Chunk.fromIterable(keys), MAX_BATCH_WRITE),
      (chunk) =>
        Effect.gen(function* () {
          let pending = Chunk.toReadonlyArray(chunk).map((key) => ({
            _tag: "Delete" as const,
            key,
          }));
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 0) {
              yield* Effect.sleep(
                Duration.millis(yield* Random.nextRange(0, Math.min(50 * 2 ** attempt, 2000))),
              );
            }
            const result = yield* db.batchWrite(table, pending);
            pending = result.unprocessed.filter((r) => r._tag === "Delete");
          }
        }),
      { discard: true, concurrency: 4 },
    );

  const purge: Queue<A>["purge"] = (options) =>
    Effect.gen(function* () {
      const t = yield* now;
      const state = options?.state;
      // Purging everything reads each shard partition and the dead partition whole and deletes
      // in batches; purging one state reads just that state's entries.
      const queries: ReadonlyArray<Query> = state === undefined
        ? [
          ...Array.from({ length: shards }, (_, shard): Query => ({
            index: INDEX_NAME,
            partition: { attribute: "gpk", value: shardPartition(name, shard) },
          })),
          stateQuery("dead", 0, t),
        ]
        : Array.from({ length: shardsOf(state) }, (_, shard) => stateQuery(state, shard, t));
      let count = 0;
      for (const query of queries) {
        let startKey: Key | undefined = undefined;
        do {
          const page: QueryPage = yield* db.query(table, { ...query, limit: 1000, startKey });
          startKey = page.lastKey;
          if (state === undefined) {
            yield* batchDelete(page.items.map((e) => ({ pk: e.pk as string, sk: e.sk as string })));
            count += page.items.length;
          } else {
            // Each delete is conditioned on the entry being unchanged, so a message that moved
            // to another state meanwhile (received, acked) is neither deleted nor counted.
            const deleted = yield* Effect.forEach(page.items, (e) =>
              db.delete(table, { pk: e.pk as string, sk: e.sk as string }, {
                condition: and(eq("gsk", e.gsk as string), eq("state", e.state as string)),
              }).pipe(
                Effect.as(1),
                Effect.catchTag("ConditionFailed", () =>
                  Effect.succeed(0)),
              ), { concurrency: 16 });
            count += deleted.reduce((a, b) =>
              a + b, 0);
          }
        } while (startKey !== undefined);
      }
      return count;
    }).pipe(Effect.withSpan("DynamoMQ.purge", { attributes: attrs }));

  return {
    name,
    table,
    visibilityTimeoutMillis,
    maxReceives,
    shards,
    send,
    receive,
    ack,
    nack,
    changeVisibility,
    release,
    deadLetter,
    delete: deleteMessage,
    moveToDeadLetter,
    redrive,
    redriveAll,
    get,
    list,
    stats,
    purge,
  };
};

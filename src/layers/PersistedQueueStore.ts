/**
 * A DynamoDB-backed store for `@effect/experimental`'s `PersistedQueue` (the v3 line, 0.61): an
 * app written against `PersistedQueue.make({ name, schema })` runs on DynamoDB by providing
 * {@linkcode layer} instead of `PersistedQueue.layerStoreMemory` or the Redis store.
 *
 * Each `PersistedQueue` name is a DynamoMQ queue in the given table, so its elements are ordinary
 * messages: `stats`, `list`, the CLI and redrive work on them. The store keeps the semantics of
 * the memory and Redis stores:
 *
 * - `offer` with an id is idempotent: the id is the message's deduplication key, remembered for
 *   `deduplicationWindow` (also after the element was processed).
 * - `take` waits (polling every `pollInterval`) for an element and holds it in a lease for as
 *   long as the taker's scope is open, extended by a heartbeat. Closing the scope settles it:
 *   success deletes the element; a failure counts an attempt and makes it visible again, or
 *   moves it to the dead-letter queue once `maxAttempts` attempts have failed; an interruption
 *   alone hands it back without counting an attempt. A taker that dies without closing its scope
 *   loses the lease after `visibilityTimeout`; that counts as an attempt.
 *
 * @example Run a PersistedQueue on DynamoDB
 * ```ts
 * import { PersistedQueue } from "@effect/experimental";
 * import { DynamoDBLive, PersistedQueueStore, Table } from "@dynamomq/dynamomq";
 * import { Effect, Layer, Schema } from "effect";
 *
 * const Email = Schema.Struct({ to: Schema.String, subject: Schema.String });
 *
 * const program = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const emails = yield* PersistedQueue.make({ name: "emails", schema: Email });
 *   yield* emails.offer({ to: "a@example.com", subject: "Hi" }, { id: "welcome-a" });
 *   yield* emails.take((email, { attempts }) => Effect.log(`to ${email.to}, try ${attempts + 1}`));
 * });
 *
 * const Live = PersistedQueueStore.layerFactory({ table: "dynamomq" }).pipe(
 *   Layer.provideMerge(DynamoDBLive.layerConfig()),
 * );
 * Effect.runPromise(program.pipe(Effect.provide(Live)));
 * ```
 *
 * @module
 */
import * as PersistedQueue from "@effect/experimental/PersistedQueue";
import * as Cause from "effect/Cause";
import type * as Context from "effect/Context";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Layer from "effect/Layer";
import * as Schedule from "effect/Schedule";
import * as Schema from "effect/Schema";
import type { DynamoDBError, InvalidOptions, LeaseLost } from "../Errors.ts";
import type { DynamoDB } from "../services/DynamoDB.ts";
import type { ReceivedMessage } from "../schema/Message.ts";
import type * as Queue from "../services/Queue.ts";
import { openQueue } from "../internal/queue/make.ts";

/**
 * Options of {@linkcode layer}, {@linkcode make} and {@linkcode layerFactory}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistedQueueStoreOptions {
  /** The DynamoMQ table (see `Table.create`); every `PersistedQueue` name is a queue in it. */
  readonly table: string;
  /**
   * How long a taken element stays invisible to other takers without a heartbeat; the heartbeat
   * extends it every third of this while the taker's scope is open.
   * @default "30 seconds"
   */
  readonly visibilityTimeout?: Duration.DurationInput | undefined;
  /**
   * How long a waiting `take` sleeps after finding its queue empty.
   * @default "1 second"
   */
  readonly pollInterval?: Duration.DurationInput | undefined;
  /**
   * How long an offered id is remembered: an `offer` with the same id within this time (even
   * after the first element was processed) adds nothing.
   * @default "7 days"
   */
  readonly deduplicationWindow?: Duration.DurationInput | undefined;
}

/**
 * The service of `PersistedQueue.PersistedQueueStore`.
 *
 * @since 0.1.0
 * @category models
 */
export type Store = Context.Tag.Service<typeof PersistedQueue.PersistedQueueStore>;

const LOG_ANNOTATIONS = {
  package: "@dynamomq/dynamomq",
  module: "PersistedQueueStore",
} as const;

/** What a message of a store-backed queue holds: the PersistedQueue id and the encoded element. */
const Envelope = Schema.Struct({ id: Schema.String, element: Schema.Unknown });
type Envelope = typeof Envelope.Type;

/** DynamoMQ deduplication keys are 1–128 characters: longer ids go in as their SHA-256. */
const deduplicationKey = (id: string): Effect.Effect<string> =>
  id.length >= 1 && id.length <= 128 ? Effect.succeed(id) : Effect.promise(async () => {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id));
    return `sha256:${
      Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
    }`;
  });

const storeError = (message: string) => (cause: unknown): PersistedQueue.PersistedQueueError =>
  new PersistedQueue.PersistedQueueError({ message, cause });

/** Retries what DynamoDB says is worth retrying (throttling, transport errors). */
const retryTransient = <A, E extends { readonly _tag: string }, R>(
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("100 millis", 1.5).pipe(Schedule.jittered),
    times: 5,
    while: (e) => e._tag === "DynamoDBError" && (e as Partial<DynamoDBError>).retryable === true,
  });

/**
 * Builds the store over the `DynamoDB` service in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: PersistedQueueStoreOptions,
): Effect.Effect<Store, never, DynamoDB> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<DynamoDB>();
    const visibility = Duration.decode(options.visibilityTimeout ?? "30 seconds");
    const pollInterval = options.pollInterval ?? "1 second";
    const queues = new Map<string, Queue.Queue<Envelope>>();

    /** The DynamoMQ queue of a PersistedQueue name, made once. */
    const queueOf = (
      name: string,
    ): Effect.Effect<Queue.Queue<Envelope>, PersistedQueue.PersistedQueueError> => {
      const cached = queues.get(name);
      if (cached !== undefined) return Effect.succeed(cached);
      // The queue's stored definition rules; these settings only define a queue that has none.
      return openQueue({
        table: options.table,
        name,
        schema: Envelope,
        visibilityTimeout: visibility,
        // Attempts are counted per `take` (its `maxAttempts`): the queue's own limit stays out of
        // the way.
        maxReceives: 10_000,
        deduplicationWindow: options.deduplicationWindow ?? "7 days",
      }, { absent: "create", given: new Set() }).pipe(
        Effect.provide(context),
        Effect.tap((queue) => Effect.sync(() => queues.set(name, queue))),
        Effect.mapError(storeError(`PersistedQueueStore: invalid queue "${name}"`)),
      );
    };

    const offer: Store["offer"] = ({ name, id, element, isCustomId }) =>
      Effect.gen(function* () {
        const queue = yield* queueOf(name);
        const send = isCustomId
          ? Effect.flatMap(
            deduplicationKey(id),
            (deduplicationId) => queue.send({ id, element }, { deduplicationId }),
          )
          : queue.send({ id, element });
        yield* retryTransient(send).pipe(
          Effect.mapError(storeError(`PersistedQueueStore: offer to "${name}" failed`)),
        );
      });

    /** Settles a taken message from the taker's Exit; failures to settle are logged (the lease runs out). */
    const settle = (
      queue: Queue.Queue<Envelope>,
      message: ReceivedMessage<Envelope>,
      attempts: number,
      maxAttempts: number,
      exit: Exit.Exit<unknown, unknown>,
    ): Effect.Effect<void> => {
      const write: Effect.Effect<void, LeaseLost | InvalidOptions | DynamoDBError> =
        Exit.isSuccess(exit)
          ? queue.ack(message)
          : Cause.isInterruptedOnly(exit.cause)
          ? queue.release(message)
          : attempts + 1 >= maxAttempts
          ? queue.deadLetter(message, {
            tag: "MaxAttemptsExceeded",
            message: `failed ${attempts + 1} of ${maxAttempts} attempts: ${
              failureText(exit.cause)
            }`,
          })
          : queue.nack(message, {
            delay: 0,
            error: { tag: "Failure", message: failureText(exit.cause) },
          });
      return retryTransient(write).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(
            "could not settle a taken element; it is redelivered when its lease runs out",
          )
            .pipe(
              Effect.annotateLogs({ queue: queue.name, id: message.body.id, error: String(error) }),
            )
        ),
        Effect.annotateLogs(LOG_ANNOTATIONS),
      );
    };

    /**
     * Extends the lease every third of the queue's visibility timeout (its stored, current value)
     * until the scope closes.
     */
    const keepAlive = (queue: Queue.Queue<Envelope>, message: ReceivedMessage<Envelope>) =>
      Effect.suspend(() => Effect.sleep(Duration.millis(queue.visibilityTimeoutMillis / 3))).pipe(
        Effect.zipRight(
          Effect.suspend(() =>
            retryTransient(queue.changeVisibility(message, queue.visibilityTimeoutMillis))
          ),
        ),
        Effect.forever,
        Effect.catchAll((error) =>
          Effect.logWarning("lease heartbeat failed; the element may be taken again").pipe(
            Effect.annotateLogs({ queue: queue.name, id: message.body.id, error: String(error) }),
          )
        ),
        Effect.annotateLogs(LOG_ANNOTATIONS),
        Effect.interruptible,
      );

    const take: Store["take"] = ({ name, maxAttempts }) =>
      Effect.flatMap(queueOf(name), (queue) =>
        // Uninterruptible between a receive and its finalizer, so a claimed message always gets
        // settled; the wait between polls stays interruptible.
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            for (;;) {
              const { messages } = yield* retryTransient(queue.receive({ max: 1 })).pipe(
                Effect.mapError(storeError(`PersistedQueueStore: take from "${name}" failed`)),
              );
              const message = messages[0];
              if (message === undefined) {
                yield* restore(Effect.sleep(pollInterval));
                continue;
              }
              // `receives` counts this receive; attempts are the ones before it.
              const attempts = message.receives - 1;
              if (attempts >= maxAttempts) {
                // Its attempts ran out without a settled failure (a taker died holding it).
                yield* settle(
                  queue,
                  message,
                  maxAttempts - 1,
                  maxAttempts,
                  Exit.fail("lease expired"),
                );
                continue;
              }
              yield* Effect.addFinalizer((exit) =>
                settle(queue, message, attempts, maxAttempts, exit)
              );
              yield* Effect.forkScoped(keepAlive(queue, message));
              return { id: message.body.id, attempts, element: message.body.element };
            }
          })
        ));

    return PersistedQueue.PersistedQueueStore.of({ offer, take });
  });

const failureText = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause).slice(0, 1000);

/**
 * The `PersistedQueue.PersistedQueueStore` on DynamoDB. Provide `PersistedQueue.layer` on top
 * of it, or use {@linkcode layerFactory}, which does both.
 *
 * @example Provide the store
 * ```ts
 * import { PersistedQueue } from "@effect/experimental";
 * import { PersistedQueueStore } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Layer } from "effect";
 *
 * const Queues = PersistedQueue.layer.pipe(
 *   Layer.provide(PersistedQueueStore.layer({ table: "dynamomq" })),
 *   Layer.provide(DynamoDBMemory.layerMemory),
 * );
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: PersistedQueueStoreOptions,
): Layer.Layer<PersistedQueue.PersistedQueueStore, never, DynamoDB> =>
  Layer.effect(PersistedQueue.PersistedQueueStore, make(options));

/**
 * `PersistedQueue.layer` over {@linkcode layer}: what `PersistedQueue.make` needs.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFactory = (
  options: PersistedQueueStoreOptions,
): Layer.Layer<PersistedQueue.PersistedQueueFactory, never, DynamoDB> =>
  PersistedQueue.layer.pipe(Layer.provide(layer(options)));

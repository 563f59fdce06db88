/**
 * The heartbeat: keeps one lease alive while its handler runs.
 *
 * Invariants: it runs in its own interruptible fiber, forked when the call starts and interrupted
 * before the call settles, so no extension races the settle write. Transient errors are retried
 * within one interval (the lease is still good for two more); other errors are logged and tried
 * again at the next interval. A `LeaseLost` marks the lease lost, runs `onLost`, and ends it.
 *
 * Queue calls: `changeVisibility` every interval (one conditional DynamoDB update fenced by the
 * lease token).
 */
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import { equalJitter } from "../backoff.ts";
import { type Env, isTransient, type Lease } from "./state.ts";

const HEARTBEAT_RETRY_BASE_MILLIS = 100;

/** Extends `lease` every `interval` ms by the visibility timeout, until interrupted or lost. */
export const heartbeat = <A, E>(
  env: Env<A, E>,
  lease: Lease<A>,
  interval: number,
  onLost: Effect.Effect<void>,
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const visibility = Duration.millis(env.settings.visibilityMillis);
    while (true) {
      yield* Effect.sleep(Duration.millis(interval));
      let attempt = 0;
      while (true) {
        const result = yield* Effect.either(env.queue.changeVisibility(lease.message, visibility));
        if (Either.isRight(result)) break;
        const error = result.left;
        if (error._tag === "LeaseLost") {
          lease.lost = error;
          return yield* onLost;
        }
        attempt += 1;
        const transient = isTransient(error);
        const delay = transient
          ? Math.min(interval, yield* equalJitter(HEARTBEAT_RETRY_BASE_MILLIS, interval, attempt))
          : interval;
        const log = transient ? Effect.logWarning : Effect.logError;
        yield* log(
          `heartbeat of message ${lease.message.id} failed (attempt ${attempt}), retrying in ${delay} ms: ${error.message}`,
        );
        yield* Effect.sleep(Duration.millis(delay));
      }
    }
  });

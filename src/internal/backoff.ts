/**
 * Backoff arithmetic for the consumer. Delays are plain milliseconds and the randomness comes from
 * Effect's `Random` service, so tests can seed it (`Effect.withRandom(Random.make(seed))`) and the
 * sleeps built from these delays run on `Clock` (TestClock in tests).
 *
 * @module
 */
import * as Effect from "effect/Effect";
import * as Random from "effect/Random";

/**
 * The ceiling of the n-th step (n ≥ 1) of an exponential backoff: `min(max, base · 2^(n-1))`.
 * Large `n` overflows `2^(n-1)` to `Infinity`, which the `min` then caps, so any count is safe.
 */
export const exponentialCeiling = (baseMillis: number, maxMillis: number, n: number): number =>
  Math.min(maxMillis, baseMillis * Math.pow(2, Math.max(0, n - 1)));

/**
 * "Full jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter"): uniform in
 * `[0, ceiling]`. Spreads the retries of many messages that failed together (say, a downstream
 * outage) as widely as possible, which is what a retry delay wants.
 */
export const fullJitter = (
  baseMillis: number,
  maxMillis: number,
  n: number,
): Effect.Effect<number> =>
  Effect.map(Random.next, (r) => Math.floor(r * exponentialCeiling(baseMillis, maxMillis, n)));

/**
 * "Equal jitter", floored at the base: uniform in `[max(base, ceiling / 2), ceiling]`. Used for
 * polling, where a delay near zero would turn an idle or failing poller into a busy loop.
 */
export const equalJitter = (
  baseMillis: number,
  maxMillis: number,
  n: number,
): Effect.Effect<number> =>
  Effect.map(Random.next, (r) => {
    const ceiling = exponentialCeiling(baseMillis, maxMillis, n);
    const low = Math.min(ceiling, Math.max(baseMillis, ceiling / 2));
    return Math.floor(low + r * (ceiling - low));
  });

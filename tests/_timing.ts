/**
 * Real-time bounds for the tests that cannot run on the TestClock (subprocesses, DynamoDB Local,
 * Chromium). Such a bound is a hang guard: it turns a hang into a failure, and must never be what
 * decides whether a working system passes. So every one of them goes through `hangGuard`, which
 * multiplies it by `TIME_SCALE`:
 *
 * - `DYNAMOMQ_TIME_SCALE` when set (a positive number, e.g. `10` on a very slow machine);
 * - else 4 under `CI=true` or when the machine is busy (1-minute load average above its cores),
 *   as when two `.ci/run` share a 2-core machine;
 * - else 2.
 *
 * A test that waits for a condition should state how long it may take on an idle machine and let
 * the scale add the margin; a wait that can watch progress (`waitUntil`'s `progress`) fails only
 * when nothing moved for that long, however slow the machine.
 */

const positive = (text: string | undefined): number | undefined => {
  const n = Number(text);
  return text !== undefined && text.trim() !== "" && Number.isFinite(n) && n > 0 ? n : undefined;
};

const busy = (): boolean => {
  try {
    return Deno.loadavg()[0]! > (navigator.hardwareConcurrency || 1);
  } catch {
    return false; // No --allow-sys: assume idle.
  }
};

/** How much every real-time bound of the tests is stretched. */
export const TIME_SCALE: number = positive(Deno.env.get("DYNAMOMQ_TIME_SCALE")) ??
  (Deno.env.get("CI") === "true" || busy() ? 4 : 2);

/** A hang guard of `ms` on an idle machine, scaled by `TIME_SCALE`. */
export const hangGuard = (ms: number): number => Math.ceil(ms * TIME_SCALE);

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every `intervalMs` until it returns true. Fails with `what` (and `detail()`) once
 * `hangGuard(ms)` has passed — counted from the start, or, with `progress`, from the last time
 * `progress()` returned something new: a slow system that keeps moving is waited for.
 */
export const waitUntil = async (
  what: string,
  check: () => boolean | Promise<boolean>,
  options: {
    /** The bound on an idle machine (scaled by `hangGuard`). */
    readonly ms: number;
    readonly intervalMs?: number;
    /** A measure of progress (e.g. a count of events); any change restarts the bound. */
    readonly progress?: () => unknown;
    readonly detail?: () => string;
  },
): Promise<void> => {
  const bound = hangGuard(options.ms);
  let last = options.progress?.();
  let since = performance.now();
  while (!(await check())) {
    if (options.progress !== undefined) {
      const now = options.progress();
      if (!Object.is(now, last)) {
        last = now;
        since = performance.now();
      }
    }
    if (performance.now() - since > bound) {
      const how = options.progress === undefined ? "" : " without progress";
      throw new Error(
        `timed out after ${bound} ms${how} waiting for ${what} ` +
          `(DYNAMOMQ_TIME_SCALE ${TIME_SCALE}). ${options.detail?.() ?? ""}`,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
};

/** Races `promise` against `hangGuard(ms)`; on the guard, rejects with `what`. */
export const withHangGuard = async <A>(
  what: string,
  promise: Promise<A>,
  ms: number,
): Promise<A> => {
  const bound = hangGuard(ms);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `${what}: no result within ${bound} ms (DYNAMOMQ_TIME_SCALE ${TIME_SCALE})`,
              ),
            ),
          bound,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * `runMain` for Deno: runs the program's main effect, and on SIGINT or SIGTERM interrupts it so
 * that its finalizers run (a consumer's scope closing is its graceful shutdown). The exit code is
 * 0 on success or on interruption by a signal, 1 on failure. A second signal while shutting down
 * exits at once with 130 (SIGINT) or 143 (SIGTERM).
 *
 * Built on `@effect/platform`'s runtime-neutral `Runtime.makeRunMain`, as `@effect/platform-node`'s
 * own `runMain` is, with `Deno.addSignalListener` in place of `process.on`.
 *
 * Programs of your own should use `NodeRuntime.runMain` from `@effect/platform-node`, as
 * `produce.ts`, `consume.ts` and `http.ts` do: it works the same under Deno. This copy is kept for
 * the demo, whose cold start then fetches `@effect/platform` only instead of
 * `@effect/platform-node` and the ~30 packages it brings (`@effect/cluster`, `@effect/sql`, `ws`,
 * `undici`, `@parcel/watcher`, …), and for the test workers (`tests/_worker.ts`).
 */
import * as Runtime from "@effect/platform/Runtime";

type Signal = "SIGINT" | "SIGTERM";
const SIGNALS: ReadonlyArray<Signal> = ["SIGINT", "SIGTERM"];
const SIGNAL_CODES: Readonly<Record<Signal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Runs the main effect of a program; see the module comment. */
export const runMain: Runtime.RunMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  // Signal listeners do not keep Deno alive by themselves: a long-lived timer does, as in Node's
  // runMain, so a program waiting on nothing but a signal does not exit early.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
  let receivedSignal = false;
  const listeners = SIGNALS.map((signal) => {
    const listener = () => {
      if (receivedSignal) {
        // Second signal: the user wants out now, not after the graceful shutdown.
        Deno.exit(SIGNAL_CODES[signal]);
      }
      receivedSignal = true;
      fiber.unsafeInterruptAsFork(fiber.id());
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  fiber.addObserver((exit) => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    clearInterval(keepAlive);
    teardown(exit, (code) => {
      // Exit explicitly after a signal or a failure: open sockets or timers must not keep the
      // process up; on success let the event loop drain naturally.
      if (receivedSignal || code !== 0) Deno.exit(code);
    });
  });
});

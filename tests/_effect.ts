/**
 * Tiny equivalents of `@effect/vitest`'s `it.effect` / `it.scoped` / `it.live` for `Deno.test`.
 * A failing Exit is rethrown as the first pretty error so `deno test` shows the Effect cause.
 */
import { Cause, Effect, Exit, Layer, type Scope, TestContext } from "effect";

const run = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect);
  if (Exit.isSuccess(exit)) return exit.value;
  throw Cause.prettyErrors(exit.cause)[0] ?? new Error(Cause.pretty(exit.cause));
};

/** Runs an effect with the TestClock and other test services, in a scope. */
export const runTest = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope>,
): Promise<A> => run(effect.pipe(Effect.scoped, Effect.provide(TestContext.TestContext)));

/** Runs an effect with the live clock, in a scope. */
export const runLive = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  run(Effect.scoped(effect));

/** Runs an effect with TestClock and the given layer (built fresh for this run). */
export const runWith = <A, E, ROut, E2>(
  layer: Layer.Layer<ROut, E2>,
  effect: Effect.Effect<A, E, ROut | Scope.Scope>,
): Promise<A> =>
  run(
    effect.pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(layer, TestContext.TestContext)),
    ),
  );

/** As `runWith` but with the live clock. */
export const runLiveWith = <A, E, ROut, E2>(
  layer: Layer.Layer<ROut, E2>,
  effect: Effect.Effect<A, E, ROut | Scope.Scope>,
): Promise<A> => run(effect.pipe(Effect.scoped, Effect.provide(layer)));

/**
 * `Effect.withSpan` for the hot path, in half the runtime steps.
 *
 * `Effect.withSpan(name, options)` nests three wrappers: the span's end in an `onExit`, the span
 * provided as the parent with `provideService` (a `locally` of the context, itself an
 * `acquireUseRelease`), and the context read around it: about 35 steps of the fiber's run loop
 * per span, where a message goes through four spans (send, handle, settle, ack). This does the
 * same in one uninterruptible region (about 17): the span is made by `Effect.makeSpan` (the
 * tracer, parent, links, kind, attributes and span annotations exactly as `withSpan` makes them),
 * put in the context as the parent span while `self` runs, and ended with `self`'s exit once the
 * context is restored, whatever ends `self` (failure, defect, interruption).
 *
 * With `logAnnotations`, the same region also annotates the logs of `self`, as
 * `Effect.annotateLogs` would (another 25 steps on its own).
 *
 * Spans made here never capture a stack trace (`captureStackTrace: false`).
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Context from "effect/Context";
import * as Effect from "effect/Effect";
import * as FiberRef from "effect/FiberRef";
import * as HashMap from "effect/HashMap";
import * as Tracer from "effect/Tracer";

/** Options of a hot-path span: those of `Effect.withSpan`, never with a stack capture. */
export type HotSpanOptions = Omit<Tracer.SpanOptions, "captureStackTrace">;

const NO_TIME = BigInt(0);

/**
 * Runs `self` in a span named `name`: as `Effect.withSpan(name, { ...options,
 * captureStackTrace: false })`, with `logAnnotations` added to the logs of `self` if given.
 */
export const withSpan = (
  name: string,
  options: HotSpanOptions,
  logAnnotations?: Readonly<Record<string, unknown>>,
) => {
  const spanOptions: Tracer.SpanOptions = { ...options, captureStackTrace: false };
  return <A, E, R>(
    self: Effect.Effect<A, E, R>,
  ): Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Effect.makeSpan(name, spanOptions),
        (span) =>
          Effect.withFiberRuntime<A, E, R>((fiber) => {
            const context = fiber.currentContext;
            const annotations = fiber.getFiberRef(FiberRef.currentLogAnnotations);
            const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled);
            const clock = Context.get(fiber.currentDefaultServices, Clock.Clock);
            let annotated = annotations;
            if (logAnnotations !== undefined) {
              for (const key in logAnnotations) {
                annotated = HashMap.set(annotated, key, logAnnotations[key]);
              }
            }
            const enter = logAnnotations === undefined
              ? FiberRef.set(FiberRef.currentContext, Context.add(context, Tracer.ParentSpan, span))
              : Effect.zipRight(
                FiberRef.set(
                  FiberRef.currentContext,
                  Context.add(context, Tracer.ParentSpan, span),
                ),
                FiberRef.set(FiberRef.currentLogAnnotations, annotated),
              );
            const leave = logAnnotations === undefined
              ? FiberRef.set(FiberRef.currentContext, context)
              : Effect.zipRight(
                FiberRef.set(FiberRef.currentContext, context),
                FiberRef.set(FiberRef.currentLogAnnotations, annotations),
              );
            return enter.pipe(
              Effect.zipRight(Effect.exit(restore(self))),
              Effect.flatMap((exit) =>
                Effect.zipRight(
                  leave,
                  Effect.suspend(() => {
                    if (span.status._tag !== "Ended") {
                      span.end(timing ? clock.unsafeCurrentTimeNanos() : NO_TIME, exit);
                    }
                    return exit;
                  }),
                )
              ),
            );
          }),
      )
    ) as Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>>;
};

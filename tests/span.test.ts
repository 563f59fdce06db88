/**
 * The hot-path span (`src/internal/span.ts`) against `Effect.withSpan` (+ `Effect.annotateLogs`):
 * the same spans reach the tracer (name, parent, kind, attributes, links, span annotations,
 * times, exit) for a success, a failure, a defect and an interruption, the span is the parent of
 * what runs inside, the logs inside carry the annotations, and the context outside is untouched.
 */
import assert from "node:assert/strict";
import {
  Cause,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  HashMap,
  Layer,
  Logger,
  Option,
  TestClock,
  TestContext,
  Tracer,
} from "effect";
import { withSpan } from "../src/internal/span.ts";

interface Recorded {
  readonly name: string;
  readonly parent: string | undefined;
  readonly kind: string;
  readonly attributes: Record<string, unknown>;
  readonly links: ReadonlyArray<string>;
  readonly start: bigint;
  end?: bigint;
  exit?: string;
}

/** A tracer recording every span; span ids are their order of creation. */
const recording = () => {
  const spans: Array<Recorded> = [];
  const ids = new WeakMap<object, string>();
  const tracer = Tracer.make({
    span: (name, parent, _context, links, startTime, kind) => {
      const id = `s${spans.length}`;
      const record: Recorded = {
        name,
        parent: Option.match(parent, {
          onNone: () => undefined,
          onSome: (p) => p._tag === "Span" ? (ids.get(p) ?? p.spanId) : p.spanId,
        }),
        kind,
        attributes: {},
        links: links.map((l) => l.span.spanId),
        start: startTime,
      };
      spans.push(record);
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: id,
        traceId: "t",
        parent,
        context: _context,
        status: { _tag: "Started", startTime },
        attributes: new Map(),
        links,
        sampled: true,
        kind,
        end: (endTime, exit) => {
          record.end = endTime;
          record.exit = Exit.isSuccess(exit)
            ? `success ${String(exit.value)}`
            : Cause.isInterruptedOnly(exit.cause)
            ? "interrupted"
            : Cause.pretty(exit.cause).split("\n")[0]!;
          (span as { status: Tracer.SpanStatus }).status = {
            _tag: "Ended",
            startTime,
            endTime,
            exit,
          };
        },
        attribute: (key, value) => void (record.attributes[key] = value),
        event: () => {},
        addLinks: () => {},
      };
      ids.set(span, id);
      return span;
    },
    context: (f) => f(),
  });
  return { spans, tracer };
};

type Wrap = (
  name: string,
  options: Omit<Tracer.SpanOptions, "captureStackTrace">,
  logs?: Record<string, unknown>,
) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, Tracer.ParentSpan>>;

const effectWithSpan: Wrap = (name, options, logs) => (self) => {
  const spanned = Effect.withSpan(self, name, { ...options, captureStackTrace: false });
  return logs === undefined ? spanned : Effect.annotateLogs(spanned, logs);
};
const hotWithSpan: Wrap = withSpan;

/** What one scenario shows: the recorded spans, the logs, what the inner and outer effects saw. */
const observe = async (
  wrap: Wrap,
  body: Effect.Effect<string, string>,
  options: { readonly interrupt?: boolean; readonly tracing?: boolean } = {},
) => {
  const { spans, tracer } = recording();
  const logs: Array<string> = [];
  const logger = Logger.make(({ message, annotations }) => {
    logs.push(
      `${String(message)} ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}`,
    );
  });
  const seen: Array<string> = [];
  const program = Effect.gen(function* () {
    const inner = Effect.gen(function* () {
      seen.push(
        `inner parent ${Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))?.spanId}`,
      );
      yield* Effect.log("inside");
      yield* Effect.withSpan(Effect.void, "child");
      return yield* body;
    });
    const wrapped = wrap("hot", {
      kind: "consumer",
      attributes: { a: 1, b: "x" },
      links: [{
        _tag: "SpanLink",
        span: Tracer.externalSpan({ spanId: "L", traceId: "T" }),
        attributes: {},
      }],
    }, { messageId: "m1" })(inner);
    const outer = Effect.gen(function* () {
      yield* Effect.annotateCurrentSpan("outerKey", 1);
      const before = yield* FiberRef.get(FiberRef.currentContext);
      const fiber = yield* Effect.fork(wrapped);
      if (options.interrupt) {
        yield* TestClock.adjust("1 second");
        yield* Fiber.interrupt(fiber);
      }
      const exit = yield* Fiber.await(fiber);
      const after = yield* FiberRef.get(FiberRef.currentContext);
      seen.push(`context restored ${before === after}`);
      seen.push(
        `exit ${
          Exit.isSuccess(exit)
            ? exit.value
            : Cause.isInterruptedOnly(exit.cause)
            ? "interrupted"
            : "failed"
        }`,
      );
      yield* Effect.log("after");
    }).pipe(Effect.withSpan("outer"));
    yield* Effect.annotateSpans(outer, "envKey", "v");
  });
  await Effect.runPromise(
    program.pipe(
      Effect.withTracer(tracer),
      Effect.withTracerEnabled(options.tracing ?? true),
      Effect.provide(
        Layer.merge(Logger.replace(Logger.defaultLogger, logger), TestContext.TestContext),
      ),
    ),
  );
  return { spans, logs, seen };
};

const scenarios: ReadonlyArray<
  [string, Effect.Effect<string, string>, { interrupt?: boolean; tracing?: boolean }?]
> = [
  ["success", Effect.succeed("ok")],
  ["failure", Effect.fail("boom")],
  ["defect", Effect.die(new Error("bug"))],
  ["interruption", Effect.as(Effect.sleep("1 hour"), "late"), { interrupt: true }],
  ["tracing disabled", Effect.succeed("ok"), { tracing: false }],
];

for (const [label, body, options] of scenarios) {
  Deno.test(`hot span = Effect.withSpan + annotateLogs: ${label}`, async () => {
    const expected = await observe(effectWithSpan, body, options);
    const actual = await observe(hotWithSpan, body, options);
    assert.deepEqual(actual, expected);
    if (options?.tracing !== false) {
      const hot = actual.spans.find((s) => s.name === "hot")!;
      assert.equal(hot.kind, "consumer");
      assert.deepEqual(hot.links, ["L"]);
      assert.ok(hot.end !== undefined, "the span was ended");
      assert.equal(actual.spans.find((s) => s.name === "child")!.parent, "s1");
    }
  });
}

/**
 * One handler call: the lease of its messages from the claim to the settle.
 *
 * Invariants: from the claim to the settle everything is uninterruptible except the handler
 * itself, so no interruption can drop a claimed message; every message of the call is settled
 * exactly once, from the handler's `Exit`. The handler runs in the call's own fiber (no fiber of
 * its own: a fiber per message costs more than the rest of the call); the fibers it forked and
 * left running are interrupted when it ends, as they would be at the end of a fiber of its own;
 * a `FiberRef` it sets without scoping it stays set for the rest of its call. The leases are
 * registered with the consumer's one heartbeat fiber (`heartbeat.ts`) and removed from it (an
 * extension in flight ended) before any settle write. A lost lease interrupts the handler only
 * once every lease of the call is lost.
 *
 * Queue calls: through `heartbeat` (`changeVisibility`) and `settle` (`ack`, `nack`, `release`,
 * `deadLetter`); none of its own.
 */
import * as Cause from "effect/Cause";
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Fiber from "effect/Fiber";
import * as HashSet from "effect/HashSet";
import * as Tracer from "effect/Tracer";
import type { ReceivedMessage } from "../../schema/Message.ts";
import type { Outcome } from "../../services/Consumer.ts";
import { withSpan } from "../span.ts";
import { updateMetrics } from "./metrics.ts";
import { type CallFailure, ofCause, RELEASE } from "./outcome.ts";
import { settle } from "./settle.ts";
import type { Env, Lease } from "./state.ts";

/** How `run` and `runBatch` differ: the handler's signature and how its success reads. */
export interface Shape<A, X, E, R> {
  readonly operation: string;
  /** `undefined` for one message per call. */
  readonly batchSize: number | undefined;
  readonly invoke: (messages: ReadonlyArray<ReceivedMessage<A>>) => Effect.Effect<X, E, R>;
  /** One outcome per message, in order. */
  readonly onSuccess: (
    value: X,
    messages: ReadonlyArray<ReceivedMessage<A>>,
  ) => ReadonlyArray<Outcome>;
}

const TRACE_PARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The producer's span, from a W3C `traceparent`, as a link for the handle span. */
const producerLink = (traceParent: string | undefined): Array<Tracer.SpanLink> => {
  if (traceParent === undefined) return [];
  const match = TRACE_PARENT.exec(traceParent.trim().toLowerCase());
  if (match === null || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return [];
  const span = Tracer.externalSpan({
    traceId: match[1]!,
    spanId: match[2]!,
    sampled: (parseInt(match[3]!, 16) & 1) === 1,
  });
  return [{ _tag: "SpanLink", span, attributes: { "messaging.operation.type": "send" } }];
};

/** Handles `messages` (already claimed) and settles each of them. Never fails. */
export const call = <A, X, E, R>(
  env: Env<A, E>,
  shape: Shape<A, X, E, R>,
  messages: ReadonlyArray<ReceivedMessage<A>>,
): Effect.Effect<void, never, R> => {
  const config = env.settings;
  const leases: Array<Lease<A>> = messages.map((message) => ({ message, lost: undefined }));
  // This call's fiber while the handler runs in it; a lost lease interrupts it then.
  let running: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined;
  let interruptedForLostLease = false;
  let startedAt = 0;
  // A lost lease means someone else may be handling the message now: stop. A batch is stopped
  // only once it has lost every lease, so that one stolen message does not throw away the work
  // on the others.
  const onLost = Effect.suspend(() => {
    if (running === undefined || !leases.every((l) => l.lost !== undefined)) return Effect.void;
    interruptedForLostLease = true;
    return Fiber.interruptFork(running);
  });
  const handled = Effect.suspend(() => shape.invoke(messages)).pipe(
    Effect.mapError((error): CallFailure<E> => ({ _tag: "Handler", error })),
    (self) =>
      config.timeout === undefined ? self : Effect.timeoutFail(self, {
        duration: config.timeout,
        onTimeout: (): CallFailure<E> => ({ _tag: "Timeout" }),
      }),
  );
  // The handler runs in this fiber, the only interruptible part of the call, so that a lost
  // lease (from the heartbeat) and a shutdown (this fiber interrupted) can both stop it. As when
  // it had a fiber of its own, the fibers it forked and left running are interrupted (and
  // awaited) when it ends, before anything is settled.
  const runHandler: Effect.Effect<Exit.Exit<X, CallFailure<E>>, never, R> = Effect
    .withFiberRuntime((fiber) => {
      running = fiber;
      return Effect.exit(Effect.interruptible(handled)).pipe(
        Effect.tap(() => {
          running = undefined;
          return Effect.flatMap(
            Fiber.children(fiber),
            (left) => left.length === 0 ? Effect.void : Fiber.interruptAll(left),
          );
        }),
      );
    });
  // Whether this call was interrupted from outside (a shutdown past its deadline), rather than
  // by the handler itself or for a lost lease.
  const interruptedByUs = (exit: Exit.Exit<unknown, unknown>) =>
    Exit.isFailure(exit) && Cause.isInterrupted(exit.cause) && !interruptedForLostLease
      ? Effect.map(Effect.descriptor, (d) => HashSet.size(d.interruptors) > 0)
      : Effect.succeed(false);
  // Everything here but the handler is uninterruptible (the call is), so that from the claim to
  // the settle there is no point at which an interruption could drop a message.
  const leased: Effect.Effect<void, never, R> = Effect.gen(function* () {
    // The claim has happened; register the leases with the consumer's heartbeat.
    startedAt = yield* Clock.currentTimeMillis;
    const heartbeats = env.heartbeats;
    if (heartbeats !== undefined) {
      for (const lease of leases) yield* heartbeats.add(lease, startedAt, onLost);
    }
    const exit = yield* runHandler;
    // Stop the heartbeats first, so that no extension races the settle write or hides a message
    // again right after it was released; then settle every message.
    if (heartbeats !== undefined) {
      for (const lease of leases) yield* heartbeats.remove(lease);
    }
    const duration = (yield* Clock.currentTimeMillis) - startedAt;
    yield* updateMetrics((update) => update(env.metrics.handleDuration, duration));
    const byUs = yield* interruptedByUs(exit);
    const outcomes = Exit.isSuccess(exit)
      ? shape.onSuccess(exit.value, messages)
      : messages.map(() => ofCause(exit.cause, byUs, config));
    // One message (the common case): settle it in this fiber, without forking one.
    if (leases.length === 1) {
      return yield* settle(env, leases[0]!, outcomes[0] ?? RELEASE, duration);
    }
    yield* Effect.forEach(
      leases,
      (lease, i) => settle(env, lease, outcomes[i] ?? RELEASE, duration),
      { concurrency: "unbounded", discard: true },
    );
  });
  return leased.pipe(
    Effect.exit,
    Effect.asVoid,
    // The handle span, and the logs of everything under it annotated with the message id.
    withSpan(
      "DynamoMQ.handle",
      {
        kind: "consumer",
        root: true,
        links: messages.flatMap((m) => producerLink(m.traceParent)),
        attributes: {
          "messaging.system": "dynamomq",
          "messaging.operation.type": "process",
          "messaging.destination.name": env.name,
          "messaging.batch.message_count": messages.length,
          ...(messages.length === 1
            ? {
              "messaging.message.id": messages[0]!.id,
              "dynamomq.receives": messages[0]!.receives,
            }
            : {}),
        },
      },
      messages.length === 1 ? { messageId: messages[0]!.id } : { batch: messages.length },
    ),
    // Outermost: nothing between the fork and the lease may be interrupted. Only the handler
    // and the waits on it opt back in, explicitly.
    Effect.uninterruptible,
  );
};

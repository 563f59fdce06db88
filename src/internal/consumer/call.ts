/**
 * One handler call: the lease of its messages from the claim to the settle.
 *
 * Invariants: from the claim to the settle everything is uninterruptible except the handler
 * itself and the waits on it, so no interruption can drop a claimed message; every message of
 * the call is settled exactly once, from the handler's `Exit`. The leases are registered with the
 * consumer's one heartbeat fiber (`heartbeat.ts`) and removed from it (an extension in flight
 * ended) before any settle write. A lost lease interrupts the handler only once every lease of the call is lost.
 *
 * Queue calls: through `heartbeat` (`changeVisibility`) and `settle` (`ack`, `nack`, `release`,
 * `deadLetter`); none of its own.
 */
import * as Clock from "effect/Clock";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Fiber from "effect/Fiber";
import * as Metric from "effect/Metric";
import * as Tracer from "effect/Tracer";
import type { ReceivedMessage } from "../../schema/Message.ts";
import type { Outcome } from "../../services/Consumer.ts";
import { withSpan } from "../span.ts";
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
  let handlerFiber: Fiber.RuntimeFiber<X, CallFailure<E>> | undefined = undefined;
  let startedAt = 0;
  let interruptedByUs = false;
  // A lost lease means someone else may be handling the message now: stop. A batch is stopped
  // only once it has lost every lease, so that one stolen message does not throw away the work
  // on the others.
  const onLost = Effect.suspend(() =>
    leases.every((l) => l.lost !== undefined) && handlerFiber !== undefined
      ? Fiber.interruptFork(handlerFiber)
      : Effect.void
  );
  const handled = Effect.suspend(() => shape.invoke(messages)).pipe(
    Effect.mapError((error): CallFailure<E> => ({ _tag: "Handler", error })),
    (self) =>
      config.timeout === undefined ? self : Effect.timeoutFail(self, {
        duration: config.timeout,
        onTimeout: (): CallFailure<E> => ({ _tag: "Timeout" }),
      }),
  );
  // acquire → use → release, all uninterruptible except the handler itself, so that from the
  // claim to the settle there is no point at which an interruption could drop a message.
  const leased = Effect.acquireUseRelease(
    // acquire: the claim has happened; register the leases with the consumer's heartbeat.
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      startedAt = now;
      const heartbeats = env.heartbeats;
      if (heartbeats === undefined) return Effect.void;
      return leases.length === 1
        ? heartbeats.add(leases[0]!, now, onLost)
        : Effect.forEach(leases, (lease) => heartbeats.add(lease, now, onLost), { discard: true });
    }),
    // use: the handler runs in its own interruptible fiber, so that a lost lease (from the
    // heartbeat) and a shutdown (this fiber interrupted) can both stop it.
    () =>
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(Effect.interruptible(handled));
        handlerFiber = fiber;
        const awaited = yield* Effect.exit(Effect.interruptible(Fiber.await(fiber)));
        if (Exit.isSuccess(awaited)) return yield* awaited.value;
        // We are interrupted (shutdown past its deadline): interrupt the handler and settle
        // from its own Exit.
        interruptedByUs = true;
        return yield* yield* Fiber.interrupt(fiber);
      }),
    // release: stop the heartbeats first, so that no extension races the settle write or hides
    // a message again right after it was released; then settle every message.
    (_, exit) =>
      Effect.gen(function* () {
        const heartbeats = env.heartbeats;
        if (heartbeats !== undefined) {
          if (leases.length === 1) yield* heartbeats.remove(leases[0]!);
          else yield* Effect.forEach(leases, heartbeats.remove, { discard: true });
        }
        const duration = (yield* Clock.currentTimeMillis) - startedAt;
        yield* Metric.update(env.metrics.handleDuration, duration);
        const outcomes = Exit.isSuccess(exit)
          ? shape.onSuccess(exit.value, messages)
          : messages.map(() => ofCause(exit.cause, interruptedByUs, config));
        // One message (the common case): settle it in this fiber, without forking one.
        if (leases.length === 1) {
          return yield* settle(env, leases[0]!, outcomes[0] ?? RELEASE, duration);
        }
        yield* Effect.forEach(
          leases,
          (lease, i) => settle(env, lease, outcomes[i] ?? RELEASE, duration),
          { concurrency: "unbounded", discard: true },
        );
      }),
  );
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

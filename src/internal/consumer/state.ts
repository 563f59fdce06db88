/**
 * The state of one running consumer and the environment its modules share (queue, settings,
 * tagged metrics, event sink, handler fiber set).
 *
 * Invariants: `ConsumerState` is plain mutable data, and every change to it happens inside one
 * synchronous step, so no fiber can observe (or interleave with) a half-made change. `busy`
 * counts running handler calls and `inFlight` their messages; the `capacity` latch is open
 * exactly while `busy < concurrency`. `intake` only ever goes from "open" to "closed", and
 * `stopped` is set once, when the `Stopped` event is published. Makes no Queue or DynamoDB calls.
 */
import type * as Effect from "effect/Effect";
import type * as FiberSet from "effect/FiberSet";
import type { DynamoDBError, LeaseLost } from "../../Errors.ts";
import type { ReceivedMessage } from "../../schema/Message.ts";
import type { ConsumerEvent, StoppedEvent } from "../../services/Consumer.ts";
import type { Queue } from "../../services/Queue.ts";
import type { Heartbeats } from "./heartbeat.ts";
import type { Metrics } from "./metrics.ts";
import type { Settings } from "./settings.ts";

/** The annotations of every consumer log line (plus `queue`). */
export const LOG_ANNOTATIONS = { package: "@dynamomq/dynamomq", module: "Consumer" } as const;

/**
 * Everything about a running consumer that changes, in one record: the poller, the handler
 * calls, `stop` and `inFlight` all read and write these fields, so they are kept in one place.
 */
export interface ConsumerState {
  /**
   * "closed" from the moment a stop is asked for: nothing new is claimed, a receive already in
   * flight releases what it got, and a second `stop` only waits.
   */
  intake: "open" | "closed";
  /** Handler calls running (a batch is one call). */
  busy: number;
  /** Messages claimed and not yet settled. */
  inFlight: number;
  /** The last event, once published; later subscribers get only it. */
  stopped: StoppedEvent | undefined;
}

/** One message held by a handler call. */
export interface Lease<A> {
  readonly message: ReceivedMessage<A>;
  /** Set when the heartbeat found that another receive has the message now. */
  lost: LeaseLost | undefined;
}

/** What the poller, the handler calls, settle and the shutdown of one consumer share. */
export interface Env<A, E> {
  readonly queue: Queue<A>;
  /** The queue's name, for events, metrics and logs. */
  readonly name: string;
  readonly settings: Settings<E>;
  readonly metrics: Metrics;
  readonly state: ConsumerState;
  /** Open while some handler slot is idle; the poller waits on it before claiming. */
  readonly capacity: Effect.Latch;
  /**
   * Handler calls run as daemons in this set, not as children of the poll fiber: stopping the
   * poller must not take in-flight handlers down with it.
   */
  readonly calls: FiberSet.FiberSet<void, never>;
  /** The consumer's heartbeat (one fiber for all its leases); `undefined`: no heartbeat. */
  readonly heartbeats: Heartbeats<A> | undefined;
  readonly emit: (event: ConsumerEvent) => Effect.Effect<void>;
}

export const makeState = (): ConsumerState => ({
  intake: "open",
  busy: 0,
  inFlight: 0,
  stopped: undefined,
});

/** A handler call with `messages` messages starts; closes the latch when no slot is left. */
export const takeSlot = <A, E>(env: Env<A, E>, messages: number): void => {
  env.state.busy += 1;
  env.state.inFlight += messages;
  if (env.state.busy >= env.settings.concurrency) env.capacity.unsafeClose();
};

/** A handler call with `messages` messages has settled them all. */
export const freeSlot = <A, E>(env: Env<A, E>, messages: number): void => {
  env.state.busy -= 1;
  env.state.inFlight -= messages;
  env.capacity.unsafeOpen();
};

export const isTransient = (error: { readonly _tag: string }): boolean =>
  error._tag === "DynamoDBError" && (error as DynamoDBError).retryable;

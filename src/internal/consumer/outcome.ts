/**
 * What happens to a message once its handler call is over, as one `Outcome` (the public type of
 * `services/Consumer.ts`): how a call's `Exit` becomes an outcome per message, and the defaults
 * an outcome from user code leaves out.
 *
 * Invariants: every outcome that leaves here for `settle` says why (a `Retry` has its `error`, a
 * `DeadLetter` its `reason`); a handler's own interruption is a failure, and only an
 * interruption by the consumer becomes `Release`. Pure functions: no Queue or DynamoDB calls,
 * no clock.
 */
import * as Cause from "effect/Cause";
import * as Duration from "effect/Duration";
import * as Option from "effect/Option";
import { DeadLetterNow, RetryAfter } from "../../Errors.ts";
import type { Outcome } from "../../services/Consumer.ts";
import type { FailureInfo } from "../../services/Queue.ts";
import type { Settings } from "./settings.ts";

export const ACK: Outcome = { _tag: "Ack" };
export const RELEASE: Outcome = { _tag: "Release" };

/** A retry; absent fields are left out rather than set to `undefined`, as users write them. */
export const retry = (
  delay: Duration.DurationInput | undefined,
  error: FailureInfo | undefined,
): Outcome => {
  const outcome: { _tag: "Retry"; delay?: Duration.DurationInput; error?: FailureInfo } = {
    _tag: "Retry",
  };
  if (delay !== undefined) outcome.delay = delay;
  if (error !== undefined) outcome.error = error;
  return outcome;
};

export const deadLetter = (reason: FailureInfo | undefined): Outcome =>
  reason === undefined ? { _tag: "DeadLetter" } : { _tag: "DeadLetter", reason };

/** Fills in the failure an outcome leaves out, so that what is recorded always says why. */
export const explain = (outcome: Outcome, why: FailureInfo): Outcome => {
  switch (outcome._tag) {
    case "Retry":
      return outcome.error === undefined ? retry(outcome.delay, why) : outcome;
    case "DeadLetter":
      return outcome.reason === undefined ? deadLetter(why) : outcome;
    default:
      return outcome;
  }
};

/**
 * The delay of a retry, or `undefined` for the consumer's backoff. A delay from user code that is
 * not a finite, non-negative duration falls back to the backoff rather than failing the nack
 * (which would strand the message until its lease expired).
 */
export const retryDelay = (
  delay: Duration.DurationInput | undefined,
): Duration.Duration | undefined => {
  const decoded = delay === undefined ? Option.none() : Duration.decodeUnknown(delay);
  return Option.isSome(decoded) && Duration.isFinite(decoded.value) &&
      Duration.toMillis(decoded.value) >= 0
    ? decoded.value
    : undefined;
};

/** An error's tag and message for the attempt history (never the payload). */
export const describe = (error: unknown): FailureInfo => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : "Error";
    const message = "message" in error && typeof error.message === "string"
      ? error.message
      : String(error);
    return { tag, message };
  }
  return { tag: "Error", message: String(error) };
};

/**
 * The outcomes a batch handler returned, one per message, in order. A missing one is a failure;
 * one that is no outcome at all (from untyped code) releases its message.
 */
export const ofBatch = (
  outcomes: ReadonlyArray<Outcome>,
  count: number,
): ReadonlyArray<Outcome> =>
  Array.from({ length: count }, (_, i): Outcome => {
    const outcome = outcomes[i];
    if (outcome === undefined) {
      return retry(undefined, {
        tag: "MissingOutcome",
        message: `the batch handler returned ${outcomes.length} outcomes for ${count} messages`,
      });
    }
    switch (outcome._tag) {
      case "Ack":
      case "Release":
        return outcome;
      case "Retry":
        return explain(outcome, { tag: "Retry", message: "the batch handler asked for a retry" });
      case "DeadLetter":
        return explain(outcome, {
          tag: "DeadLetter",
          message: "the batch handler dead-lettered it",
        });
      default:
        return RELEASE;
    }
  });

/** A handler call's failure: the user's typed error, or our timeout. */
export type CallFailure<E> =
  | { readonly _tag: "Handler"; readonly error: E }
  | { readonly _tag: "Timeout" };

/** The outcome of a typed handler error: `RetryAfter`, `DeadLetterNow`, else `classify`. */
const ofError = <E>(error: E, settings: Settings<E>): Outcome => {
  if (error instanceof RetryAfter) return retry(error.delay, describe(error));
  if (error instanceof DeadLetterNow) return deadLetter(describe(error));
  if (settings.classify === undefined) return retry(undefined, describe(error));
  let outcome: Outcome;
  try {
    outcome = settings.classify(error);
  } catch (defect) {
    // A throwing classifier must not lose the message: fall back to the default.
    return retry(undefined, {
      tag: "Defect",
      message: `classify threw: ${describe(defect).message}`,
    });
  }
  switch (outcome._tag) {
    case "Ack":
    case "Release":
      return outcome;
    case "Retry":
      return explain(outcome, describe(error));
    default:
      // Anything else comes from untyped code: dead-letter it, which keeps it for inspection.
      return deadLetter((outcome as { readonly reason?: FailureInfo }).reason ?? describe(error));
  }
};

/** Turns a failed call into an outcome: typed error, defect, timeout, or interruption. */
export const ofCause = <E>(
  cause: Cause.Cause<CallFailure<E>>,
  interruptedByUs: boolean,
  settings: Settings<E>,
): Outcome => {
  const failure = Cause.failureOption(cause);
  if (Option.isSome(failure)) {
    const f = failure.value;
    return f._tag === "Timeout"
      ? retry(undefined, {
        tag: "HandlerTimeout",
        message: `the handler did not finish within ${Duration.format(settings.timeout!)}`,
      })
      : ofError(f.error, settings);
  }
  const defect = Cause.dieOption(cause);
  if (Option.isSome(defect)) {
    return retry(undefined, { tag: "Defect", message: describe(defect.value).message });
  }
  // Interrupted only. When we interrupted it (shutdown), hand the message back without counting
  // the receive. When the handler interrupted itself, that is its failure: a release would hand
  // the message straight back to a handler that does it again, a hot loop that no receive count
  // would ever end.
  return interruptedByUs
    ? RELEASE
    : retry(undefined, { tag: "Interrupted", message: "the handler was interrupted" });
};

/**
 * The consumer's metric definitions, and the same metrics tagged with one queue's name.
 * `services/Consumer.ts` re-exports the definitions with their public docs; they live here so
 * that the internal modules can update them without importing the public module at run time.
 *
 * Invariants: every update goes through the tagged set of {@linkcode forQueue}, so each series
 * carries `queue`. Makes no Queue or DynamoDB calls.
 */
import * as Effect from "effect/Effect";
import * as FiberRef from "effect/FiberRef";
import * as Metric from "effect/Metric";
import * as MetricBoundaries from "effect/MetricBoundaries";

export const receivedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_received_total",
  { description: "Messages claimed by consumers", incremental: true },
);

export const succeededTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_succeeded_total",
  { description: "Messages handled successfully and deleted", incremental: true },
);

export const failedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_failed_total",
  { description: "Messages whose handler failed", incremental: true },
);

export const retriedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_retried_total",
  { description: "Messages handed back to be retried", incremental: true },
);

export const deadLetteredTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_dead_lettered_total",
  { description: "Messages moved to the dead-letter queue", incremental: true },
);

export const leaseLostTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_lease_lost_total",
  { description: "Messages whose lease was lost while they were handled", incremental: true },
);

export const pollFailedTotal: Metric.Metric.Counter<number> = Metric.counter(
  "dynamomq_poll_failed_total",
  { description: "Receives that failed", incremental: true },
);

export const handleDuration: Metric.Metric.Histogram<number> = Metric.histogram(
  "dynamomq_handle_duration",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 20 }),
  "Handler call duration in milliseconds",
);

export const queueLag: Metric.Metric.Histogram<number> = Metric.histogram(
  "dynamomq_queue_lag",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 25 }),
  "Time from send to receive in milliseconds",
);

/** The metrics of one consumer, each tagged with its queue's name. */
export interface Metrics {
  readonly received: Metric.Metric.Counter<number>;
  readonly succeeded: Metric.Metric.Counter<number>;
  readonly failed: Metric.Metric.Counter<number>;
  readonly retried: Metric.Metric.Counter<number>;
  readonly deadLettered: Metric.Metric.Counter<number>;
  readonly leaseLost: Metric.Metric.Counter<number>;
  readonly pollFailed: Metric.Metric.Counter<number>;
  readonly handleDuration: Metric.Metric.Histogram<number>;
  readonly queueLag: Metric.Metric.Histogram<number>;
}

export const forQueue = (name: string): Metrics => {
  const counter = (metric: Metric.Metric.Counter<number>): Metric.Metric.Counter<number> =>
    Metric.tagged(metric, "queue", name);
  const histogram = (metric: Metric.Metric.Histogram<number>): Metric.Metric.Histogram<number> =>
    Metric.tagged(metric, "queue", name);
  return {
    received: counter(receivedTotal),
    succeeded: counter(succeededTotal),
    failed: counter(failedTotal),
    retried: counter(retriedTotal),
    deadLettered: counter(deadLetteredTotal),
    leaseLost: counter(leaseLostTotal),
    pollFailed: counter(pollFailedTotal),
    handleDuration: histogram(handleDuration),
    queueLag: histogram(queueLag),
  };
};

/**
 * Updates several metrics in one step of the fiber: `update(metric, input)` does what
 * `Metric.update(metric, input)` does (`Metric.increment` is an update by 1), the fiber's metric
 * labels read once for all of them.
 */
export const updateMetrics = (
  f: (update: <T, In, Out>(metric: Metric.Metric<T, In, Out>, input: In) => void) => void,
): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const labels = fiber.getFiberRef(FiberRef.currentMetricLabels);
    f((metric, input) => metric.unsafeUpdate(input, labels));
    return Effect.void;
  });

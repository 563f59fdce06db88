/**
 * The benchmark scenarios, each an Effect over the `DynamoDB` port:
 *
 * - `ceiling`: raw conditional put / update / delete round trips per second at a concurrency,
 *   with items shaped like queue messages in the same table (so index upkeep is included);
 * - `endToEnd`: a producer sending N messages (one by one, or in batches) while a `Consumer` at a
 *   concurrency handles them: messages/s, send-to-handler-start latency, peak RSS;
 * - `cost`: requests and capacity units per message for the happy path and per retry;
 * - `heat`: the share of index writes landing on the hottest index partition key per `shards`.
 */
import { Deferred, Duration, Effect, Exit, Schema } from "effect";
import * as DynamoDBMetered from "../src/layers/DynamoDBMetered.ts";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import * as Consumer from "../src/services/Consumer.ts";
import { and, DynamoDB, eq, type Item, notExists, operations } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { itemSize } from "../src/internal/itemSize.ts";
import { indexSortKey, leaseToken, messageKey, sortableId } from "../src/internal/keys.ts";
import { type CapacityCounts, hottest, meterCapacity } from "./capacity.ts";
import { emptyReported, type ReportedCapacity } from "./client.ts";

/** The table every scenario uses. */
export const TABLE = "dynamomq-bench";

let queueCounter = 0;
/** A queue name unique in this process run, so runs never see each other's messages. */
export const freshName = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${(queueCounter++).toString(36)}`;

/** Creates the benchmark table if it is not there. */
export const ensureTable: Effect.Effect<void, unknown, DynamoDB> = Effect.asVoid(
  Table.create(TABLE),
);

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/** The q-quantile (0..1) of numbers, nearest rank on the sorted values. */
export const quantile = (values: ArrayLike<number>, q: number): number => {
  if (values.length === 0) return NaN;
  const sorted = Array.from(values).sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
};

/** The median of numbers. */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Samples this process's RSS until stopped; returns the peak in MB. */
export const rssSampler = (): { readonly stop: () => number } => {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => {
    const rss = Deno.memoryUsage().rss;
    if (rss > peak) peak = rss;
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, Deno.memoryUsage().rss);
      return peak / (1024 * 1024);
    },
  };
};

const elapsedSeconds = (since: number) => (performance.now() - since) / 1000;

// ---------------------------------------------------------------------------------------------
// Raw ceiling
// ---------------------------------------------------------------------------------------------

/** Raw single-write round trips per second at one concurrency. */
export interface CeilingResult {
  readonly concurrency: number;
  readonly put: number;
  readonly update: number;
  readonly delete: number;
  /** Raw writes per second, the three kinds interleaved. */
  readonly writes: number;
  /** The queue's ceiling: put + update + delete lifecycles per second, i.e. `writes / 3`. */
  readonly queueCeiling: number;
}

/** A message-shaped item, as `Queue.send` writes it (without a trace). */
const messageItem = (queue: string, id: string, t: number, payload: string): Item => {
  const home = `${queue}#0`;
  return {
    ...messageKey(queue, id),
    queue,
    id,
    state: "ready",
    home,
    gpk: home,
    gsk: indexSortKey(t, id),
    visibleAt: t,
    sentAt: t,
    updatedAt: t,
    receives: 0,
    attempts: [],
    priority: 0,
    enc: "json",
    payload,
  };
};

/**
 * Raw conditional writes of message-shaped items, in the queue's own pattern: each of
 * `concurrency` workers loops put (`attribute_not_exists`) → update (a claim: conditioned on the
 * index key, which it moves) → delete (conditioned on the lease) of one item, for `seconds`.
 * Interleaving the three keeps them under the same conditions (a busy machine's bursts hit all
 * three alike). Each operation's rate is `concurrency / its mean latency`; the lifecycles per
 * second are the queue's ceiling: 3 writes per message, no query, no consumer.
 */
export const ceiling = (
  options: { readonly concurrency: number; readonly seconds: number; readonly payload: string },
): Effect.Effect<CeilingResult, unknown, DynamoDB> =>
  Effect.gen(function* () {
    const db = yield* DynamoDB;
    const queue = freshName("raw");
    const home = `${queue}#0`;
    const spent = { put: 0, update: 0, delete: 0 };
    let lifecycles = 0;
    let next = 0;
    const timed = <A, E>(op: keyof typeof spent, effect: Effect.Effect<A, E>) =>
      Effect.suspend(() => {
        const t = performance.now();
        return Effect.tap(effect, () => void (spent[op] += performance.now() - t));
      });
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    const worker = Effect.gen(function* () {
      while (performance.now() < deadline) {
        const t0 = Date.now();
        const id = sortableId(t0 + next++);
        const key = messageKey(queue, id);
        yield* timed(
          "put",
          db.put(TABLE, messageItem(queue, id, t0, options.payload), {
            condition: notExists("pk"),
          }),
        );
        const lease = leaseToken();
        const t = Date.now();
        yield* timed(
          "update",
          db.update(TABLE, key, {
            set: {
              state: "inflight",
              lease,
              gsk: indexSortKey(t + 30_000, id),
              visibleAt: t + 30_000,
              updatedAt: t,
            },
            add: { receives: 1 },
          }, {
            condition: and(eq("gpk", home), eq("gsk", indexSortKey(t0, id)), eq("receives", 0)),
          }),
        );
        yield* timed(
          "delete",
          db.delete(TABLE, key, { condition: and(eq("lease", lease), eq("state", "inflight")) }),
        );
        lifecycles += 1;
      }
    });
    yield* Effect.forEach(Array.from({ length: options.concurrency }), () => worker, {
      concurrency: "unbounded",
      discard: true,
    });
    const rate = lifecycles / elapsedSeconds(started);
    const perOp = (ms: number) => options.concurrency / (ms / lifecycles / 1000);
    return {
      concurrency: options.concurrency,
      put: perOp(spent.put),
      update: perOp(spent.update),
      delete: perOp(spent.delete),
      writes: 3 * rate,
      queueCeiling: rate,
    };
  });

// ---------------------------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------------------------

/** One end-to-end run. */
export interface EndToEndResult {
  readonly mode: "single" | "batch";
  readonly concurrency: number;
  readonly messages: number;
  /** Messages per second from the first send to the last ack. */
  readonly throughput: number;
  /** Send (the message's `sentAt`) to handler start, in ms. */
  readonly p50: number;
  readonly p99: number;
  /** Peak RSS of the benchmark process (producer + consumer), MB. */
  readonly rssMB: number;
  /** DynamoDB requests per message, empty polls included. */
  readonly requestsPerMessage: number;
  /**
   * Send-to-handler-start latency when the producer sends at a steady `pacedRate` (half the
   * saturated throughput), so that no backlog builds: the queue's own delay. Single sends only.
   */
  /**
   * Throughput over the queue ceiling measured just before it, in the same run: pairing them
   * keeps a busy machine's drift between runs out of the ratio.
   */
  readonly ratio?: number | undefined;
  /** Every run's `ratio`, when this is a median over runs. */
  readonly ratios?: ReadonlyArray<number> | undefined;
  readonly pacedRate?: number | undefined;
  readonly pacedP50?: number | undefined;
  readonly pacedP99?: number | undefined;
}

/**
 * A producer sends `messages` messages (one `send` each with `concurrency` in flight, or
 * `sendBatch` of 100 — four BatchWriteItem requests in parallel) while a `Consumer` with
 * `concurrency` handler slots handles them with a no-op handler. Ends when every message has been
 * handled and acked.
 */
export const endToEnd = (
  options: {
    readonly mode: "single" | "batch";
    readonly concurrency: number;
    readonly messages: number;
    readonly payload: string;
    /** Send one message every 1/rate seconds instead of as fast as possible (single mode). */
    readonly rate?: number | undefined;
  },
): Effect.Effect<EndToEndResult, unknown, DynamoDB> =>
  Effect.gen(function* () {
    const metered = yield* DynamoDBMetered.make(yield* DynamoDB);
    const queue = yield* Queue.make({
      table: TABLE,
      name: freshName(`e2e-${options.mode}-${options.concurrency}`),
      schema: Schema.String,
      compressAbove: false,
    }).pipe(Effect.provideService(DynamoDB, metered.service));
    const n = options.messages;
    const latencies = new Float64Array(n);
    const seen = new Set<string>();
    const allStarted = yield* Deferred.make<void>();
    const sampler = rssSampler();
    const started = performance.now();
    const ended = yield* Effect.scoped(Effect.gen(function* () {
      const consumer = yield* Consumer.run(queue, (message) =>
        Effect.sync(() => {
          if (seen.has(message.id)) return;
          latencies[seen.size] = Date.now() - message.sentAt;
          seen.add(message.id);
          if (seen.size === n) Deferred.unsafeDone(allStarted, Exit.void);
        }), {
        concurrency: options.concurrency,
        // Poll an empty queue every 10-100 ms rather than backing off to 5 s: the producer starts
        // at the same moment, and an idle consumer's back-off would be measured, not the queue.
        poll: { min: "10 millis", max: "100 millis" },
      });
      const rate = options.rate;
      const produce = rate !== undefined
        ? Effect.forEach(
          Array.from({ length: n }, (_, i) => started + (i * 1000) / rate),
          (at) =>
            Effect.zipRight(
              Effect.sleep(Duration.millis(Math.max(0, at - performance.now()))),
              queue.send(options.payload),
            ),
          { concurrency: "unbounded", discard: true },
        )
        : options.mode === "single"
        ? Effect.forEach(
          Array.from({ length: n }),
          () => queue.send(options.payload),
          { concurrency: options.concurrency, discard: true },
        )
        : Effect.forEach(
          Array.from({ length: Math.ceil(n / 100) }, (_, i) => Math.min(100, n - i * 100)),
          (size) =>
            Effect.flatMap(
              queue.sendBatch(Array.from({ length: size }, () => ({ body: options.payload }))),
              (results) =>
                results.every((r) => r._tag === "Right")
                  ? Effect.void
                  : Effect.fail(new Error("a batch send failed")),
            ),
          { discard: true },
        );
      yield* produce;
      yield* Deferred.await(allStarted);
      // Every handler has started; wait for their acks to be written.
      while ((yield* consumer.inFlight) > 0) yield* Effect.sleep("1 millis");
      return performance.now();
    }));
    const rssMB = sampler.stop();
    const requests = (yield* metered.meter.snapshot).total;
    return {
      mode: options.mode,
      concurrency: options.concurrency,
      messages: n,
      throughput: n / ((ended - started) / 1000),
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      rssMB,
      requestsPerMessage: requests / n,
    };
  });

// ---------------------------------------------------------------------------------------------
// Cost per message
// ---------------------------------------------------------------------------------------------

/** What one cost scenario consumed, per message. */
export interface CostRow {
  readonly scenario: string;
  readonly requests: number;
  readonly requestsByOp: string;
  readonly tableWCU: number;
  readonly indexWCU: number;
  readonly rcu: number;
  /** As reported by the server (ReturnConsumedCapacity), per message; absent when not asked. */
  readonly reported?: ReportedCapacity | undefined;
}

/** The payload sizes the cost scenarios use. */
export interface PayloadSize {
  readonly label: string;
  readonly payload: string;
  /** The largest size the message item reaches (after the claim adds a lease), bytes. */
  readonly itemBytes: number;
}

const body = (bytes: number) => "x".repeat(Math.max(0, bytes));

/** The size of a claimed message item whose JSON payload is `payload` (measured on the memory layer). */
export const claimedItemBytes = (payload: string): Effect.Effect<number, unknown> =>
  Effect.gen(function* () {
    yield* Table.create(TABLE);
    const db = yield* DynamoDB;
    // The queue name is in the item four times: probe with a name as long as the cost runs use.
    const name = freshName("cost");
    const queue = yield* Queue.make({
      table: TABLE,
      name,
      schema: Schema.String,
      compressAbove: false,
    });
    yield* queue.send(payload);
    const [message] = (yield* queue.receive()).messages;
    const item = yield* db.get(TABLE, messageKey(name, message!.id));
    return itemSize(item!);
  }).pipe(Effect.provide(layerMemory));

/**
 * The payload sizes of the cost table: a body that makes the whole item just fit in 1 KB (the
 * Go library's "1 KB message" assumption), a 1 KiB body and a 16 KiB body.
 */
export const payloadSizes: Effect.Effect<ReadonlyArray<PayloadSize>, unknown> = Effect.gen(
  function* () {
    // The body is a JSON string: two quote characters more than the text.
    const empty = yield* claimedItemBytes(JSON.stringify(""));
    // Slack for a longer queue name (a counter digit more) and timestamps growing a byte.
    const fits = 1024 - empty - 16;
    const sizes: Array<PayloadSize> = [];
    for (
      const [label, text] of [
        ["1 KB item", body(fits)],
        ["1 KiB body", body(1024)],
        ["16 KiB body", body(16 * 1024)],
      ] as const
    ) {
      sizes.push({
        label,
        payload: text,
        itemBytes: yield* claimedItemBytes(JSON.stringify(text)),
      });
    }
    return sizes;
  },
);

const perMessage = (
  scenario: string,
  n: number,
  requests: DynamoDBMetered.Counts,
  units: CapacityCounts,
  reported: ReportedCapacity | undefined,
): CostRow => ({
  scenario,
  requests: requests.total / n,
  requestsByOp: operations
    .filter((op) => requests.requests[op] > 0)
    .map((op) => `${op} ${+(requests.requests[op] / n).toFixed(3)}`)
    .join(", "),
  tableWCU: units.tableWriteUnits / n,
  indexWCU: units.indexWriteUnits / n,
  rcu: (units.tableReadUnits + units.indexReadUnits) / n,
  reported: reported === undefined ? undefined : {
    tableWrite: reported.tableWrite / n,
    indexWrite: reported.indexWrite / n,
    tableRead: reported.tableRead / n,
    indexRead: reported.indexRead / n,
    responses: reported.responses,
  },
});

/** The scenarios of the cost table, in order. */
export const COST_SCENARIOS = [
  "send, receive(max 1), ack",
  "send, receive(max 10), ack",
  "sendBatch, receive(max 25), ackBatch",
  "send, receive(max 10), nack, receive(max 10), ack",
  "what-if: sendBatch, receive(max 25), unfenced BatchWriteItem delete",
  "sendBatch, receive(max 25), ackBatch({ transaction: true })",
] as const;

/**
 * Sends `n` messages and takes them through one lifecycle, metered: requests (through
 * `DynamoDBMetered`), capacity units computed from item sizes (`meterCapacity`) and, when
 * `reported` is given, the units the server reported for the same requests.
 */
export const cost = (
  options: {
    readonly n: number;
    readonly payload: string;
    readonly transactions: boolean;
    readonly reported?: ReportedCapacity | undefined;
  },
): Effect.Effect<ReadonlyArray<CostRow>, unknown, DynamoDB> =>
  Effect.gen(function* () {
    const capacity = meterCapacity(yield* DynamoDB);
    const metered = yield* DynamoDBMetered.make(capacity.service);
    const db = metered.service;
    const n = options.n;
    const rows: Array<CostRow> = [];

    const run = (
      scenario: string,
      body: (queue: Queue.Queue<string>) => Effect.Effect<void, unknown>,
    ) =>
      Effect.gen(function* () {
        const name = freshName("cost");
        const queue = yield* Queue.make({
          table: TABLE,
          name,
          schema: Schema.String,
          compressAbove: false,
        }).pipe(Effect.provideService(DynamoDB, db));
        // A handle's first request also writes the queue's catalog item, once: a receive from
        // the empty queue does that here, so the figures are per message and nothing else.
        yield* queue.receive();
        capacity.reset();
        yield* metered.meter.reset;
        const reported = options.reported;
        if (reported !== undefined) Object.assign(reported, emptyReported());
        yield* body(queue);
        rows.push(
          perMessage(
            scenario,
            n,
            yield* metered.meter.snapshot,
            capacity.snapshot(),
            reported === undefined ? undefined : { ...reported },
          ),
        );
      });

    const sendEach = (queue: Queue.Queue<string>) =>
      Effect.forEach(Array.from({ length: n }), () => queue.send(options.payload), {
        discard: true,
      });
    const sendBatched = (queue: Queue.Queue<string>) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(n / 25) }, (_, i) => Math.min(25, n - i * 25)),
        (size) =>
          Effect.flatMap(
            queue.sendBatch(Array.from({ length: size }, () => ({ body: options.payload }))),
            (rs) => rs.every((r) => r._tag === "Right") ? Effect.void : Effect.fail("send failed"),
          ),
        { discard: true },
      );
    /** Receives until `n` messages came, handing each page to `settle`. */
    const drain = (
      queue: Queue.Queue<string>,
      max: number,
      settle: (ms: ReadonlyArray<Queue.ReceiveResult<string>["messages"][number]>) => Effect.Effect<
        void,
        unknown
      >,
    ) =>
      Effect.gen(function* () {
        let got = 0;
        let empty = 0;
        while (got < n) {
          const { messages } = yield* queue.receive({ max: Math.min(max, n - got) });
          if (messages.length === 0) {
            // Index queries are eventually consistent on DynamoDB Local too: a fresh write may
            // take a moment to show. Give up only after a long dry spell.
            if (++empty > 200) return yield* Effect.fail(new Error(`only ${got} of ${n} came`));
            yield* Effect.sleep("5 millis");
            continue;
          }
          got += messages.length;
          yield* settle(messages);
        }
      });
    const ackEach =
      (queue: Queue.Queue<string>) =>
      (ms: ReadonlyArray<Queue.ReceiveResult<string>["messages"][number]>) =>
        Effect.forEach(ms, (m) => queue.ack(m), { discard: true });
    const ackBatch =
      (queue: Queue.Queue<string>) =>
      (ms: ReadonlyArray<Queue.ReceiveResult<string>["messages"][number]>) =>
        Effect.flatMap(
          queue.ackBatch(ms),
          (rs) => rs.every((r) => r._tag === "Right") ? Effect.void : Effect.fail("ack failed"),
        );

    yield* run(COST_SCENARIOS[0], (q) => Effect.zipRight(sendEach(q), drain(q, 1, ackEach(q))));
    yield* run(COST_SCENARIOS[1], (q) => Effect.zipRight(sendEach(q), drain(q, 10, ackEach(q))));
    yield* run(
      COST_SCENARIOS[2],
      (q) => Effect.zipRight(sendBatched(q), drain(q, 25, ackBatch(q))),
    );
    yield* run(COST_SCENARIOS[3], (q) =>
      Effect.gen(function* () {
        yield* sendEach(q);
        yield* drain(q, 10, (ms) =>
          Effect.flatMap(
            q.nackBatch(ms),
            (rs) => rs.every((r) => r._tag === "Right") ? Effect.void : Effect.fail("nack failed"),
          ));
        yield* drain(q, 10, ackEach(q));
      }));
    yield* run(COST_SCENARIOS[4], (q) =>
      Effect.zipRight(
        sendBatched(q),
        drain(q, 25, (ms) =>
          Effect.flatMap(
            db.batchWrite(
              TABLE,
              ms.map((m) => ({ _tag: "Delete" as const, key: messageKey(q.name, m.id) })),
            ),
            (r) => r.unprocessed.length === 0 ? Effect.void : Effect.fail("unprocessed"),
          )),
      ));
    if (options.transactions) {
      yield* run(COST_SCENARIOS[5], (q) =>
        Effect.zipRight(
          sendBatched(q),
          drain(q, 25, (ms) =>
            Effect.flatMap(
              q.ackBatch(ms, { transaction: true }),
              (rs) => rs.every((r) => r._tag === "Right") ? Effect.void : Effect.fail("ack failed"),
            )),
        ));
    }
    return rows;
  });

// ---------------------------------------------------------------------------------------------
// Partition heat
// ---------------------------------------------------------------------------------------------

/** Index write heat for one shard count. */
export interface HeatResult {
  readonly shards: number;
  readonly messages: number;
  /** Share of index write units on the hottest index partition key (0..1). */
  readonly hottestShare: number;
  /** Index write units per message. */
  readonly indexWCUPerMessage: number;
  /** Messages/s at which the hottest key reaches 1,000 WCU/s on AWS. */
  readonly awsCeiling: number;
}

/** AWS's per-partition write limit, WCU per second. */
export const PARTITION_WCU = 1000;

/**
 * Sends `messages` messages to a queue with `shards` shards and takes them all through receive
 * (max 25) and ack, counting index write units per index partition key. Runs on the memory layer:
 * where index writes land depends only on the keys the queue chooses, not on the backend.
 */
export const heat = (
  options: { readonly shards: number; readonly messages: number },
): Effect.Effect<HeatResult, unknown> =>
  Effect.gen(function* () {
    yield* Table.create(TABLE);
    const capacity = meterCapacity(yield* DynamoDB);
    const queue = yield* Queue.make({
      table: TABLE,
      name: freshName(`heat-${options.shards}`),
      schema: Schema.String,
      shards: options.shards,
    }).pipe(Effect.provideService(DynamoDB, capacity.service));
    const n = options.messages;
    for (let sent = 0; sent < n; sent += 25) {
      yield* queue.sendBatch(
        Array.from({ length: Math.min(25, n - sent) }, (_, i) => ({ body: `m${sent + i}` })),
      );
    }
    let got = 0;
    while (got < n) {
      const { messages } = yield* queue.receive({ max: 25 });
      if (messages.length === 0) return yield* Effect.fail(new Error(`only ${got} of ${n}`));
      got += messages.length;
      yield* queue.ackBatch(messages);
    }
    const counts = capacity.snapshot();
    const { share } = hottest(counts.partitions);
    const perMessage = counts.indexWriteUnits / n;
    return {
      shards: options.shards,
      messages: n,
      hottestShare: share,
      indexWCUPerMessage: perMessage,
      awsCeiling: PARTITION_WCU / (perMessage * share),
    };
  }).pipe(Effect.provide(layerMemory));

/**
 * Consumer tests on the in-memory layer, driven by TestClock. Events are read from a
 * subscription taken before any message is sent; `waitFor` advances virtual time in small steps
 * until the expected events are there, so no assertion depends on real time.
 */
import assert from "node:assert/strict";
import {
  Chunk,
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Layer,
  Logger,
  Metric,
  Option,
  Queue as EffectQueue,
  Random,
  Ref,
  Schema,
  Scope,
  Stream,
  TestClock,
} from "effect";
import {
  DeadLetterNow,
  DynamoDBError,
  InvalidOptions,
  LeaseLost,
  RetryAfter,
} from "../src/Errors.ts";
import { exponentialCeiling, fullJitter } from "../src/internal/backoff.ts";
import { layerMemory } from "../src/layers/DynamoDBMemory.ts";
import type { ReceivedMessage } from "../src/schema/Message.ts";
import * as Consumer from "../src/services/Consumer.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { runWith } from "./_effect.ts";

const T0 = Date.UTC(2026, 0, 1);
const TABLE = "consumer-tests";
const Job = Schema.Struct({ n: Schema.Number, secret: Schema.optional(Schema.String) });
type Job = typeof Job.Type;
type Q = Queue.Queue<Job>;
type Ev = Consumer.ConsumerEvent;

class Boom extends Data.TaggedError("Boom")<{ readonly message: string }> {}
class Permanent extends Data.TaggedError("Permanent")<{ readonly message: string }> {}
class Transient extends Data.TaggedError("Transient")<{ readonly message: string }> {}

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly annotations: Record<string, unknown>;
}

/** Replaces the default logger: keeps test output quiet and lets tests assert on logs. */
const captureLogs = (lines: Array<LogLine>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message, annotations }) => {
      lines.push({
        level: logLevel.label,
        message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
        annotations: Object.fromEntries(HashMap.toEntries(annotations)),
      });
    }),
  );

let queueCounter = 0;
/** Each test gets a fresh memory layer; a unique queue name keeps the global metrics apart. */
const makeQueue = (
  options?: { maxReceives?: number; visibilityTimeout?: Duration.DurationInput },
) =>
  Effect.gen(function* () {
    yield* Effect.ignore(Table.create(TABLE));
    return yield* Queue.make({
      table: TABLE,
      name: `jobs-${++queueCounter}`,
      schema: Job,
      ...options,
    });
  }).pipe(Effect.orDie);

const test = (
  name: string,
  body: (logs: Array<LogLine>) => Effect.Effect<void, unknown, Scope.Scope | DynamoDB>,
  layer: Layer.Layer<DynamoDB> = layerMemory,
): void =>
  Deno.test(name, () => {
    const logs: Array<LogLine> = [];
    return runWith(
      layer,
      Effect.zipRight(TestClock.setTime(T0), body(logs)).pipe(
        Effect.provide(captureLogs(logs)),
        // Seeded, so that every run draws the same jitter.
        Effect.withRandom(Random.make(name)),
      ),
    );
  });

interface Recorder {
  readonly events: Array<Ev>;
  readonly pull: Effect.Effect<ReadonlyArray<Ev>>;
}

const record = (consumer: Consumer.Consumer): Effect.Effect<Recorder, never, Scope.Scope> =>
  Effect.map(consumer.subscribe, (dequeue) => {
    const events: Array<Ev> = [];
    return {
      events,
      pull: Effect.map(EffectQueue.takeAll(dequeue), (chunk) => {
        events.push(...Chunk.toReadonlyArray(chunk));
        return events;
      }),
    };
  });

const ofTag = <T extends Ev["_tag"]>(events: ReadonlyArray<Ev>, tag: T) =>
  events.filter((e): e is Extract<Ev, { _tag: T }> => e._tag === tag);

/**
 * Advances virtual time by `step` until `done` holds for the events so far. A step of 0 only
 * lets the other fibers run. Fails (rather than hangs) after `limit` steps.
 */
const waitFor = (
  recorder: Recorder,
  done: (events: ReadonlyArray<Ev>) => boolean,
  step: Duration.DurationInput = "10 millis",
  limit = 5_000,
): Effect.Effect<ReadonlyArray<Ev>> =>
  Effect.gen(function* () {
    for (let i = 0; i < limit; i++) {
      const events = yield* recorder.pull;
      if (done(events)) return events;
      yield* TestClock.adjust(step);
    }
    const seen = (yield* recorder.pull).map((e) => e._tag).join(", ");
    return yield* Effect.dieMessage(`waitFor: condition not met; events: ${seen}`);
  });

const count = (tag: Ev["_tag"], n: number) => (events: ReadonlyArray<Ev>) =>
  ofTag(events, tag).length >= n;

const info = (queue: Q, id: string) => Effect.map(queue.get(id), Option.getOrThrow);

const throttled = (operation: string) =>
  new DynamoDBError({ operation, reason: "Throttled", retryable: true, detail: "slow down" });

// ---------------------------------------------------------------------------------------------
// Backoff arithmetic
// ---------------------------------------------------------------------------------------------

Deno.test("retry backoff: full jitter within a ceiling that doubles and is capped", async () => {
  const sample = (seed: string) =>
    Effect.runSync(
      Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i + 1),
        (n) => Effect.replicateEffect(fullJitter(1_000, 60_000, n), 200),
      ).pipe(Effect.withRandom(Random.make(seed))),
    );
  const a = sample("a");
  const b = sample("b");
  for (let n = 1; n <= 12; n++) {
    const ceiling = exponentialCeiling(1_000, 60_000, n);
    assert.equal(ceiling, Math.min(60_000, 1_000 * 2 ** (n - 1)));
    for (const d of a[n - 1]!) assert.ok(d >= 0 && d <= ceiling, `${d} outside [0, ${ceiling}]`);
    // Full jitter covers the whole range: the largest of 200 draws is near the ceiling.
    assert.ok(Math.max(...a[n - 1]!) > ceiling * 0.9);
    assert.ok(Math.min(...a[n - 1]!) < ceiling * 0.1);
  }
  // It grows until the cap, then stays there.
  assert.deepEqual(
    a.map((_, i) => exponentialCeiling(1_000, 60_000, i + 1)),
    [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000],
  );
  assert.equal(exponentialCeiling(1_000, 60_000, 5_000), 60_000);
  // Two seeds, two different sequences; the same seed, the same sequence.
  assert.notDeepEqual(a, b);
  assert.deepEqual(a, sample("a"));
  await Promise.resolve();
});

// ---------------------------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------------------------

test("claims only for idle capacity and polls again at once while messages keep coming", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const times: Array<number> = [];
    const maxes: Array<number> = [];
    let inFlight: Effect.Effect<number> = Effect.succeed(0);
    const consumer = yield* Consumer.run(queue, () =>
      Effect.gen(function* () {
        times.push(yield* Clock.currentTimeMillis);
        maxes.push(yield* inFlight);
        maxes.push((yield* Effect.orDie(queue.stats)).inflight);
      }), { concurrency: 1, poll: { min: "1 second", max: "1 second" } });
    inFlight = consumer.inFlight;
    const rec = yield* record(consumer);
    // Visible together (after the first, empty poll), so that only the consumer's pace decides.
    for (let i = 0; i < 4; i++) yield* queue.send({ n: i }, { id: `m${i}`, delay: "10 millis" });
    yield* waitFor(rec, count("Succeeded", 4));
    // One message at a time, never more claimed than the single idle handler can take.
    assert.ok(maxes.every((m) => m === 1), `in flight: ${maxes}`);
    // No poll sleep (1 s here) between messages while the queue has more.
    assert.ok(times[3]! - times[0]! < 1_000, `handled at ${times.map((t) => t - T0)}`);
    assert.deepEqual(ofTag(rec.events, "Received").map((e) => e.messageId), [
      "m0",
      "m1",
      "m2",
      "m3",
    ]);
  }));

test("an empty queue is polled with jittered exponential backoff up to the cap", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const polls: Array<number> = [];
    const counted: Q = {
      ...queue,
      receive: (o) =>
        Effect.zipRight(
          Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => polls.push(t))),
          queue.receive(o),
        ),
    };
    const handled = yield* Deferred.make<string>();
    const consumer = yield* Consumer.run(counted, (m) => Deferred.succeed(handled, m.id));
    const rec = yield* record(consumer);
    yield* TestClock.adjust("2 minutes");
    const gaps = polls.slice(1).map((t, i) => t - polls[i]!);
    // Starts at the 50 ms minimum and doubles (ceilings 50, 100, 200, … ms, then 5 s).
    assert.equal(gaps[0], 50);
    gaps.forEach((gap, i) => {
      const ceiling = Math.min(5_000, 50 * 2 ** i);
      assert.ok(gap <= ceiling && gap >= Math.max(50, ceiling / 2), `gap ${i}: ${gap} ms`);
    });
    // Capped: no spinning, and the capped sleeps are jittered (not all equal).
    const capped = gaps.slice(10);
    assert.ok(capped.length >= 20 && capped.every((g) => g >= 2_500 && g <= 5_000));
    assert.ok(new Set(capped).size > 1);
    assert.ok(polls.length < 60, `${polls.length} polls in 2 minutes`);
    // A new message is picked up within the current (capped) backoff sleep.
    yield* queue.send({ n: 1 }, { id: "late" });
    yield* TestClock.adjust("5 seconds");
    assert.ok(yield* Deferred.isDone(handled), "not picked up within 5 s");
    assert.equal(yield* Deferred.await(handled), "late");
    assert.equal(ofTag(yield* rec.pull, "PollFailed").length, 0);
  }));

// ---------------------------------------------------------------------------------------------
// Settling: success, failure, backoff, dead-letter, decisions
// ---------------------------------------------------------------------------------------------

/** Runs an always-failing handler under a seeded Random; returns the first retries. */
const retryDelays = (seed: string) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue({ maxReceives: 20 });
    const consumer = yield* Consumer.run(
      queue,
      (m) => Effect.fail(new Boom({ message: `attempt ${m.receives}` })),
      { backoff: { base: "1 second", max: "4 seconds" } },
    );
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "r" });
    const events = yield* waitFor(rec, count("Retried", 6), "100 millis");
    yield* consumer.stop;
    return ofTag(events, "Retried").slice(0, 6).map((e) => ({
      receives: e.receives,
      delay: Duration.toMillis(e.delay),
      tag: e.error.tag,
    }));
  }).pipe(Effect.withRandom(Random.make(seed)));

test("a failure is retried after a full-jitter exponential backoff, capped", () =>
  Effect.gen(function* () {
    const a = yield* retryDelays("seed-a");
    const b = yield* retryDelays("seed-b");
    for (const retries of [a, b]) {
      assert.deepEqual(retries.map((r) => r.receives), [1, 2, 3, 4, 5, 6]);
      for (const r of retries) {
        assert.equal(r.tag, "Boom");
        const ceiling = Math.min(4_000, 1_000 * 2 ** (r.receives - 1));
        assert.ok(r.delay >= 0 && r.delay <= ceiling, `receive ${r.receives}: ${r.delay} ms`);
      }
    }
    assert.notDeepEqual(a.map((r) => r.delay), b.map((r) => r.delay));
  }));

test("the nack delay really hides the message, and the failure is in the attempt history", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const consumer = yield* Consumer.run(
      queue,
      (m) => m.receives === 1 ? Effect.fail(new Boom({ message: "first try" })) : Effect.void,
      { backoff: { base: "20 seconds", max: "20 seconds" } },
    );
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "h" });
    const [retried] = ofTag(yield* waitFor(rec, count("Retried", 1)), "Retried");
    const delay = Duration.toMillis(retried!.delay);
    const stored = yield* info(queue, "h");
    assert.equal(stored.visibleAt - stored.updatedAt, delay);
    assert.deepEqual(stored.attempts.map((a) => [a.receive, a.tag, a.message]), [[
      1,
      "Boom",
      "first try",
    ]]);
    yield* waitFor(rec, count("Succeeded", 1), "100 millis");
    assert.ok((yield* Clock.currentTimeMillis) >= stored.updatedAt + delay);
  }));

test("maxReceives: the last failure dead-letters the message with its history", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue({ maxReceives: 3 });
    let calls = 0;
    const consumer = yield* Consumer.run(queue, (m) => {
      calls++;
      return Effect.fail(new Boom({ message: `no ${m.receives}` }));
    }, { backoff: { base: "10 millis", max: "10 millis" } });
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "p" });
    const events = yield* waitFor(rec, count("DeadLettered", 1));
    assert.equal(calls, 3);
    assert.deepEqual(ofTag(events, "Retried").map((e) => e.receives), [1, 2]);
    const [dead] = ofTag(events, "DeadLettered");
    assert.deepEqual(dead, {
      _tag: "DeadLettered",
      queue: queue.name,
      messageId: "p",
      atReceive: false,
      reason: { tag: "Boom", message: "no 3" },
    });
    const stored = yield* info(queue, "p");
    assert.equal(stored.state, "dead");
    assert.deepEqual(stored.deadReason, { tag: "Boom", message: "no 3" });
    assert.deepEqual(stored.attempts.map((a) => a.receive), [1, 2, 3]);
  }));

test("RetryAfter retries after exactly its delay", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const seen: Array<number> = [];
    const consumer = yield* Consumer.run(queue, (m) =>
      Effect.gen(function* () {
        seen.push(yield* Clock.currentTimeMillis);
        if (m.receives === 1) {
          return yield* new RetryAfter({ delay: "7 seconds", reason: "rate limited" });
        }
      }));
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "ra" });
    const [retried] = ofTag(yield* waitFor(rec, count("Retried", 1)), "Retried");
    assert.equal(Duration.toMillis(retried!.delay), 7_000);
    assert.deepEqual(retried!.error, {
      tag: "RetryAfter",
      message: "retry after 7s: rate limited",
    });
    yield* waitFor(rec, count("Succeeded", 1), "100 millis");
    assert.ok(seen[1]! - seen[0]! >= 7_000, `retried after ${seen[1]! - seen[0]!} ms`);
  }));

test("DeadLetterNow dead-letters at once, whatever the receive count", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue({ maxReceives: 5 });
    const consumer = yield* Consumer.run(
      queue,
      () => Effect.fail(new DeadLetterNow({ reason: "malformed order" })),
    );
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "dl" });
    const events = yield* waitFor(rec, count("DeadLettered", 1));
    assert.equal(ofTag(events, "Retried").length, 0);
    assert.deepEqual(ofTag(events, "DeadLettered")[0]!.reason, {
      tag: "DeadLetterNow",
      message: "malformed order",
    });
    const stored = yield* info(queue, "dl");
    assert.equal(stored.state, "dead");
    assert.equal(stored.receives, 1);
  }));

test("classify decides for typed failures; defects and throws are retried as Defect", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const consumer = yield* Consumer.run(
      queue,
      (m): Effect.Effect<void, Permanent | Transient> => {
        switch (m.id) {
          case "perm":
            return Effect.fail(new Permanent({ message: "never" }));
          case "trans":
            return Effect.fail(new Transient({ message: "later" }));
          case "die":
            return Effect.die(new Error("kaboom"));
          default:
            throw new Error("thrown synchronously");
        }
      },
      {
        classify: (e) =>
          e._tag === "Permanent"
            ? Consumer.deadLetter()
            : Consumer.retry("3 seconds", { tag: "Flaky", message: e.message }),
      },
    );
    const rec = yield* record(consumer);
    for (const id of ["perm", "trans", "die", "throw"]) yield* queue.send({ n: 1 }, { id });
    const events = yield* waitFor(
      rec,
      (es) => count("DeadLettered", 1)(es) && count("Retried", 3)(es),
    );
    const dead = ofTag(events, "DeadLettered");
    assert.deepEqual(dead.map((e) => [e.messageId, e.reason]), [["perm", {
      tag: "Permanent",
      message: "never",
    }]]);
    const retried = new Map(ofTag(events, "Retried").map((e) => [e.messageId, e]));
    assert.equal(Duration.toMillis(retried.get("trans")!.delay), 3_000);
    assert.deepEqual(retried.get("trans")!.error, { tag: "Flaky", message: "later" });
    assert.deepEqual(retried.get("die")!.error, { tag: "Defect", message: "kaboom" });
    assert.deepEqual(retried.get("throw")!.error, {
      tag: "Defect",
      message: "thrown synchronously",
    });
    // Default backoff (1 s base) for defects.
    assert.ok(Duration.toMillis(retried.get("die")!.delay) <= 1_000);
  }));

test("release on interrupt: the message is visible at once and the receive is not counted", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const consumer = yield* Consumer.run(queue, () => Effect.never, { shutdownTimeout: 0 });
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "i" });
    yield* waitFor(rec, count("Received", 1));
    assert.equal((yield* info(queue, "i")).receives, 1);
    yield* consumer.stop;
    const events = yield* rec.pull;
    assert.deepEqual(events.map((e) => e._tag), ["Received", "Released", "Stopped"]);
    const stored = yield* info(queue, "i");
    assert.deepEqual([stored.state, stored.receives, stored.attempts.length], ["ready", 0, 0]);
    assert.equal(stored.visibleAt, yield* Clock.currentTimeMillis);
  }));

test("a handler that interrupts itself fails (retried with backoff), it is not a hot loop", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    let calls = 0;
    const consumer = yield* Consumer.run(
      queue,
      () => ++calls === 1 ? Effect.interrupt : Effect.void,
      { backoff: { base: "10 millis", max: "10 millis" } },
    );
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "self" });
    const events = yield* waitFor(rec, count("Succeeded", 1));
    assert.deepEqual(
      events.map((e) => e._tag === "Received" ? `Received#${e.receives}` : e._tag),
      ["Received#1", "Retried", "Received#2", "Succeeded"],
    );
    assert.deepEqual(ofTag(events, "Retried")[0]!.error, {
      tag: "Interrupted",
      message: "the handler was interrupted",
    });
  }));

test("a fiber the handler forked and left running is interrupted when it ends, before the ack", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const seen: Array<string> = [];
    const consumer = yield* Consumer.run(queue, () =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>();
        yield* Effect.fork(
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() =>
              Effect.map(Effect.orDie(queue.get("forks")), (m) =>
                void seen.push(Option.isSome(m) ? "interrupted before the ack" : "after the ack"))
            ),
          ),
        );
        yield* Deferred.await(started);
      }));
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "forks" });
    yield* waitFor(rec, count("Succeeded", 1));
    assert.deepEqual(seen, ["interrupted before the ack"]);
  }));

test("timeout: a handler that runs too long is interrupted and retried as a failure", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const interrupted = yield* Ref.make(0);
    const consumer = yield* Consumer.run(
      queue,
      (m) =>
        m.receives === 1
          ? Effect.never.pipe(Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1)))
          : Effect.void,
      { timeout: "2 seconds", backoff: { base: "10 millis", max: "10 millis" } },
    );
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "slow" });
    const events = yield* waitFor(rec, count("Succeeded", 1));
    assert.equal(yield* Ref.get(interrupted), 1);
    assert.deepEqual(ofTag(events, "Retried")[0]!.error, {
      tag: "HandlerTimeout",
      message: "the handler did not finish within 2s",
    });
    assert.equal(ofTag(events, "Released").length, 0);
  }));

// ---------------------------------------------------------------------------------------------
// Heartbeat and lost leases
// ---------------------------------------------------------------------------------------------

test("heartbeat: a long handler keeps its lease past the visibility timeout", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const gate = yield* Deferred.make<void>();
    const consumer = yield* Consumer.run(queue, () => Deferred.await(gate), {
      visibilityTimeout: "9 seconds",
    });
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "long" });
    yield* waitFor(rec, count("Received", 1));
    for (let i = 0; i < 40; i++) yield* TestClock.adjust("1 second");
    // 40 s later, well past the 9 s lease: nobody else can receive it.
    assert.deepEqual((yield* queue.receive({ max: 10 })).messages, []);
    const stored = yield* info(queue, "long");
    assert.equal(stored.state, "inflight");
    assert.ok(stored.visibleAt > (yield* Clock.currentTimeMillis));
    yield* Deferred.succeed(gate, undefined);
    const events = yield* waitFor(rec, count("Succeeded", 1));
    assert.equal(ofTag(events, "LeaseLost").length, 0);
    assert.ok(Option.isNone(yield* queue.get("long")));
  }));

test("heartbeat: transient errors are retried and the lease is kept", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    let extends_ = 0;
    const flaky: Q = {
      ...queue,
      changeVisibility: (m, t) =>
        ++extends_ <= 2 ? Effect.fail(throttled("update")) : queue.changeVisibility(m, t),
    };
    const gate = yield* Deferred.make<void>();
    const consumer = yield* Consumer.run(flaky, () => Deferred.await(gate), {
      visibilityTimeout: "9 seconds",
    });
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "hb" });
    yield* waitFor(rec, count("Received", 1));
    for (let i = 0; i < 30; i++) yield* TestClock.adjust("1 second");
    assert.ok(extends_ > 5, `${extends_} extensions`);
    assert.deepEqual((yield* queue.receive()).messages, []);
    yield* Deferred.succeed(gate, undefined);
    yield* waitFor(rec, count("Succeeded", 1));
  }));

test("lease lost without heartbeat: the late ack is refused and reported", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const gate = yield* Deferred.make<void>();
    const consumer = yield* Consumer.run(queue, () => Deferred.await(gate), {
      concurrency: 1,
      heartbeat: false,
      visibilityTimeout: "5 seconds",
    });
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "stolen" });
    yield* waitFor(rec, count("Received", 1));
    yield* TestClock.adjust("6 seconds");
    // The lease ran out: another receive takes the message.
    const { messages } = yield* queue.receive();
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.receives, 2);
    yield* Deferred.succeed(gate, undefined);
    const events = yield* waitFor(rec, count("LeaseLost", 1));
    assert.deepEqual(ofTag(events, "LeaseLost"), [
      { _tag: "LeaseLost", queue: queue.name, messageId: "stolen", operation: "ack" },
    ]);
    assert.equal(ofTag(events, "Succeeded").length, 0);
    // The first handler's ack did not delete the message: the new holder still can.
    yield* queue.ack(messages[0]!);
    assert.ok(Option.isNone(yield* queue.get("stolen")));
  }));

test("lease lost by the heartbeat: the handler is interrupted and nothing is written", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const writes: Array<string> = [];
    const watched: Q = {
      ...queue,
      changeVisibility: (m) =>
        Effect.fail(
          new LeaseLost({ queue: queue.name, messageId: m.id, operation: "changeVisibility" }),
        ),
      ack: (m) => Effect.zipRight(Effect.sync(() => writes.push("ack")), queue.ack(m)),
      nack: (m, o) => Effect.zipRight(Effect.sync(() => writes.push("nack")), queue.nack(m, o)),
      release: (m) => Effect.zipRight(Effect.sync(() => writes.push("release")), queue.release(m)),
      deadLetter: (m, r) =>
        Effect.zipRight(Effect.sync(() => writes.push("deadLetter")), queue.deadLetter(m, r)),
    };
    const interrupted = yield* Deferred.make<void>();
    const lostMetric = Metric.tagged(Consumer.leaseLostTotal, "queue", queue.name);
    const before = (yield* Metric.value(lostMetric)).count;
    const consumer = yield* Consumer.run(
      watched,
      () => Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))),
      { visibilityTimeout: "9 seconds" },
    );
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "lost" });
    const events = yield* waitFor(rec, count("LeaseLost", 1), "500 millis");
    assert.ok(yield* Deferred.isDone(interrupted));
    assert.deepEqual(ofTag(events, "LeaseLost")[0], {
      _tag: "LeaseLost",
      queue: queue.name,
      messageId: "lost",
      operation: "changeVisibility",
    });
    assert.deepEqual(writes, []);
    assert.equal(yield* consumer.inFlight, 0);
    const stored = yield* info(queue, "lost");
    assert.equal(stored.state, "inflight");
    assert.equal(stored.receives, 1);
    assert.equal((yield* Metric.value(lostMetric)).count - before, 1);
  }));

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

test("concurrency n: never more than n in flight, never the same id twice", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const handled = new Map<string, number>();
    let running = 0;
    let peak = 0;
    const overLimit: Array<string> = [];
    const handler = (m: ReceivedMessage<Job>) =>
      Effect.gen(function* () {
        running++;
        peak = Math.max(peak, running);
        handled.set(m.id, (handled.get(m.id) ?? 0) + 1);
        const stats = yield* Effect.orDie(queue.stats);
        if (stats.inflight > 6) overLimit.push(`${stats.inflight} in flight in the table`);
        yield* Effect.sleep("100 millis");
        running--;
      });
    // Two consumers of three handlers each, on one queue.
    const a = yield* Consumer.run(queue, handler, { concurrency: 3 });
    const b = yield* Consumer.run(queue, handler, { concurrency: 3 });
    const recA = yield* record(a);
    const recB = yield* record(b);
    const both: Recorder = {
      events: [],
      pull: Effect.map(Effect.zip(recA.pull, recB.pull), ([x, y]) => [...x, ...y]),
    };
    for (let i = 0; i < 30; i++) yield* queue.send({ n: i }, { id: `c${i}` });
    const inFlightSeen: Array<number> = [];
    const events = yield* waitFor(both, (es) => {
      return count("Succeeded", 30)(es);
    }, "50 millis");
    inFlightSeen.push(yield* a.inFlight, yield* b.inFlight);
    assert.equal(handled.size, 30);
    assert.ok([...handled.values()].every((n) => n === 1), "an id was handled twice");
    assert.equal(peak, 6);
    assert.deepEqual(overLimit, []);
    assert.deepEqual(inFlightSeen, [0, 0]);
    assert.equal(ofTag(events, "Retried").length + ofTag(events, "LeaseLost").length, 0);
  }));

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

test("shutdown: stops claiming at once, drains, then interrupts and releases", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const gates = new Map<string, Deferred.Deferred<void>>();
    for (const id of ["a", "b", "c"]) gates.set(id, yield* Deferred.make<void>());
    const interrupted: Array<string> = [];
    const scope = yield* Scope.make();
    const consumer = yield* Consumer.run(
      queue,
      (m) =>
        Deferred.await(gates.get(m.id)!).pipe(
          Effect.onInterrupt(() => Effect.sync(() => interrupted.push(m.id))),
        ),
      { concurrency: 2, shutdownTimeout: "5 seconds" },
    ).pipe(Scope.extend(scope));
    const rec = yield* record(consumer);
    for (const id of ["a", "b", "c"]) {
      yield* queue.send({ n: 1 }, { id });
      yield* TestClock.adjust(1);
    }
    yield* waitFor(rec, count("Received", 2));
    // Closing the scope is the graceful shutdown.
    const closing = yield* Effect.fork(Scope.close(scope, Exit.void));
    yield* TestClock.adjust(0);
    // In-flight "a" finishes during the drain; a free slot does not make it claim "c".
    yield* Deferred.succeed(gates.get("a")!, undefined);
    yield* waitFor(rec, count("Succeeded", 1), 0, 50);
    yield* TestClock.adjust("4 seconds");
    assert.ok(Option.isNone(yield* Fiber.poll(closing)), "shutdown ended before its deadline");
    const c = yield* info(queue, "c");
    assert.deepEqual([c.state, c.receives], ["ready", 0]);
    // At the deadline "b" is interrupted and released: visible at once, receive not counted.
    yield* TestClock.adjust("1 second");
    yield* Fiber.join(closing);
    const events = yield* rec.pull;
    assert.deepEqual(interrupted, ["b"]);
    assert.deepEqual(
      events.map((e) => "messageId" in e ? `${e._tag}:${e.messageId}` : e._tag),
      ["Received:a", "Received:b", "Succeeded:a", "Released:b", "Stopped"],
    );
    assert.deepEqual(ofTag(events, "Stopped")[0], {
      _tag: "Stopped",
      queue: queue.name,
      interrupted: 1,
    });
    const b = yield* info(queue, "b");
    assert.deepEqual([b.state, b.receives], ["ready", 0]);
    assert.ok(b.visibleAt <= (yield* Clock.currentTimeMillis));
    assert.equal(yield* consumer.inFlight, 0);
    // Stopped consumers can be awaited and stopped again; the event stream has ended.
    yield* consumer.awaitStopped;
    yield* consumer.stop;
    assert.deepEqual(
      Chunk.toReadonlyArray(yield* Stream.runCollect(consumer.events)).map((e) => e._tag),
      ["Stopped"],
    );
  }));

test("stop during a receive: the receive is interrupted and releases what it claimed", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const inFlight = yield* Deferred.make<void>();
    // The receive has claimed the message in the table; its response is still "on the wire"
    // (a request that may never return). Interrupted, a receive releases what it claimed, as
    // Queue.receive does (tests/safety/receive.test.ts).
    const slow: Q = {
      ...queue,
      receive: (o) =>
        Effect.tap(
          queue.receive(o),
          (r) =>
            r.messages.length === 0
              ? Effect.void
              : Effect.zipRight(Deferred.succeed(inFlight, undefined), Effect.never).pipe(
                Effect.onInterrupt(() =>
                  Effect.forEach(r.messages, (m) => Effect.ignore(queue.release(m)))
                ),
              ),
        ),
    };
    let handled = 0;
    const consumer = yield* Consumer.run(slow, () => Effect.sync(() => handled++));
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "wire" });
    while (!(yield* Deferred.isDone(inFlight))) yield* TestClock.adjust("10 millis");
    // Stop does not wait for a receive that may never return (the shutdown is bounded).
    yield* consumer.stop;
    assert.equal(handled, 0);
    assert.deepEqual((yield* rec.pull).map((e) => e._tag), ["Stopped"]);
    const stored = yield* info(queue, "wire");
    assert.deepEqual([stored.state, stored.receives], ["ready", 0]);
  }));

test("stop: handlers that finish within shutdownTimeout are not interrupted", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const consumer = yield* Consumer.run(queue, () => Effect.sleep("2 seconds"), {
      shutdownTimeout: "5 seconds",
    });
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "s1" });
    yield* queue.send({ n: 2 }, { id: "s2" });
    yield* waitFor(rec, count("Received", 2));
    const stopping = yield* Effect.fork(consumer.stop);
    yield* TestClock.adjust("2 seconds");
    yield* Fiber.join(stopping);
    const events = yield* rec.pull;
    assert.equal(ofTag(events, "Succeeded").length, 2);
    assert.deepEqual(ofTag(events, "Stopped")[0]!.interrupted, 0);
    assert.equal(ofTag(events, "Released").length, 0);
  }));

test("shutdown: logs once, at its start, how many handlers it waits for and how long", (logs) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const gate = yield* Deferred.make<void>();
    const consumer = yield* Consumer.run(queue, () => Deferred.await(gate), { concurrency: 4 });
    const rec = yield* record(consumer);
    for (const id of ["a", "b", "c"]) yield* queue.send({ n: 1 }, { id });
    yield* waitFor(rec, count("Received", 3));
    const shutdownLines = () => logs.filter((l) => l.message.startsWith("shutdown:"));
    assert.equal(shutdownLines().length, 0);
    const stopping = yield* Effect.fork(consumer.stop);
    // No virtual time passes: the line comes before the drain, not at its end.
    for (let i = 0; i < 50 && shutdownLines().length === 0; i++) {
      yield* TestClock.adjust(0);
    }
    assert.ok(Option.isNone(yield* Fiber.poll(stopping)), "stopped before its handlers finished");
    const [line] = shutdownLines();
    assert.deepEqual(
      [line?.level, line?.message],
      ["INFO", "shutdown: waiting for 3 handlers (up to 30s)"],
    );
    assert.deepEqual(
      [line?.annotations.package, line?.annotations.module, line?.annotations.queue],
      ["@dynamomq/dynamomq", "Consumer", queue.name],
    );
    yield* Deferred.succeed(gate, undefined);
    yield* Fiber.join(stopping);
    // A second stop waits for the same shutdown and says nothing more.
    yield* consumer.stop;
    assert.equal(shutdownLines().length, 1);
    assert.equal(ofTag(yield* rec.pull, "Succeeded").length, 3);
  }));

// ---------------------------------------------------------------------------------------------
// Transient errors
// ---------------------------------------------------------------------------------------------

/** The memory layer, with the first `failures.left` queries failing with `failures.error`. */
const failingQueries = (failures: { left: number; readonly error: DynamoDBError }) =>
  Layer.effect(
    DynamoDB,
    Effect.map(DynamoDB, (db): DynamoDB => ({
      ...db,
      query: (table, q) => failures.left-- > 0 ? Effect.fail(failures.error) : db.query(table, q),
    })),
  ).pipe(Layer.provide(layerMemory));

{
  const failures = { left: 0, error: throttled("query") };
  test(
    "transient receive errors are retried with backoff and reported",
    (logs) =>
      Effect.gen(function* () {
        const queue = yield* makeQueue();
        const consumer = yield* Consumer.run(queue, () => Effect.void);
        const rec = yield* record(consumer);
        failures.left = 3;
        yield* queue.send({ n: 1 }, { id: "t" });
        const events = yield* waitFor(rec, count("Succeeded", 1));
        const failed = ofTag(events, "PollFailed");
        assert.deepEqual(
          failed.map((
            e,
          ) => [e.failures, e.retryable, e.error._tag === "DynamoDBError" && e.error.reason]),
          [
            [1, true, "Throttled"],
            [2, true, "Throttled"],
            [3, true, "Throttled"],
          ],
        );
        failed.forEach((e) => {
          const ms = Duration.toMillis(e.delay);
          assert.ok(ms >= 50 && ms <= 50 * 2 ** (e.failures - 1), `${ms} ms`);
        });
        const warnings = logs.filter((l) => l.message.startsWith("receive failed"));
        assert.equal(warnings.length, 3);
        for (const w of warnings) {
          assert.equal(w.level, "WARN");
          assert.equal(w.annotations.package, "@dynamomq/dynamomq");
          assert.equal(w.annotations.module, "Consumer");
          assert.equal(w.annotations.queue, queue.name);
        }
      }),
    failingQueries(failures),
  );
}

{
  const failures = {
    left: 0,
    error: new DynamoDBError({
      operation: "query",
      reason: "TableNotFound",
      retryable: false,
      detail: "no such table",
    }),
  };
  test(
    "non-retryable receive errors are logged at error level and retried, capped",
    (logs) =>
      Effect.gen(function* () {
        const queue = yield* makeQueue();
        const consumer = yield* Consumer.run(queue, () => Effect.void);
        const rec = yield* record(consumer);
        failures.left = 12;
        yield* queue.send({ n: 1 }, { id: "nr" });
        const events = yield* waitFor(rec, count("Succeeded", 1), "1 second", 1_000);
        const failed = ofTag(events, "PollFailed");
        assert.equal(failed.length, 12);
        assert.ok(failed.every((e) => !e.retryable));
        // Beyond the 5 s poll cap, but capped (at one minute).
        const delays = failed.map((e) => Duration.toMillis(e.delay));
        assert.ok(Math.max(...delays) > 5_000 && Math.max(...delays) <= 60_000, `${delays}`);
        const errors = logs.filter((l) => l.message.startsWith("receive failed"));
        assert.equal(errors.length, 12);
        assert.ok(errors.every((l) => l.level === "ERROR"));
      }),
    failingQueries(failures),
  );
}

test("a settle write that keeps failing is given up; the message comes back later", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    let acks = 0;
    const flaky: Q = {
      ...queue,
      ack: (m) =>
        Effect.suspend(() => ++acks <= 5 ? Effect.fail(throttled("delete")) : queue.ack(m)),
    };
    const consumer = yield* Consumer.run(flaky, () => Effect.void);
    const rec = yield* record(consumer);
    yield* queue.send({ n: 1 }, { id: "sf" });
    const events = yield* waitFor(rec, count("Succeeded", 1), "500 millis");
    assert.deepEqual(
      events.map((e) =>
        e._tag === "Received"
          ? `Received#${e.receives}`
          : e._tag === "SettleFailed"
          ? `SettleFailed:${e.operation}`
          : e._tag
      ),
      ["Received#1", "SettleFailed:ack", "Received#2", "Succeeded"],
    );
    // One attempt and four retries, then the consumer let the lease expire.
    assert.equal(acks, 6);
  }));

// ---------------------------------------------------------------------------------------------
// Batches, layer, tracing, options
// ---------------------------------------------------------------------------------------------

test("runBatch: up to batchSize messages per call, an outcome per message", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const sizes: Array<number> = [];
    const consumer = yield* Consumer.runBatch(queue, (batch) =>
      Effect.sync(() => {
        sizes.push(batch.length);
        return batch.map((m) =>
          m.body.n % 3 === 0
            ? Consumer.ack
            : m.body.n % 3 === 1
            ? Consumer.retry("1 minute")
            : Consumer.deadLetter({ tag: "Invalid", message: `n=${m.body.n}` })
        );
      }), { batchSize: 3 });
    const rec = yield* record(consumer);
    // Visible together, so that the first receive sees all five whatever the fiber interleaving.
    for (let i = 0; i < 5; i++) yield* queue.send({ n: i }, { id: `b${i}`, delay: "1 second" });
    const events = yield* waitFor(
      rec,
      (es) =>
        ofTag(es, "Succeeded").length + ofTag(es, "Retried").length +
            ofTag(es, "DeadLettered").length === 5,
    );
    assert.deepEqual(sizes, [3, 2]);
    assert.deepEqual(ofTag(events, "Succeeded").map((e) => e.messageId).sort(), ["b0", "b3"]);
    assert.deepEqual(ofTag(events, "Retried").map((e) => e.messageId).sort(), ["b1", "b4"]);
    assert.deepEqual(ofTag(events, "DeadLettered").map((e) => [e.messageId, e.reason]), [
      ["b2", { tag: "Invalid", message: "n=2" }],
    ]);
    const b1 = yield* info(queue, "b1");
    assert.equal(b1.visibleAt - b1.updatedAt, 60_000);
  }));

test("runBatch: a failed call fails every message; a missing outcome is a failure", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    let call = 0;
    const consumer = yield* Consumer.runBatch(
      queue,
      (batch) =>
        ++call === 1
          ? Effect.fail(new Boom({ message: "whole batch" }))
          : Effect.succeed(batch.slice(1).map(() => Consumer.ack)),
      // One fixed delay, not a jittered backoff, so that the three come back together.
      { batchSize: 10, classify: () => Consumer.retry("1 second") },
    );
    const rec = yield* record(consumer);
    for (let i = 0; i < 3; i++) yield* queue.send({ n: i }, { id: `f${i}`, delay: "1 second" });
    const events = yield* waitFor(rec, count("Succeeded", 2));
    const retried = ofTag(events, "Retried");
    assert.deepEqual(retried.slice(0, 3).map((e) => e.error.tag), ["Boom", "Boom", "Boom"]);
    assert.equal(retried[3]!.error.tag, "MissingOutcome");
    assert.equal(retried[3]!.error.message, "the batch handler returned 2 outcomes for 3 messages");
  }));

test("layer: runs the consumer for the layer's lifetime", () =>
  Effect.gen(function* () {
    yield* Effect.ignore(Table.create(TABLE));
    const name = `jobs-${++queueCounter}`;
    const queue = yield* Queue.make({ table: TABLE, name, schema: Job });
    const handled = yield* Deferred.make<string>();
    const scope = yield* Scope.make();
    yield* Layer.buildWithScope(
      Consumer.layer(
        Queue.make({ table: TABLE, name, schema: Job }),
        (m) => Deferred.succeed(handled, m.id),
      ),
      scope,
    );
    yield* queue.send({ n: 1 }, { id: "viaLayer" });
    yield* TestClock.adjust("1 second");
    assert.equal(yield* Deferred.await(handled), "viaLayer");
    yield* Scope.close(scope, Exit.void);
    // After release nothing consumes: a new message stays ready.
    yield* queue.send({ n: 2 }, { id: "after" });
    yield* TestClock.adjust("10 seconds");
    assert.equal((yield* info(queue, "after")).state, "ready");
  }));

test("tracing, metrics and logs: handle span linked to the producer, no payload logged", (logs) =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const spans: Array<{ name: string; traceId: string; links: ReadonlyArray<string> }> = [];
    const consumer = yield* Consumer.run(queue, (m) =>
      Effect.gen(function* () {
        const span = yield* Effect.orDie(Effect.currentSpan);
        const native = span as unknown as { links: ReadonlyArray<{ span: { traceId: string } }> };
        spans.push({
          name: span.name,
          traceId: span.traceId,
          links: native.links.map((l) => l.span.traceId),
        });
        if (m.receives === 1) return yield* new Boom({ message: "once" });
      }), { backoff: { base: "10 millis", max: "10 millis" } });
    const rec = yield* record(consumer);
    const producerTrace = yield* Effect.gen(function* () {
      const span = yield* Effect.orDie(Effect.currentSpan);
      yield* queue.send({ n: 1, secret: "s3cr3t-payload" }, { id: "traced" });
      return span.traceId;
    }).pipe(Effect.withSpan("producer"));
    yield* waitFor(rec, count("Succeeded", 1));
    assert.equal(spans.length, 2);
    for (const s of spans) {
      assert.equal(s.name, "DynamoMQ.handle");
      assert.deepEqual(s.links, [producerTrace]);
      // A new trace of its own, linked (not parented) to the producer's.
      assert.notEqual(s.traceId, producerTrace);
    }
    const value = (metric: Metric.Metric.Counter<number>) =>
      Effect.map(Metric.value(Metric.tagged(metric, "queue", queue.name)), (s) => s.count);
    assert.equal(yield* value(Consumer.receivedTotal), 2);
    assert.equal(yield* value(Consumer.succeededTotal), 1);
    assert.equal(yield* value(Consumer.failedTotal), 1);
    assert.equal(yield* value(Consumer.retriedTotal), 1);
    const durations = yield* Metric.value(
      Metric.tagged(Consumer.handleDuration, "queue", queue.name),
    );
    assert.equal(durations.count, 2);
    const lag = yield* Metric.value(Metric.tagged(Consumer.queueLag, "queue", queue.name));
    assert.equal(lag.count, 2);
    yield* consumer.stop;
    assert.ok(logs.length > 0);
    assert.ok(
      logs.every((l) => !JSON.stringify(l).includes("s3cr3t-payload")),
      "a payload was logged",
    );
    assert.ok(logs.every((l) => l.annotations.module === "Consumer"));
  }));

test("invalid options fail with InvalidOptions at start, as in Queue.make", () =>
  Effect.gen(function* () {
    const queue = yield* makeQueue();
    const cases: Array<[Consumer.BatchConsumerOptions<never>, string]> = [
      [{ concurrency: 0 }, "concurrency"],
      [{ visibilityTimeout: "10 seconds", heartbeat: "10 seconds" }, "heartbeat"],
      [{ poll: { min: "0 millis" } }, "poll.min"],
      [{ backoff: { base: "10 seconds", max: "1 second" } }, "backoff.max"],
      [{ batchSize: 101 }, "batchSize"],
    ];
    for (const [options, option] of cases) {
      const error = yield* Effect.flip(
        Consumer.runBatch(queue, () => Effect.succeed([]), options),
      );
      assert.ok(error instanceof InvalidOptions, `${option}`);
      assert.equal(error.option, option);
      assert.equal(error.operation, "Consumer.runBatch");
    }
    // `run` and `layer` fail the same way, on the typed channel.
    const bad = { concurrency: 0 };
    const fromRun = yield* Effect.flip(Consumer.run(queue, () => Effect.void, bad));
    assert.deepEqual([fromRun._tag, fromRun.option], ["InvalidOptions", "concurrency"]);
    const fromLayer = yield* Effect.flip(
      Layer.build(Consumer.layer(Effect.succeed(queue), () => Effect.void, bad)),
    );
    assert.deepEqual([fromLayer._tag, fromLayer.option], ["InvalidOptions", "concurrency"]);
  }));

/**
 * Shared fixtures for queue tests: a fresh table per test on a given backend, TestClock-driven.
 * Queue time comes from `Clock`, so TestClock drives visibility and delays on live backends too
 * (the server only compares the sort keys we computed).
 */
import { Effect, Schema, type Scope, TestClock } from "effect";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { type Backend, backends, uniqueTableName } from "./_backends.ts";
import { runWith } from "./_effect.ts";

export const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });
export type Order = typeof Order.Type;

/**
 * The TestClock's start: a realistic time so ids and ages look like production, and in the
 * future of the real clock, because DynamoDB Local's TTL deletes items by real time and the
 * tombstones' `ttl` is computed from the TestClock.
 */
export const T0 = Date.UTC(2030, 0, 1);

export interface Ctx {
  readonly backend: Backend;
  readonly table: string;
  readonly db: DynamoDB;
  readonly makeQueue: (
    options?: Partial<Omit<Queue.QueueOptions<Order, Order>, "table" | "schema">>,
  ) => Effect.Effect<Queue.Queue<Order>, unknown>;
}

/** Registers one Deno test per backend; each gets its own table, deleted afterwards. */
export const queueTest = (
  name: string,
  body: (ctx: Ctx) => Effect.Effect<void, unknown, Scope.Scope>,
  options?: { readonly only?: ReadonlyArray<Backend["name"]> },
): void => {
  for (const backend of backends) {
    if (options?.only !== undefined && !options.only.includes(backend.name)) continue;
    Deno.test(`${backend.name}: ${name}`, () =>
      runWith(
        backend.layer,
        Effect.gen(function* () {
          yield* TestClock.setTime(T0);
          const db = yield* DynamoDB;
          const table = uniqueTableName("q");
          yield* Table.create(table);
          yield* Effect.addFinalizer(() => Effect.ignore(db.deleteTable(table)));
          yield* body({
            backend,
            table,
            db,
            makeQueue: (o) =>
              Queue.make({ table, name: "orders", schema: Order, ...o }).pipe(
                Effect.provideService(DynamoDB, db),
              ),
          });
        }),
      ));
  }
};

/** Sends `n` orders one millisecond apart; returns their ids in send order. */
export const sendMany = (
  q: Queue.Queue<Order>,
  n: number,
  prefix = "o",
): Effect.Effect<ReadonlyArray<string>, unknown> =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
    Effect.gen(function* () {
      const r = yield* q.send({ id: `${prefix}${i}`, total: i });
      yield* TestClock.adjust(1);
      return r.id;
    }));

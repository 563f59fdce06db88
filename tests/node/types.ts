// Type-checked by scripts/node-check.ts with `tsc --noEmit` (NodeNext, strict, no skipLibCheck)
// against the compiled build: proves the emitted declarations give Node TypeScript users the real
// types, not `any`. It runs nothing.
import { Consumer, Queue, Table } from "@dynamomq/dynamomq";
import { Dashboard } from "@dynamomq/dynamomq/dashboard";
import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
import { Effect, Schema } from "effect";

const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });

const program = Effect.gen(function* () {
  yield* Table.create("dynamomq");
  const orders = yield* Queue.make({ table: "dynamomq", name: "orders", schema: Order });
  const sent = yield* orders.send({ id: "A-1", total: 42 });
  // @ts-expect-error the body must match the schema
  yield* orders.send({ id: "A-2", total: "42" });
  yield* Consumer.run(orders, (message) => Effect.log(message.body.total.toFixed(2)));
  return sent.id;
});

export const id: Promise<string> = Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(DynamoDBMemory.layerMemory)),
);

// The dashboard subpath: its options are typed (a table is required).
export const dashboard: Effect.Effect<unknown, unknown, unknown> = Dashboard.router({
  table: "dynamomq",
  readOnly: true,
});
// @ts-expect-error the options need a table
Dashboard.router({ readOnly: true });

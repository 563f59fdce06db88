/**
 * DynamoMQ for Effect: a message queue on Amazon DynamoDB. Many named queues share one table;
 * payloads are validated with Effect `Schema`; every receive takes a fenced lease; messages that
 * fail too often go to a dead-letter queue at receive time; consumers are fibers whose scope is
 * their graceful shutdown.
 *
 * - {@linkcode Queue}: send, receive, ack, nack, changeVisibility, release, dead-letter, redrive,
 *   get, list, stats, purge.
 * - {@linkcode Consumer}: concurrent handlers with leases, heartbeat, backoff and shutdown.
 * - {@linkcode Table}: create the table; CloudFormation and IAM policy.
 * - {@linkcode Catalog}: the queues of a table and their shapes, as their handles registered them.
 * - {@linkcode PersistedQueueStore}: `@effect/experimental`'s `PersistedQueue` on DynamoDB.
 * - {@linkcode DynamoDB}: the narrow DynamoDB port; {@linkcode DynamoDBLive} implements it over
 *   the AWS SDK; {@linkcode DynamoDBMetered} counts its requests and capacity.
 *
 * Test tools (the in-memory `DynamoDBMemory` and the fault injector `DynamoDBFaults`) are in
 * `@dynamomq/dynamomq/testing`.
 *
 * @example
 * ```ts
 * import { DynamoDBLive, Queue, Table } from "@dynamomq/dynamomq";
 * import { Effect, Schema } from "effect";
 *
 * const Order = Schema.Struct({ id: Schema.String, total: Schema.Number });
 *
 * const program = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const orders = yield* Queue.make({ table: "dynamomq", name: "orders", schema: Order });
 *   yield* orders.send({ id: "A-101", total: 42 });
 *   const { messages } = yield* orders.receive();
 *   for (const message of messages) {
 *     yield* Effect.log(message.body.total);
 *     yield* orders.ack(message);
 *   }
 * });
 *
 * Effect.runPromise(program.pipe(Effect.provide(DynamoDBLive.layerConfig())));
 * ```
 *
 * @module
 */
export * as Catalog from "./src/services/Catalog.ts";
export * as Consumer from "./src/services/Consumer.ts";
export * as DynamoDB from "./src/services/DynamoDB.ts";
export * as DynamoDBLive from "./src/layers/DynamoDBLive.ts";
export * as DynamoDBMetered from "./src/layers/DynamoDBMetered.ts";
export * as Errors from "./src/Errors.ts";
export * as Message from "./src/schema/Message.ts";
export * as PersistedQueueStore from "./src/layers/PersistedQueueStore.ts";
export * as Queue from "./src/services/Queue.ts";
export * as Table from "./src/services/Table.ts";

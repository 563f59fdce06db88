/**
 * Test tools for code that uses DynamoMQ: the library's `DynamoDB` service in memory, and a
 * fault-injecting wrapper for any `DynamoDB` layer. Neither needs AWS, Docker or Java.
 *
 * - {@linkcode DynamoDBMemory}: an in-memory DynamoDB that behaves like the real one for every
 *   request the library makes (conditions, sparse indexes, 1 MB pages, limits), driven by
 *   Effect's `Clock`, so `TestClock` moves visibility timeouts, delays and backoff.
 * - {@linkcode DynamoDBFaults}: throttling, server errors, timeouts and dropped connections,
 *   before or after a request applied, from a seed.
 *
 * @example
 * ```ts
 * import { Queue, Table } from "@dynamomq/dynamomq";
 * import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect, Schema } from "effect";
 *
 * const test = Effect.gen(function* () {
 *   yield* Table.create("dynamomq");
 *   const q = yield* Queue.make({ table: "dynamomq", name: "jobs", schema: Schema.String });
 *   yield* q.send("hello");
 *   const { messages } = yield* q.receive();
 *   return messages.map((m) => m.body); // ["hello"]
 * });
 *
 * Effect.runPromise(test.pipe(Effect.provide(DynamoDBMemory.layerMemory)));
 * ```
 *
 * @module
 */
export * as DynamoDBFaults from "./src/layers/DynamoDBFaults.ts";
export * as DynamoDBMemory from "./src/layers/DynamoDBMemory.ts";

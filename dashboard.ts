/**
 * The web dashboard of DynamoMQ: a small app to see and operate the queues of one table in a
 * browser, and the JSON admin API under it (documented in `docs/dashboard.md`).
 * `Dashboard.layer` serves it on an `HttpServer` you provide; `Dashboard.router` is the same app
 * to mount under a prefix of your own router. Needs `@effect/platform` besides the main entry's
 * dependencies.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer";
 * import * as Layer from "effect/Layer";
 * import { Dashboard } from "@dynamomq/dynamomq/dashboard";
 * import { DynamoDBLive } from "@dynamomq/dynamomq";
 *
 * const AdminLive = Dashboard.layer({ table: "dynamomq", readOnly: true }).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8090, host: "127.0.0.1" })),
 *   Layer.provide(DynamoDBLive.layerConfig()),
 * );
 * Layer.launch(AdminLive);
 * ```
 *
 * @module
 */
export * as Dashboard from "./src/dashboard/Dashboard.ts";

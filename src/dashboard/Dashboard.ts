/**
 * The web dashboard: a small app to see and operate the queues of one table in a browser, and
 * the JSON admin API under it (documented in `docs/dashboard.md`). `layer` serves it on an
 * `HttpServer` you provide; `router` is the same app to mount under a prefix of your own router.
 * `deno task dashboard` (the CLI's `dashboard` command) runs it on its own.
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
import type * as HttpRouter from "@effect/platform/HttpRouter";
import * as HttpServer from "@effect/platform/HttpServer";
import type * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import type { DynamoDBError, InvalidOptions, QueueDefinitionConflict } from "../Errors.ts";
import { makeRouter } from "../internal/dashboard/router.ts";
import type { DynamoDB } from "../services/DynamoDB.ts";

/**
 * A queue to show although it is not in the table's catalog (yet).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExtraQueue {
  /** The queue's name. */
  readonly name: string;
  /** How many shards its ready messages are spread over. @default 1 */
  readonly shards?: number | undefined;
  /** How many priority bands it has. @default 1 */
  readonly priorities?: number | undefined;
  /** After how many receives its messages are dead-lettered. @default 5 */
  readonly maxReceives?: number | undefined;
}

/**
 * How to run the dashboard.
 *
 * @since 0.1.0
 * @category models
 */
export interface DashboardOptions {
  /** The table whose queues it shows. */
  readonly table: string;
  /** Refuse every change (redrive, purge, delete) with `403 ReadOnly`. */
  readonly readOnly?: boolean | undefined;
  /** When set, every change needs `Authorization: Bearer <token>`; reads do not. */
  readonly token?: string | undefined;
  /**
   * Queues to show besides those in the catalog. A setting given here must agree with a queue's
   * stored definition (else the dashboard does not start: `QueueDefinitionConflict`); a queue
   * without one is read with these settings, and nothing is written.
   */
  readonly queues?: ReadonlyArray<ExtraQueue> | undefined;
  /**
   * Host names the `Host` header may carry (e.g. `["127.0.0.1", "localhost"]`); any other gets
   * `403 ForbiddenHost`. Guards a loopback dashboard against DNS rebinding. Unset: any.
   */
  readonly hosts?: ReadonlyArray<string> | undefined;
  /**
   * The counts of each queue are read at most this often, and only while someone asks.
   * @default "2 seconds"
   */
  readonly sampleInterval?: Duration.DurationInput | undefined;
  /**
   * How far back the chart's samples go.
   * @default "15 minutes"
   */
  readonly history?: Duration.DurationInput | undefined;
}

/**
 * The dashboard as an `HttpRouter`: the pages at `/` (`/app.js`, `/app.css`) and the admin API
 * under `/api`. Every path the pages use is relative, so the router can be mounted under any
 * prefix (`HttpRouter.mount("/admin/queues", router)`, then open `/admin/queues/`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = (
  options: DashboardOptions,
): Effect.Effect<
  HttpRouter.HttpRouter,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> => makeRouter(options);

/**
 * Serves the dashboard on the `HttpServer` it is given (for example a second port of your app:
 * `NodeHttpServer.layer(createServer, { port: 8090, host: "127.0.0.1" })`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: DashboardOptions,
): Layer.Layer<
  never,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB | HttpServer.HttpServer
> => Layer.unwrapEffect(Effect.map(router(options), (app) => HttpServer.serve(app)));

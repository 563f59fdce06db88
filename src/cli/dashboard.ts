/**
 * `dynamomq dashboard` (`deno task dashboard`): serves the web dashboard of the table on a port
 * of this machine until interrupted. The table, region and endpoint come from the same settings
 * as every other command.
 *
 * @module
 */
import { createServer } from "node:http";
import * as HttpServer from "@effect/platform/HttpServer";
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer";
import * as Deferred from "effect/Deferred";
import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Layer from "effect/Layer";
import * as Logger from "effect/Logger";
import * as Dashboard from "../dashboard/Dashboard.ts";
import { isLoopbackHost, LOOPBACK_NAMES } from "../internal/loopback.ts";
import type { ActionError, Env } from "./actions.ts";
import { CliError, ExitCode, usage } from "./errors.ts";
import * as Io from "./io.ts";
import { SettingsTag } from "./session.ts";

/**
 * Options of `dashboard`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DashboardInput {
  readonly host: string;
  readonly port: number;
  readonly readOnly: boolean;
  readonly token?: string | undefined;
}

/**
 * Serves the dashboard until Ctrl-C (exit 130, like any interrupted command) or SIGTERM (a
 * graceful stop, exit 0). Its first line on stdout says where:
 * `DynamoMQ dashboard on http://127.0.0.1:8090/ (table dynamomq, read-write)`. Actions are logged
 * on stderr.
 *
 * @since 0.1.0
 * @category actions
 */
export const dashboard = (input: DashboardInput): Effect.Effect<void, ActionError, Env> =>
  Effect.gen(function* () {
    const s = yield* SettingsTag;
    if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) {
      return yield* usage(`--port must be an integer from 0 to 65535, got ${input.port}`);
    }
    const token = input.token === undefined || input.token === "" ? undefined : input.token;
    const loopback = isLoopbackHost(input.host);
    const server = NodeHttpServer.layer(createServer, { port: input.port, host: input.host });
    const mode = input.readOnly ? "read-only" : "read-write";
    const announce = Effect.gen(function* () {
      const address = (yield* HttpServer.HttpServer).address;
      const where = address._tag === "TcpAddress"
        ? `http://${
          address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
        }:${address.port}/`
        : `unix://${address.path}`;
      yield* Io.outLine(`DynamoMQ dashboard on ${where} (table ${s.table}, ${mode})`);
      if (!loopback && token === undefined && !input.readOnly) {
        yield* Io.errLine(
          `warning: listening on ${input.host} without a token: anyone who can reach it can redrive and purge (set DYNAMOMQ_DASHBOARD_TOKEN)`,
        );
      }
    });
    const app = Layer.effectDiscard(announce).pipe(
      Layer.provide(Dashboard.layer({
        table: s.table,
        readOnly: input.readOnly,
        token,
        queues: s.queueGiven === true
          ? [{
            name: s.queue,
            shards: s.shards,
            priorities: s.priorities,
            maxReceives: s.maxReceives,
          }]
          : [],
        // On loopback, only loopback host names: a web page cannot reach it by DNS rebinding.
        hosts: loopback ? [...LOOPBACK_NAMES, input.host] : undefined,
      })),
      Layer.provide(server),
    );
    // SIGTERM is how a service manager asks a server to stop: stop serving, then end normally
    // (exit 0). Ctrl-C interrupts like every other command (exit 130).
    const stop = yield* Deferred.make<void>();
    const onTerminate = () => Deferred.unsafeDone(stop, Exit.void);
    yield* Effect.acquireRelease(
      Effect.sync(() => Deno.addSignalListener("SIGTERM", onTerminate)),
      () => Effect.sync(() => Deno.removeSignalListener("SIGTERM", onTerminate)),
    );
    return yield* Effect.raceFirst(Layer.launch(app), Deferred.await(stop)).pipe(
      Effect.catchTags({
        InvalidOptions: (e) => Effect.fail(usage(e.message, "InvalidOptions")),
        ServeError: (e) =>
          Effect.fail(
            new CliError({
              message: `cannot listen on ${input.host}:${input.port}: ${String(e.cause)}`,
              code: ExitCode.failure,
              kind: "ServeError",
            }),
          ),
      }),
      // Action logs go to stderr, one logfmt line each, so stdout stays the address line only.
      Effect.provide(
        Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
      ),
    );
  }).pipe(Effect.scoped);

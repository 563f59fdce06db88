/**
 * An HTTP app that enqueues orders and consumes them in the same process: the consumer runs as a
 * `Layer` beside the HTTP server, so one `Layer.launch` starts both and one signal shuts both down
 * (the server stops accepting, the consumer drains, then the table client closes).
 *
 * ```sh
 * deno task http                       # embedded dynalite, http://127.0.0.1:8080
 * curl -i -X POST localhost:8080/orders -d '{"id":"A-1","customer":"ada","total":42}'
 * curl localhost:8080/stats
 * ```
 *
 * - `POST /orders`: a JSON order (`{ id, customer, total }`) → `202 { "messageId": … }`; a body
 *   that is not JSON or not an order → `400`.
 * - `GET /stats`: the queue's counts (`ready`, `delayed`, `inflight`, `dead`, `oldestReadyAge`).
 * - `GET /admin/queues/`: the queue dashboard, read-only (`Dashboard.router`, mounted).
 *
 * Environment: `PORT` (default 8080; 0 picks a free port, logged at start), `QUEUE` (default
 * `orders`), `TABLE` (default `dynamomq`); `AWS_ENDPOINT_URL_DYNAMODB` to use an emulator or
 * endpoint instead of the embedded dynalite (and `AWS_REGION` etc. for AWS).
 */
import { createServer } from "node:http";
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage";
import * as HttpRouter from "@effect/platform/HttpRouter";
import * as HttpServer from "@effect/platform/HttpServer";
import * as HttpServerRequest from "@effect/platform/HttpServerRequest";
import * as HttpServerResponse from "@effect/platform/HttpServerResponse";
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer";
import * as Config from "effect/Config";
import * as Context from "effect/Context";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import * as Option from "effect/Option";
import * as ParseResult from "effect/ParseResult";
import * as Dashboard from "../src/dashboard/Dashboard.ts";
import * as Consumer from "../src/services/Consumer.ts";
import * as MQ from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import { describeBackend, layerEmbedded } from "./_embedded.ts";
import { runMain } from "@effect/platform-node/NodeRuntime";
import { Order } from "./_shared.ts";

/** The orders queue, as a service of this app. */
const Orders = Context.GenericTag<MQ.Queue<Order>>("examples/http/Orders");

const OrdersLive = Layer.effect(
  Orders,
  Effect.gen(function* () {
    const table = yield* Config.string("TABLE").pipe(Config.withDefault("dynamomq"));
    const name = yield* Config.string("QUEUE").pipe(Config.withDefault("orders"));
    yield* Table.create(table);
    yield* Effect.log(`queue ${table}/${name} on ${describeBackend(true)}`);
    return yield* MQ.make({ table, name, schema: Order });
  }).pipe(Effect.orDie),
);

const badRequest = (error: string, detail: string) =>
  HttpServerResponse.json({ error, detail }, { status: 400 });

const enqueue = Effect.gen(function* () {
  const orders = yield* Orders;
  const order = yield* HttpServerRequest.schemaBodyJson(Order);
  const sent = yield* orders.send(order);
  return yield* HttpServerResponse.json({ messageId: sent.id }, { status: 202 });
}).pipe(
  // Orders are small: refuse anything that could not be a reasonable one before reading it all.
  HttpIncomingMessage.withMaxBodySize(Option.some(64 * 1024)),
  Effect.catchTags({
    ParseError: (e) => badRequest("not an order", ParseResult.TreeFormatter.formatErrorSync(e)),
    RequestError: (e) => badRequest("unreadable body", e.message),
    // A client-chosen id is not used here, so duplicates cannot occur; the rest are server-side.
    DynamoDBError: (e) =>
      HttpServerResponse.json(
        { error: "queue unavailable", retryable: e.retryable },
        { status: 503 },
      ),
  }),
);

const stats = Effect.gen(function* () {
  const orders = yield* Orders;
  return yield* HttpServerResponse.json(yield* orders.stats);
}).pipe(
  Effect.catchTag(
    "DynamoDBError",
    (e) =>
      HttpServerResponse.json({ error: "queue unavailable", retryable: e.retryable }, {
        status: 503,
      }),
  ),
);

/**
 * The app's routes, with the queue dashboard mounted read-only under `/admin/queues/`: it can
 * show the orders queue (and its dead letters) but never change them.
 */
const router = Effect.gen(function* () {
  const table = yield* Config.string("TABLE").pipe(Config.withDefault("dynamomq"));
  const dashboard = yield* Dashboard.router({ table, readOnly: true });
  return HttpRouter.empty.pipe(
    HttpRouter.post("/orders", enqueue),
    HttpRouter.get("/stats", stats),
    HttpRouter.mount("/admin/queues", dashboard),
  );
});

/** Handles each order: here it only logs the message id (never the payload). */
const Worker = Consumer.layer(
  Orders,
  (message) => Effect.log(`order message ${message.id} processed (receive ${message.receives})`),
  { concurrency: 8, shutdownTimeout: "10 seconds" },
);

const ServerLive = Layer.unwrapEffect(
  Effect.map(
    Config.integer("PORT").pipe(Config.withDefault(8080)),
    (port) => NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" }),
  ),
);

const ServeLive = Layer.unwrapEffect(
  Effect.map(router, (app) => HttpServer.serve(app).pipe(HttpServer.withLogAddress)),
).pipe(Layer.orDie);

const App = Layer.mergeAll(ServeLive, Worker).pipe(
  Layer.provide(OrdersLive),
  Layer.provide(ServerLive),
  Layer.provide(layerEmbedded),
);

runMain(Layer.launch(App));

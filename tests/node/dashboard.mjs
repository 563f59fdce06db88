// Node smoke test of `@dynamomq/dynamomq/dashboard` as JSR serves it to Node (run by
// scripts/node-check.ts like smoke.mjs): Dashboard.layer on @effect/platform-node's HTTP server on
// a loopback port, as docs/dashboard.md's Node example does, over the memory layer. Node's fetch
// reads the page, its script and one API call.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import * as HttpServer from "@effect/platform/HttpServer";
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer";
import { Queue, Table } from "@dynamomq/dynamomq";
import { Dashboard } from "@dynamomq/dynamomq/dashboard";
import { DynamoDBMemory } from "@dynamomq/dynamomq/testing";
import { Context, Effect, Layer, Schema } from "effect";

const table = "node-dashboard";

test("dashboard: Dashboard.layer on a loopback port serves the page and the API", async () => {
  const program = Effect.gen(function* () {
    yield* Table.create(table);
    const orders = yield* Queue.make({ table, name: "orders", schema: Schema.Unknown });
    yield* orders.send({ id: "A-1" });

    const served = Dashboard.layer({ table, readOnly: true, hosts: ["127.0.0.1"] }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    );
    const server = Context.get(yield* Layer.build(served), HttpServer.HttpServer);
    assert.equal(server.address._tag, "TcpAddress");
    const base = `http://127.0.0.1:${server.address.port}/`;
    const get = (path) => Effect.promise(() => fetch(new URL(path, base)));

    const page = yield* get("");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /^text\/html/);
    assert.match(page.headers.get("content-security-policy"), /script-src 'self'/);
    assert.match(yield* Effect.promise(() => page.text()), /<title>DynamoMQ dashboard<\/title>/);

    const script = yield* get("app.js");
    assert.equal(script.status, 200);
    assert.match(yield* Effect.promise(() => script.text()), /^\/\/ @ts-check/);

    const queues = yield* get("api/queues");
    assert.equal(queues.status, 200);
    const { queues: rows } = yield* Effect.promise(() => queues.json());
    assert.deepEqual(rows.map((q) => [q.name, q.stats.ready]), [["orders", 1]]);

    const purge = yield* Effect.promise(() =>
      fetch(new URL("api/queues/orders/purge", base), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: "ready" }),
      })
    );
    assert.equal(purge.status, 403, "read-only");
    assert.equal((yield* Effect.promise(() => purge.json())).error, "ReadOnly");
  });
  await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(DynamoDBMemory.layerMemory)));
});

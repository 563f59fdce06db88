/**
 * The dashboard's JSON admin API on every backend, in process: the router is turned into a web
 * handler on the test's own runtime (so TestClock drives its sampling), and requests are plain
 * `Request`s. The browser end-to-end tests are in `dashboard.test.ts`; these cover the API's
 * contract in `docs/dashboard.md` case by case.
 */
import assert from "node:assert/strict";
import * as HttpApp from "@effect/platform/HttpApp";
import * as HttpRouter from "@effect/platform/HttpRouter";
import { Effect, Logger, TestClock } from "effect";
import { apiErrorStatus } from "../src/dashboard/apiErrors.ts";
import * as Dashboard from "../src/dashboard/Dashboard.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import { type Ctx, queueTest, T0 } from "./_queue.ts";

const HOST = "127.0.0.1:8090";
const BASE = `http://${HOST}`;

interface Api {
  readonly get: (path: string, headers?: Record<string, string>) => Effect.Effect<Answer>;
  readonly change: (
    method: "POST" | "DELETE",
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => Effect.Effect<Answer>;
  /** The log lines of changes: message and annotations. */
  readonly logs: ReadonlyArray<{ readonly message: string; readonly annotations: string }>;
}

interface Answer {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
  readonly headers: Headers;
}

/** The dashboard of the test's table, as a web handler on this test's runtime. */
const api = (ctx: Ctx, options: Omit<Dashboard.DashboardOptions, "table"> = {}) =>
  Effect.gen(function* () {
    const logs: Array<{ message: string; annotations: string }> = [];
    const logger = Logger.make(({ message, annotations }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message);
      if (text.startsWith("dashboard:")) {
        logs.push({ message: text, annotations: JSON.stringify(Object.fromEntries(annotations)) });
      }
    });
    const router = yield* Dashboard.router({ table: ctx.table, ...options }).pipe(
      Effect.provideService(DynamoDB, ctx.db),
    );
    const runtime = yield* Effect.runtime<never>().pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    );
    const handler = HttpApp.toWebHandlerRuntime(runtime)(router);
    const send = (request: Request) =>
      Effect.promise(async () => {
        const response = await handler(request);
        const text = await response.text();
        const type = response.headers.get("content-type") ?? "";
        return {
          status: response.status,
          json: type.includes("json") ? JSON.parse(text) : text,
          headers: response.headers,
        };
      });
    const result: Api = {
      // A browser always sends Host; a bare Request does not.
      get: (path, headers = {}) =>
        send(new Request(`${BASE}${path}`, { headers: { host: HOST, ...headers } })),
      change: (method, path, body, headers = {}) =>
        send(
          new Request(`${BASE}${path}`, {
            method,
            headers: { host: HOST, "content-type": "application/json", ...headers },
            body: body === undefined ? null : JSON.stringify(body),
          }),
        ),
      logs,
    };
    return result;
  }).pipe(Effect.provideService(DynamoDB, ctx.db));

queueTest(
  "api: info, and the catalog's queues with counts, samples and extra queues",
  (ctx) =>
    Effect.gen(function* () {
      const orders = yield* ctx.makeQueue({ shards: 2 });
      const audit = yield* ctx.makeQueue({ name: "audit" });
      yield* orders.send({ id: "o1", total: 1 });
      yield* orders.send({ id: "o2", total: 2 }, { delay: "1 minute" });
      yield* audit.send({ id: "a1", total: 3 });
      const { messages } = yield* audit.receive();
      yield* audit.deadLetter(messages[0]!, { tag: "Boom", message: "it broke" });
      // An extra queue's setting must agree with its stored definition.
      const clash = yield* Effect.flip(
        Dashboard.router({ table: ctx.table, queues: [{ name: "orders", shards: 9 }] }).pipe(
          Effect.provideService(DynamoDB, ctx.db),
        ),
      );
      assert.equal(clash._tag, "QueueDefinitionConflict");
      const a = yield* api(ctx, { queues: [{ name: "later" }, { name: "orders", shards: 2 }] });

      const info = yield* a.get("/api/info");
      assert.equal(info.status, 200);
      assert.deepEqual(info.json, {
        table: ctx.table,
        readOnly: false,
        tokenRequired: false,
        sampleIntervalMillis: 2000,
        historyMillis: 900_000,
      });

      yield* TestClock.adjust(5_000);
      const { json } = yield* a.get("/api/queues");
      assert.deepEqual(json.queues.map((q: { name: string }) => q.name), [
        "audit",
        "later",
        "orders",
      ]);
      const [auditRow, later, ordersRow] = json.queues;
      assert.deepEqual(auditRow.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 1,
        oldestReadyAge: 0,
      });
      // The stored definition's shape.
      assert.equal(ordersRow.shards, 2);
      assert.deepEqual(ordersRow.stats, {
        ready: 1,
        delayed: 1,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 5_000,
      });
      assert.deepEqual(ordersRow.history, [{
        at: T0 + 5_000,
        ready: 1,
        delayed: 1,
        inflight: 0,
        dead: 0,
        completed: 0,
      }]);
      assert.equal(ordersRow.completed, 0);
      assert.equal(later.shards, 1);
      assert.deepEqual(later.stats, {
        ready: 0,
        delayed: 0,
        inflight: 0,
        dead: 0,
        oldestReadyAge: 0,
      });

      const missing = yield* a.get("/api/queues/nope/messages");
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error, "QueueNotFound");
    }),
);

queueTest(
  "api: counts are sampled at most once per interval, and samples expire",
  (ctx) =>
    Effect.gen(function* () {
      const orders = yield* ctx.makeQueue();
      yield* orders.send({ id: "o1", total: 1 });
      const a = yield* api(ctx, { sampleInterval: "2 seconds", history: "10 seconds" });
      const history = () =>
        Effect.map(
          a.get("/api/queues"),
          (r) => r.json.queues[0].history.map((s: { at: number }) => s.at - T0),
        );
      assert.deepEqual(yield* history(), [0]);
      yield* orders.send({ id: "o2", total: 2 });
      // Within the interval: the cached sample, not a second read.
      yield* TestClock.adjust(1_000);
      const cached = yield* a.get("/api/queues");
      assert.equal(cached.json.queues[0].stats.ready, 1);
      yield* TestClock.adjust(1_000);
      const fresh = yield* a.get("/api/queues");
      assert.equal(fresh.json.queues[0].stats.ready, 2);
      assert.deepEqual(fresh.json.queues[0].history.map((s: { at: number }) => s.at - T0), [
        0,
        2_000,
      ]);
      yield* TestClock.adjust(9_000);
      assert.deepEqual(yield* history(), [2_000, 11_000]);
      // Acks reach the samples through the catalog's completed count, once reported.
      const { messages } = yield* orders.receive({ max: 2 });
      yield* orders.ackBatch(messages);
      yield* TestClock.adjust(10_000);
      yield* orders.receive();
      const after = yield* a.get("/api/queues");
      assert.equal(after.json.queues[0].completed, 2);
      assert.deepEqual(
        after.json.queues[0].history.map((s: { completed: number }) => s.completed),
        [2],
        "the sample of 10 s ago has expired",
      );
    }),
);

queueTest(
  "api: messages by state, paged, without payloads; search by id, group, dedup id",
  (ctx) =>
    Effect.gen(function* () {
      const orders = yield* ctx.makeQueue();
      for (let i = 0; i < 5; i++) {
        yield* orders.send({ id: `o${i}`, total: i }, { deduplicationId: `key-${i}` });
        yield* TestClock.adjust(1);
      }
      yield* orders.send({ id: "g1", total: 10 }, { group: "customer-7" });
      const a = yield* api(ctx);

      const first = yield* a.get("/api/queues/orders/messages?state=ready&limit=2");
      assert.equal(first.status, 200);
      assert.equal(first.json.messages.length, 2);
      assert.ok(typeof first.json.cursor === "string");
      for (const m of first.json.messages) {
        assert.equal("body" in m, false, "a list never carries payloads");
        assert.equal(m.state, "ready");
        assert.equal(m.attemptCount, 0);
      }
      const ids: Array<string> = first.json.messages.map((m: { id: string }) => m.id);
      let cursor: string | undefined = first.json.cursor;
      while (cursor !== undefined) {
        const page = yield* a.get(
          `/api/queues/orders/messages?state=ready&limit=2&cursor=${encodeURIComponent(cursor)}`,
        );
        ids.push(...page.json.messages.map((m: { id: string }) => m.id));
        cursor = page.json.cursor;
      }
      assert.equal(ids.length, 6);
      assert.equal(new Set(ids).size, 6);

      const byDedup = yield* a.get("/api/queues/orders/messages?state=ready&deduplicationId=key-3");
      assert.deepEqual(
        byDedup.json.messages.map((m: { deduplicationId: string }) => m.deduplicationId),
        [
          "key-3",
        ],
      );
      const byGroup = yield* a.get("/api/queues/orders/messages?state=ready&group=customer-7");
      assert.equal(byGroup.json.messages.length, 1);
      assert.equal(byGroup.json.messages[0].group, "customer-7");
      const id = byDedup.json.messages[0].id;
      const byId = yield* a.get(`/api/queues/orders/messages?id=${id}&state=dead`);
      assert.deepEqual(byId.json.messages.map((m: { id: string }) => m.id), [id]);
      const none = yield* a.get("/api/queues/orders/messages?id=nothing-here");
      assert.deepEqual(none.json.messages, []);

      const bare = yield* a.get(`/api/queues/orders/messages/${id}`);
      assert.equal(bare.status, 200);
      assert.equal("body" in bare.json.message, false);
      assert.deepEqual(bare.json.message.attempts, []);
      const withBody = yield* a.get(`/api/queues/orders/messages/${id}?payload=true`);
      assert.deepEqual(withBody.json.message.body, { id: "o3", total: 3 });
      const gone = yield* a.get("/api/queues/orders/messages/nothing-here");
      assert.equal(gone.status, 404);
      assert.equal(gone.json.error, "MessageNotFound");

      for (const bad of ["state=gone", "limit=0", "limit=101", "limit=x"]) {
        const r = yield* a.get(`/api/queues/orders/messages?${bad}`);
        assert.equal(r.status, 400, bad);
        assert.equal(r.json.error, "BadRequest", bad);
      }
      const badCursor = yield* a.get("/api/queues/orders/messages?cursor=not-a-cursor");
      assert.equal(badCursor.status, 400);
      assert.equal(badCursor.json.error, "InvalidOptions");
    }),
);

queueTest(
  "api: redrive selected (failures listed) and all, purge a state, delete one; all logged",
  (ctx) =>
    Effect.gen(function* () {
      const orders = yield* ctx.makeQueue();
      for (let i = 0; i < 4; i++) yield* orders.send({ id: `o${i}`, total: i });
      const { messages } = yield* orders.receive({ max: 3 });
      for (const m of messages) yield* orders.deadLetter(m, { tag: "Boom", message: "it broke" });
      const [d0, d1, d2] = messages.map((m) => m.id);
      const ready = (yield* orders.list({ state: "ready" })).messages[0]!.id;
      const a = yield* api(ctx);

      const dead = yield* a.get("/api/queues/orders/messages?state=dead");
      assert.equal(dead.json.messages.length, 3);
      assert.deepEqual(dead.json.messages[0].deadReason, { tag: "Boom", message: "it broke" });
      assert.equal(dead.json.messages[0].lastAttempt.tag, "Boom");

      const some = yield* a.change("POST", "/api/queues/orders/redrive", {
        ids: [d0, ready, "nope"],
      });
      assert.equal(some.status, 200);
      assert.equal(some.json.redriven, 1);
      assert.deepEqual(
        some.json.failed.map((f: { id: string; error: string }) => [f.id, f.error]),
        [[ready, "InvalidState"], ["nope", "MessageNotFound"]],
      );
      const all = yield* a.change("POST", "/api/queues/orders/redrive", { all: true });
      assert.deepEqual(all.json, { redriven: 2, failed: [] });
      assert.equal((yield* orders.stats).ready, 4);
      assert.ok([d1, d2].every((id) => id !== undefined));

      const purged = yield* a.change("POST", "/api/queues/orders/purge", { state: "ready" });
      assert.deepEqual(purged.json, { purged: 4 });
      yield* orders.send({ id: "o9", total: 9 });
      const last = (yield* orders.list({ state: "ready" })).messages[0]!.id;
      const deleted = yield* a.change("DELETE", `/api/queues/orders/messages/${last}`, {});
      assert.deepEqual(deleted.json, { deleted: last });
      const again = yield* a.change("DELETE", `/api/queues/orders/messages/${last}`, {});
      assert.equal(again.status, 404);

      // A body that fails its schema: 400 with one line that names the field, not a Schema tree.
      const refused: ReadonlyArray<[string, unknown, string]> = [
        ["redrive", {}, "all: is missing; ids: is missing"],
        [
          "redrive",
          { ids: [] },
          "all: is missing; ids: Expected an array of at least 1 item(s), actual []",
        ],
        ["redrive", { all: false }, "all: Expected true, actual false; ids: is missing"],
        [
          "redrive",
          { ids: "x" },
          'all: is missing; ids: Expected ReadonlyArray<string>, actual "x"',
        ],
        ["redrive", { ids: ["a", 1] }, "all: is missing; ids.1: Expected string, actual 1"],
        ["redrive", null, "the body must be a JSON object"],
        ["purge", {}, "state: is missing"],
        [
          "purge",
          { state: "gone" },
          'state: must be one of ready, delayed, inflight, dead, actual "gone"',
        ],
        ["purge", ["dead"], "the body must be a JSON object"],
      ];
      for (const [action, body, message] of refused) {
        const r = yield* a.change("POST", `/api/queues/orders/${action}`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.deepEqual(
          r.json,
          { error: "BadRequest", message },
          `${action} ${JSON.stringify(body)}`,
        );
      }

      assert.deepEqual(a.logs.map((l) => l.message), [
        "dashboard: redrive",
        "dashboard: redrive all",
        "dashboard: purge",
        "dashboard: delete",
        "dashboard: delete failed",
      ]);
      assert.match(a.logs[0]!.annotations, new RegExp(`"ids":"${d0},${ready},nope"`));
      assert.match(a.logs[0]!.annotations, /"redriven":1/);
      assert.match(
        a.logs[2]!.annotations,
        /"state":"ready".*"purged":4|"purged":4.*"state":"ready"/,
      );
    }),
);

queueTest(
  "api: read-only, token, origin, media type and host guards refuse changes",
  (ctx) =>
    Effect.gen(function* () {
      const orders = yield* ctx.makeQueue();
      yield* orders.send({ id: "o1", total: 1 });
      const { messages } = yield* orders.receive();
      yield* orders.deadLetter(messages[0]!, { tag: "Boom", message: "it broke" });

      const readOnly = yield* api(ctx, { readOnly: true });
      assert.equal((yield* readOnly.get("/api/info")).json.readOnly, true);
      const refused = yield* readOnly.change("POST", "/api/queues/orders/redrive", { all: true });
      assert.equal(refused.status, 403);
      assert.equal(refused.json.error, "ReadOnly");
      const del = yield* readOnly.change(
        "DELETE",
        `/api/queues/orders/messages/${messages[0]!.id}`,
      );
      assert.equal(del.json.error, "ReadOnly");
      assert.equal((yield* orders.stats).dead, 1, "nothing changed");
      assert.deepEqual(readOnly.logs.map((l) => l.message), [
        "dashboard: redrive refused",
        "dashboard: delete refused",
      ]);

      const guarded = yield* api(ctx, { token: "s3cret", hosts: ["127.0.0.1", "localhost"] });
      assert.equal((yield* guarded.get("/api/info")).json.tokenRequired, true);
      const noToken = yield* guarded.change("POST", "/api/queues/orders/redrive", { all: true });
      assert.equal(noToken.status, 401);
      assert.equal(noToken.json.error, "Unauthorized");
      const wrong = yield* guarded.change("POST", "/api/queues/orders/redrive", { all: true }, {
        authorization: "Bearer s3cre",
      });
      assert.equal(wrong.status, 401);
      const foreign = yield* guarded.change("POST", "/api/queues/orders/redrive", { all: true }, {
        authorization: "Bearer s3cret",
        origin: "http://evil.example",
      });
      assert.equal(foreign.status, 403);
      assert.equal(foreign.json.error, "ForbiddenOrigin");
      const text = yield* guarded.change("POST", "/api/queues/orders/redrive", { all: true }, {
        authorization: "Bearer s3cret",
        "content-type": "text/plain",
      });
      assert.equal(text.status, 415);
      assert.equal(text.json.error, "UnsupportedMediaType");
      const rebound = yield* guarded.get("/api/queues", { host: "evil.example" });
      assert.equal(rebound.status, 403);
      assert.equal(rebound.json.error, "ForbiddenHost");
      assert.equal((yield* orders.stats).dead, 1, "still nothing changed");

      const done = yield* guarded.change("POST", "/api/queues/orders/redrive", { all: true }, {
        authorization: "Bearer s3cret",
        origin: BASE,
      });
      assert.deepEqual(done.json, { redriven: 1, failed: [] });
      assert.equal((yield* orders.stats).ready, 1);
    }),
);

queueTest(
  "pages: html, script and style with a strict CSP; unknown routes are JSON 404s",
  (ctx) =>
    Effect.gen(function* () {
      const a = yield* api(ctx);
      for (
        const [path, type] of [["/", "text/html"], ["/app.js", "text/javascript"], [
          "/app.css",
          "text/css",
        ]]
      ) {
        const r = yield* a.get(path!);
        assert.equal(r.status, 200, path);
        assert.ok(r.headers.get("content-type")!.startsWith(type!), path);
        assert.match(r.headers.get("content-security-policy")!, /script-src 'self'/);
        assert.equal(r.headers.get("x-content-type-options"), "nosniff");
      }
      const missing = yield* a.get("/nothing/here");
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error, "NotFound");
    }),
  { only: ["memory"] },
);

queueTest(
  "a send without the shape leaves the definition alone: the dashboard purges all 21",
  (ctx) =>
    Effect.gen(function* () {
      const app = yield* ctx.makeQueue({ shards: 4 });
      for (let i = 0; i < 20; i++) yield* app.send({ id: `o${i}`, total: i });
      // What `dynamomq send` without --shards does: a handle with default options.
      const cli = yield* ctx.makeQueue();
      yield* cli.send({ id: "cli", total: 0 });
      const a = yield* api(ctx);
      const { json } = yield* a.get("/api/queues");
      assert.equal(json.queues[0].shards, 4);
      assert.equal(json.queues[0].stats.ready, 21);
      const purged = yield* a.change("POST", "/api/queues/orders/purge", { state: "ready" });
      assert.deepEqual(purged.json, { purged: 21 });
      assert.equal((yield* app.stats).ready, 0);
    }),
);

queueTest(
  "options: a bad table, queue name or interval is InvalidOptions up front",
  (ctx) =>
    Effect.gen(function* () {
      const refused = (options: Dashboard.DashboardOptions) =>
        Effect.flip(Dashboard.router(options).pipe(Effect.provideService(DynamoDB, ctx.db))).pipe(
          Effect.map((e) => e as { readonly _tag: string; readonly option?: string }),
        );
      assert.equal((yield* refused({ table: "x" })).option, "table");
      assert.equal(
        (yield* refused({ table: ctx.table, queues: [{ name: "a#b" }] })).option,
        "queues",
      );
      assert.equal(
        (yield* refused({ table: ctx.table, queues: [{ name: "a", shards: 0 }] })).option,
        "shards",
      );
      assert.equal(
        (yield* refused({ table: ctx.table, sampleInterval: 0 })).option,
        "sampleInterval",
      );
      assert.equal((yield* refused({ table: ctx.table, history: "0 millis" })).option, "history");
    }),
  { only: ["memory"] },
);

queueTest(
  "mounted under a prefix, the pages and the API answer below it",
  (ctx) =>
    Effect.gen(function* () {
      const dashboard = yield* Dashboard.router({ table: ctx.table }).pipe(
        Effect.provideService(DynamoDB, ctx.db),
      );
      const app = HttpRouter.empty.pipe(HttpRouter.mount("/admin/queues", dashboard));
      const handler = HttpApp.toWebHandlerRuntime(yield* Effect.runtime<never>())(app);
      const get = (path: string) => Effect.promise(() => handler(new Request(`${BASE}${path}`)));
      const page = yield* get("/admin/queues/");
      assert.equal(page.status, 200);
      assert.match(yield* Effect.promise(() => page.text()), /<script src="app.js"/);
      assert.equal((yield* get("/admin/queues/app.js")).status, 200);
      const info = yield* get("/admin/queues/api/info");
      assert.equal((yield* Effect.promise(() => info.json())).table, ctx.table);
    }),
  { only: ["memory"] },
);

queueTest(
  "api: a cursor not issued here is a 400, even with a group filter (no endless loop); a bad id is a 400",
  (ctx) =>
    Effect.gen(function* () {
      const orders = yield* ctx.makeQueue();
      yield* orders.send({ id: "g1", total: 1 }, { group: "customer-7" });
      const a = yield* api(ctx);
      const forged = (json: unknown) =>
        btoa(JSON.stringify(json)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
      // Before: a partition out of range answered an empty page with the same cursor, and the
      // filter loop asked again forever.
      for (
        const cursor of [
          forged({ partition: 99 }),
          forged({ state: "ready", partition: 99 }),
          forged({ state: "dead", partition: 0 }),
          "not-a-cursor",
        ]
      ) {
        for (const filter of ["group=customer-7", "deduplicationId=k", "state=ready"]) {
          const r = yield* a.get(
            `/api/queues/orders/messages?${filter}&cursor=${encodeURIComponent(cursor)}`,
          );
          assert.equal(r.status, 400, `${filter} ${cursor}`);
          assert.equal(r.json.error, "InvalidOptions");
          assert.match(r.json.message, /^list: invalid cursor: [^\n]+$/);
        }
      }
      // Before: a 3,000-character id reached DynamoDB (a 503), and an id the library refuses to
      // send was looked up as if it could exist.
      const long = "x".repeat(3000);
      const r = yield* a.get(`/api/queues/orders/messages?id=${long}`);
      assert.equal(r.status, 400);
      assert.equal(r.json.error, "InvalidOptions");
      for (const id of ["a%23b", "%C3%A9"]) {
        const got = yield* a.get(`/api/queues/orders/messages/${id}`);
        assert.equal(got.status, 400, id);
        assert.equal(got.json.error, "InvalidOptions");
        const del = yield* a.change("DELETE", `/api/queues/orders/messages/${id}`);
        assert.equal(del.status, 400, id);
        assert.equal(del.json.error, "InvalidOptions");
      }
      // Before: an id of 101 to 128 characters (valid) was past the router's limit for a path
      // parameter, and answered 404 for a message that exists. A slash is not an id character.
      const longest = "m".repeat(128);
      yield* orders.send({ id: "o1", total: 1 }, { id: longest });
      const got = yield* a.get(`/api/queues/orders/messages/${longest}`);
      assert.equal(got.status, 200);
      assert.equal(got.json.message.id, longest);
      const slash = yield* a.get(`/api/queues/orders/messages/${longest}/x`);
      assert.equal(slash.status, 400);
      assert.equal(slash.json.error, "InvalidOptions");
      const del = yield* a.change("DELETE", `/api/queues/orders/messages/${longest}`);
      assert.deepEqual(del.json, { deleted: longest });
    }),
);

Deno.test("docs/dashboard.md's error table lists every error the API answers with", async () => {
  const markdown = await Deno.readTextFile(new URL("../docs/dashboard.md", import.meta.url));
  const section = markdown.slice(markdown.indexOf("## The admin API"));
  const documented: Record<string, number> = {};
  let unexpected = false;
  for (const [, status, tags] of section.matchAll(/^\| (\d{3}) +\| ([^|]+)\|/gm)) {
    // `DynamoDBError` (with `retryable`): the tags are the backticked words before any "(".
    const names = [...tags!.split("(")[0]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!);
    if (status === "500") unexpected = /any other/.test(tags!);
    for (const name of names) documented[name] = Number(status);
  }
  assert.deepEqual(documented, { ...apiErrorStatus });
  assert.ok(unexpected, "the table says that any other error is a 500");
});

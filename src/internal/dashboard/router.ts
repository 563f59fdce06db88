/**
 * The dashboard's app (see `src/dashboard/Dashboard.ts` for its options and docs/dashboard.md for
 * the API): the pages, the admin API's routes, the queue handles it opens and the chart samples
 * it keeps. Every route checks the host (when `hosts` is set); a change must also come from the
 * same site with a JSON body, to a dashboard that is not read-only, with its token when it has one.
 *
 * @module
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage";
import * as HttpRouter from "@effect/platform/HttpRouter";
import * as HttpServerRequest from "@effect/platform/HttpServerRequest";
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse";
import * as Clock from "effect/Clock";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Option from "effect/Option";
import * as Schema from "effect/Schema";
import { type DynamoDBError, InvalidOptions, type QueueDefinitionConflict } from "../../Errors.ts";
import { openQueue } from "../queue/make.ts";
import { QUEUE_NAME, TABLE_NAME } from "../keys.ts";
import { metadataJson } from "../messageJson.ts";
import type { MessageInfo, MessageState } from "../../schema/Message.ts";
import * as Catalog from "../../services/Catalog.ts";
import type { DynamoDB } from "../../services/DynamoDB.ts";
import type * as Queue from "../../services/Queue.ts";
import { html, script, style } from "../../dashboard/assets.ts";
import type { DashboardOptions } from "../../dashboard/Dashboard.ts";
import { type ApiError, apiError, asset, errorResponse, fromLibrary, ok } from "./responses.ts";

/** One point of a queue's chart. */
interface Sample {
  readonly at: number;
  readonly ready: number;
  readonly delayed: number;
  readonly inflight: number;
  readonly dead: number;
  /** The catalog's `completed` count when sampled: rates come from its differences. */
  readonly completed: number;
}

const STATES: ReadonlyArray<MessageState> = ["ready", "delayed", "inflight", "dead"];
const MAX_BODY_BYTES = 64 * 1024;
/** How many entries one filtered (group / deduplication id) search asks for at most. */
const SEARCH_BUDGET = 1000;
/** The page size of a filtered search (so it reads at most `SEARCH_BUDGET / SEARCH_PAGE` pages). */
const SEARCH_PAGE = 100;

/** A message without its payload, for lists. */
const summaryOf = (m: MessageInfo<unknown>): Record<string, unknown> => {
  const last = m.attempts[m.attempts.length - 1];
  return {
    ...metadataJson(m),
    attemptCount: m.attempts.length,
    ...(last === undefined ? {} : { lastAttempt: last }),
  };
};

/** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
const sameText = (a: string, b: string): boolean => {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
};

const hostnameOf = (host: string): string => {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return "";
  }
};

const RedriveBody = Schema.Union(
  Schema.Struct({
    ids: Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(1000)),
  }),
  Schema.Struct({ all: Schema.Literal(true) }),
);
const PurgeBody = Schema.Struct({
  state: Schema.Literal("ready", "delayed", "inflight", "dead").annotations({
    // `override`: this one line, instead of one issue per literal.
    message: (issue) => ({
      message: `must be one of ${STATES.join(", ")}, actual ${JSON.stringify(issue.actual)}`,
      override: true,
    }),
  }),
});

export const makeRouter = (
  options: DashboardOptions,
): Effect.Effect<
  HttpRouter.HttpRouter,
  InvalidOptions | QueueDefinitionConflict | DynamoDBError,
  DynamoDB
> =>
  Effect.gen(function* () {
    const { table } = options;
    const readOnly = options.readOnly === true;
    const token = options.token === undefined || options.token === "" ? undefined : options.token;
    const sampleMillis = Duration.toMillis(options.sampleInterval ?? "2 seconds");
    const historyMillis = Duration.toMillis(options.history ?? "15 minutes");
    for (const [option, millis] of [["sampleInterval", sampleMillis], ["history", historyMillis]]) {
      if (!(Number(millis) > 0)) {
        return yield* new InvalidOptions({
          operation: "Dashboard",
          option: String(option),
          detail: "must be a positive duration",
        });
      }
    }
    if (!TABLE_NAME.test(table)) {
      return yield* new InvalidOptions({
        operation: "Dashboard",
        option: "table",
        detail: `3-255 characters of A-Z a-z 0-9 _ . -, got "${table}"`,
      });
    }
    for (const q of options.queues ?? []) {
      if (!QUEUE_NAME.test(q.name)) {
        return yield* new InvalidOptions({
          operation: "Dashboard",
          option: "queues",
          detail: `"${q.name}" is not a queue name`,
        });
      }
    }
    const context = yield* Effect.context<DynamoDB>();
    // One handle per queue: it runs with the queue's stored definition and keeps its live settings
    // current itself. A queue defined again (deleted and recreated) gets a new handle.
    const handles = new Map<string, { key: string; queue: Queue.Queue<unknown> }>();
    const handleOf = (d: Catalog.QueueDescriptor) =>
      Effect.gen(function* () {
        const key = `${d.version === 0 ? "assumed" : d.definedAt}`;
        const cached = handles.get(d.name);
        if (cached !== undefined && cached.key === key) return cached.queue;
        const queue = yield* openQueue({
          table,
          name: d.name,
          schema: Schema.Unknown,
          shards: d.shards,
          priorities: d.priorities,
          maxReceives: d.maxReceives,
        }, { absent: "assume", given: new Set() });
        handles.set(d.name, { key, queue });
        return queue;
      });
    // Each extra queue is checked once, up front: its shape must agree with a stored definition.
    const extras: Array<Catalog.QueueDescriptor> = [];
    for (const q of options.queues ?? []) {
      const queue = yield* openQueue({
        table,
        name: q.name,
        schema: Schema.Unknown,
        shards: q.shards,
        priorities: q.priorities,
        maxReceives: q.maxReceives,
      }, { absent: "assume" });
      extras.push({
        name: q.name,
        version: 0,
        shards: queue.shards,
        priorities: queue.priorities,
        maxReceives: queue.maxReceives,
        visibilityTimeoutMillis: queue.visibilityTimeoutMillis,
        deduplicationWindowMillis: 300_000,
        compressAbove: 4096,
        contentBasedDeduplication: false,
        definedAt: 0,
        updatedAt: 0,
        registeredAt: 0,
        completed: 0,
      });
    }

    /**
     * The queues to show: the catalog, plus the extra queues it does not have. The catalog is read
     * at most once per sample interval, however many pages are open.
     */
    let catalog:
      | { readonly at: number; readonly queues: ReadonlyArray<Catalog.QueueDescriptor> }
      | undefined;
    const catalogQueues = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis;
      if (catalog !== undefined && now - catalog.at < sampleMillis) return catalog.queues;
      const queues = yield* Catalog.list(table);
      catalog = { at: now, queues };
      return queues;
    });
    const queues = Effect.gen(function* () {
      const listed = yield* catalogQueues;
      const names = new Set(listed.map((q) => q.name));
      return [...listed, ...extras.filter((q) => !names.has(q.name))].sort((
        a,
        b,
      ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });

    const queueNamed = (name: string | undefined) =>
      Effect.gen(function* () {
        const found = (yield* queues).find((q) => q.name === name);
        if (found === undefined) {
          return yield* apiError("QueueNotFound", `no queue "${name}" in table ${table}`);
        }
        return yield* handleOf(found);
      });

    // --- counts and the chart's samples ---------------------------------------------------------
    const latest = new Map<string, { at: number; stats: Queue.QueueStats }>();
    const samples = new Map<string, Array<Sample>>();
    // One refresh of a queue at a time: two open pages share a sample instead of reading twice.
    const locks = new Map<string, Effect.Semaphore>();
    const lockOf = (name: string) => {
      const lock = locks.get(name) ?? Effect.unsafeMakeSemaphore(1);
      locks.set(name, lock);
      return lock;
    };
    const statsOf = (queue: Queue.Queue<unknown>, completed: number) =>
      lockOf(queue.name).withPermits(1)(Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis;
        const cached = latest.get(queue.name);
        if (cached !== undefined && now - cached.at < sampleMillis) return cached;
        const stats = yield* queue.stats;
        const at = yield* Clock.currentTimeMillis;
        const fresh = { at, stats };
        latest.set(queue.name, fresh);
        const history = (samples.get(queue.name) ?? []).filter((s) => s.at > at - historyMillis);
        history.push({
          at,
          ready: stats.ready,
          delayed: stats.delayed,
          inflight: stats.inflight,
          dead: stats.dead,
          completed,
        });
        samples.set(queue.name, history);
        return fresh;
      }));

    // --- guards ----------------------------------------------------------------------------------
    const remote = (request: HttpServerRequest.HttpServerRequest) =>
      Option.getOrElse(request.remoteAddress, () => "unknown");

    const checkHost = Effect.gen(function* () {
      if (options.hosts === undefined) return;
      const request = yield* HttpServerRequest.HttpServerRequest;
      const host = hostnameOf(request.headers.host ?? "");
      if (!options.hosts.includes(host)) {
        return yield* apiError("ForbiddenHost", `host "${host}" is not served here`);
      }
    });

    /** Everything a change must pass before it runs; refusals are logged too. */
    const guardChange = (action: string, queue: string | undefined) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest;
        const origin = request.headers.origin;
        const host = request.headers.host ?? "";
        if (
          (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) ||
          request.headers["sec-fetch-site"] === "cross-site"
        ) {
          return yield* apiError("ForbiddenOrigin", "changes from another site are refused");
        }
        const type = request.headers["content-type"] ?? "";
        if (!type.toLowerCase().startsWith("application/json")) {
          return yield* apiError("UnsupportedMediaType", "changes take a JSON body");
        }
        if (readOnly) {
          return yield* apiError("ReadOnly", "this dashboard is read-only");
        }
        if (
          token !== undefined && !sameText(request.headers.authorization ?? "", `Bearer ${token}`)
        ) {
          return yield* apiError("Unauthorized", "this change needs the dashboard's token");
        }
      }).pipe(
        Effect.tapError((e) =>
          Effect.flatMap(
            HttpServerRequest.HttpServerRequest,
            (request) =>
              Effect.logWarning(`dashboard: ${action} refused`).pipe(
                Effect.annotateLogs({ queue, error: e.error, remote: remote(request) }),
              ),
          )
        ),
      );

    /** Runs a change and logs what it did (or how it failed). */
    const logged = <A>(
      action: string,
      queue: string | undefined,
      details: Record<string, unknown>,
      effect: Effect.Effect<A, ApiError, DynamoDB>,
      describe: (a: A) => Record<string, unknown>,
    ) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest;
        const annotations = { ...details, queue, table, remote: remote(request) };
        return yield* effect.pipe(
          Effect.tap((a) =>
            Effect.logInfo(`dashboard: ${action}`).pipe(
              Effect.annotateLogs({ ...annotations, ...describe(a) }),
            )
          ),
          Effect.tapError((e) =>
            Effect.logWarning(`dashboard: ${action} failed`).pipe(
              Effect.annotateLogs({ ...annotations, error: e.error, detail: e.message }),
            )
          ),
        );
      });

    // The id is the route's wildcard: a named parameter is limited to 100 characters by the
    // router, and an id may have 128. A slash in it is refused as any bad id is.
    const pathParams = Effect.map(HttpRouter.params, (p) => ({ queue: p.queue, id: p["*"] }));
    const searchParam = (
      params: Readonly<Record<string, string | ReadonlyArray<string>>>,
      name: string,
    ) => {
      const v = params[name];
      const s = typeof v === "string" ? v : v?.[0];
      return s === undefined || s === "" ? undefined : s;
    };
    const jsonBody = <A, I>(schema: Schema.Schema<A, I>) =>
      HttpServerRequest.schemaBodyJson(schema).pipe(
        HttpIncomingMessage.withMaxBodySize(Option.some(MAX_BODY_BYTES)),
      );

    // --- handlers --------------------------------------------------------------------------------
    const info = ok({
      table,
      readOnly,
      tokenRequired: token !== undefined,
      sampleIntervalMillis: sampleMillis,
      historyMillis,
    });

    const listQueues = Effect.gen(function* () {
      const all = yield* queues;
      const rows = yield* Effect.forEach(all, (d) =>
        Effect.gen(function* () {
          const { at, stats } = yield* statsOf(yield* handleOf(d), d.completed);
          return {
            name: d.name,
            shards: d.shards,
            priorities: d.priorities,
            maxReceives: d.maxReceives,
            visibilityTimeoutMillis: d.visibilityTimeoutMillis,
            stats,
            completed: d.completed,
            sampledAt: at,
            history: samples.get(d.name) ?? [],
          };
        }), { concurrency: 4 });
      return yield* ok({ queues: rows });
    });

    const listMessages = Effect.gen(function* () {
      const { queue: name } = yield* pathParams;
      const queue = yield* queueNamed(name);
      const params = yield* HttpServerRequest.ParsedSearchParams;
      const id = searchParam(params, "id");
      if (id !== undefined) {
        const found = yield* queue.get(id);
        return yield* ok({ messages: Option.isSome(found) ? [summaryOf(found.value)] : [] });
      }
      const state = searchParam(params, "state") ?? "ready";
      if (!STATES.includes(state as MessageState)) {
        return yield* apiError("BadRequest", `state must be one of ${STATES.join(", ")}`);
      }
      const limitText = searchParam(params, "limit") ?? "25";
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        return yield* apiError("BadRequest", `limit must be an integer from 1 to 100`);
      }
      const group = searchParam(params, "group");
      const deduplicationId = searchParam(params, "deduplicationId");
      let cursor = searchParam(params, "cursor");
      if (group === undefined && deduplicationId === undefined) {
        const page = yield* queue.list({ state: state as MessageState, limit, cursor });
        return yield* ok({
          messages: page.messages.map(summaryOf),
          ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
        });
      }
      // A filter reads whole pages until it has `limit` matches or has spent its budget; a page
      // cannot be resumed in the middle, so the last page's matches are all kept. The budget
      // counts pages asked for, not messages returned: a page may come back empty (messages that
      // changed state since the index was read), and the loop must still end. Every page must
      // move the cursor on.
      const matches: Array<MessageInfo<unknown>> = [];
      for (let pages = 0; pages < SEARCH_BUDGET / SEARCH_PAGE; pages++) {
        const page: Queue.ListPage<unknown> = yield* queue.list({
          state: state as MessageState,
          limit: SEARCH_PAGE,
          cursor,
        });
        matches.push(
          ...page.messages.filter((m) =>
            (group === undefined || m.group === group) &&
            (deduplicationId === undefined || m.deduplicationId === deduplicationId)
          ),
        );
        if (page.cursor !== undefined && page.cursor === cursor) {
          return yield* apiError("BadRequest", "the cursor does not move: it was not issued here");
        }
        cursor = page.cursor;
        if (cursor === undefined || matches.length >= limit) break;
      }
      return yield* ok({
        messages: matches.map(summaryOf),
        ...(cursor === undefined ? {} : { cursor }),
      });
    });

    const getMessage = Effect.gen(function* () {
      const { queue: name, id } = yield* pathParams;
      const queue = yield* queueNamed(name);
      const params = yield* HttpServerRequest.ParsedSearchParams;
      const withPayload = searchParam(params, "payload") === "true";
      const found = yield* queue.get(id ?? "");
      if (Option.isNone(found)) {
        return yield* apiError("MessageNotFound", `no message "${id}" in queue ${name}`);
      }
      const m = found.value;
      const payload = !withPayload
        ? {}
        : Either.isRight(m.body)
        ? { body: m.body.right }
        : { bodyError: m.body.left };
      return yield* ok({
        message: { ...summaryOf(m), attempts: m.attempts, ...payload },
      });
    });

    const redrive = Effect.gen(function* () {
      const { queue: name } = yield* pathParams;
      yield* guardChange("redrive", name);
      const queue = yield* queueNamed(name);
      const body = yield* jsonBody(RedriveBody);
      if ("all" in body) {
        return yield* logged(
          "redrive all",
          name,
          {},
          Effect.mapError(queue.redriveAll(), fromLibrary),
          (n) => ({ redriven: n }),
        ).pipe(Effect.flatMap((n) => ok({ redriven: n, failed: [] })));
      }
      const ids = [...new Set(body.ids)];
      const results = yield* logged(
        "redrive",
        name,
        { ids: ids.join(",") },
        Effect.forEach(ids, (id) =>
          Effect.either(queue.redrive(id)).pipe(
            Effect.flatMap((r) =>
              Either.isLeft(r) && r.left._tag === "DynamoDBError"
                ? Effect.fail(fromLibrary(r.left))
                : Effect.succeed({ id, result: r })
            ),
          ), { concurrency: 8 }),
        (rs) => ({ redriven: rs.filter((r) => Either.isRight(r.result)).length }),
      );
      const failed = results.flatMap(({ id, result }) =>
        Either.isLeft(result) ? [{ id, error: result.left._tag, message: result.left.message }] : []
      );
      return yield* ok({ redriven: results.length - failed.length, failed });
    });

    const purge = Effect.gen(function* () {
      const { queue: name } = yield* pathParams;
      yield* guardChange("purge", name);
      const queue = yield* queueNamed(name);
      const { state } = yield* jsonBody(PurgeBody);
      const purged = yield* logged(
        "purge",
        name,
        { state },
        Effect.mapError(queue.purge({ state }), fromLibrary),
        (n) => ({ purged: n }),
      );
      return yield* ok({ purged });
    });

    const deleteMessage = Effect.gen(function* () {
      const { queue: name, id } = yield* pathParams;
      yield* guardChange("delete", name);
      const queue = yield* queueNamed(name);
      yield* logged(
        "delete",
        name,
        { id },
        Effect.mapError(queue.delete(id ?? ""), fromLibrary),
        () => ({}),
      );
      return yield* ok({ deleted: id });
    });

    /** The common wrapper: host check, typed failures to JSON, and DynamoDB from this layer. */
    const handle = <E extends { readonly _tag: string; readonly message: string }, R>(
      effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
    ) =>
      Effect.zipRight(checkHost, effect).pipe(
        Effect.catchAll((e) => Effect.succeed(errorResponse(fromLibrary(e)))),
        Effect.provide(context),
      );

    return HttpRouter.empty.pipe(
      HttpRouter.get("/", handle(asset(html, "text/html; charset=utf-8"))),
      HttpRouter.get("/index.html", handle(asset(html, "text/html; charset=utf-8"))),
      HttpRouter.get("/app.js", handle(asset(script, "text/javascript; charset=utf-8"))),
      HttpRouter.get("/app.css", handle(asset(style, "text/css; charset=utf-8"))),
      HttpRouter.get("/api/info", handle(info)),
      HttpRouter.get("/api/queues", handle(listQueues)),
      HttpRouter.get("/api/queues/:queue/messages", handle(listMessages)),
      HttpRouter.get("/api/queues/:queue/messages/*", handle(getMessage)),
      HttpRouter.post("/api/queues/:queue/redrive", handle(redrive)),
      HttpRouter.post("/api/queues/:queue/purge", handle(purge)),
      HttpRouter.del("/api/queues/:queue/messages/*", handle(deleteMessage)),
      HttpRouter.all(
        "*",
        handle(Effect.fail(apiError("NotFound", "no such page or API route"))),
      ),
    );
  });

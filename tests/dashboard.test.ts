/**
 * The dashboard end to end: `dynamomq dashboard` runs as a subprocess, as an operator starts it,
 * and headless Chromium (tests/_browser.ts) drives its pages through the data-testids of the UI
 * contract, while the test changes the queues through the library and checks the results both
 * ways. Covers live counts, throughput (a consumer acking while the test sends), the message
 * page and its on-demand payload, the dead-letter queue's redrive and purge (with the confirm
 * dialog), read-only mode, the token and the request checks of the admin API, and the overview
 * screenshot of docs/dashboard.md (written to
 * `.test-output/dashboard.png`, and to `docs/dashboard.png` with `DYNAMOMQ_UPDATE_SCREENSHOT=1`).
 * Any console error or uncaught error in a page fails its scenario.
 *
 * Runs against DynamoDB Local (`DYNAMOMQ_DDBLOCAL_ENDPOINT`, set by `deno task test`), else the
 * shared dynalite (`DYNAMOMQ_DYNALITE_ENDPOINT`), else an in-process dynalite started here. Each
 * scenario has its own table and its own dashboard process. Without Chromium the file is ignored
 * with a loud warning, except under `CI=true`, where that is a failure.
 */
import assert from "node:assert/strict";
import {
  Effect,
  Exit,
  Layer,
  Logger,
  LogLevel,
  ManagedRuntime,
  Option,
  Schema,
  Scope,
} from "effect";
import * as DynamoDBLive from "../src/layers/DynamoDBLive.ts";
import * as Consumer from "../src/services/Consumer.ts";
import { DynamoDB } from "../src/services/DynamoDB.ts";
import * as Queue from "../src/services/Queue.ts";
import * as Table from "../src/services/Table.ts";
import {
  type Browser,
  chromiumPath,
  hasChromium,
  launchBrowser,
  type Page,
  type Request,
} from "./_browser.ts";
import { bestEndpoint } from "./_emulators.ts";
import { hangGuard } from "./_timing.ts";

const CI = Deno.env.get("CI") === "true";
const chromiumFound = await hasChromium();
if (!chromiumFound) {
  const bar = "!".repeat(78);
  console.error(
    [
      "",
      bar,
      `!!! Chromium not found at ${chromiumPath()} (set DYNAMOMQ_CHROMIUM to another path).`,
      CI
        ? "!!! CI=true: the dashboard's end-to-end tests FAIL without it."
        : "!!! The dashboard's end-to-end tests are SKIPPED.",
      "!!! Install it with `apt-get install -y chromium` (CI requires it).",
      bar,
      "",
    ].join("\n"),
  );
}
const runs = chromiumFound || CI;

const endpoint: string = chromiumFound ? await bestEndpoint() : "";

const CLI = new URL("../src/cli/main.ts", import.meta.url).pathname;
const OUTPUT_DIR = new URL("../.test-output/", import.meta.url);
const DOCS_SCREENSHOT = new URL("../docs/dashboard.png", import.meta.url);

/**
 * How long any one condition may take to show, the start of a dashboard included: 45 s on an idle
 * machine, scaled by `DYNAMOMQ_TIME_SCALE` (`tests/_timing.ts`). A hang guard, not an
 * expectation: the six scenarios start six dashboard processes at once, beside the rest of the
 * suite, and a busy 2-core machine has been seen to take longer than 45 s over that.
 */
const WAIT_MS = hangGuard(45_000);

const live = DynamoDBLive.layer({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
}).pipe(Layer.orDie);

// --- the dashboard process ------------------------------------------------------------------

interface Dashboard {
  /** The page's URL from the first stdout line, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  /** The origin of `url`. */
  readonly origin: string;
  /** What the process printed on stderr so far. */
  readonly stderr: () => string;
  /** Sends SIGTERM and waits for the process and its pipes to end; returns the exit code. */
  readonly stop: () => Promise<number>;
}

const FIRST_LINE =
  /^DynamoMQ dashboard on (http:\/\/127\.0\.0\.1:\d+\/) \(table (\S+), (read-write|read-only)\)$/;

/** Starts `dynamomq dashboard` on a free port with a clean environment; waits for its first line. */
const startDashboard = async (
  table: string,
  options: { readonly args: ReadonlyArray<string>; readonly env: Record<string, string> },
): Promise<Dashboard> => {
  const env: Record<string, string> = { AWS_ENDPOINT_URL_DYNAMODB: endpoint, NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "dashboard",
      "--port",
      "0",
      "--table",
      table,
      "--endpoint-url",
      endpoint,
      ...options.args,
    ],
    clearEnv: true,
    env: { ...env, ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += chunk) }),
  );
  let stdout = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has already exited.
      }
      // A process that ignores SIGTERM would hang the file: kill it, and the exit code says so.
      const killer = setTimeout(() => child.kill("SIGKILL"), hangGuard(20_000));
      const { code } = await child.status;
      clearTimeout(killer);
      await stderrDone;
      await stdoutDone;
      return code;
    })();
  // Read until the first line; a process that exits or stalls first fails the start.
  let stdoutDone: Promise<void> = Promise.resolve();
  let firstLine: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), WAIT_MS);
  });
  try {
    while (firstLine === undefined) {
      const chunk = await Promise.race([reader.read(), timeout]);
      if (chunk === "timeout" || chunk.done) break;
      stdout += chunk.value;
      const newline = stdout.indexOf("\n");
      if (newline >= 0) firstLine = stdout.slice(0, newline);
    }
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout so the process never blocks on a full pipe.
  stdoutDone = (async () => {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      stdout += chunk.value;
    }
  })();
  if (firstLine === undefined) {
    const code = await stop();
    throw new Error(
      `the dashboard printed no first line (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`,
    );
  }
  const match = FIRST_LINE.exec(firstLine);
  if (match === null || match[2] !== table) {
    await stop();
    throw new Error(`unexpected first line: ${JSON.stringify(firstLine)}\nstderr: ${stderr}`);
  }
  const url = match[1]!;
  return { url, origin: new URL(url).origin, stderr: () => stderr, stop };
};

/** One response of the admin API, its body read (so no resource is left open). */
interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
  readonly text: string;
}

const api = async (
  dash: Dashboard,
  method: string,
  path: string,
  options: { readonly body?: string; readonly headers?: Record<string, string> } = {},
): Promise<ApiResponse> => {
  const response = await fetch(new URL(path, dash.url), {
    method,
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
};

const JSON_HEADERS = { "Content-Type": "application/json" };

/** Asserts an error response: its status and the documented `{ error, message }` body. */
const assertError = (response: ApiResponse, status: number, tag: string): void => {
  assert.equal(response.status, status, `expected ${status} ${tag}, got: ${response.text}`);
  assert.equal(response.json?.error, tag, response.text);
  assert.equal(typeof response.json?.message, "string", response.text);
};

// --- waiting on the page --------------------------------------------------------------------

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `read` until `ok` holds (the page updates itself on its own schedule, so every check
 * waits for a condition, never for a fixed time); the timeout's error shows the last value read.
 */
const until = async <T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = WAIT_MS,
): Promise<T> => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let last: T | undefined;
    let error: unknown;
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (e) {
      error = e;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last read: ${JSON.stringify(last)}` +
          (error === undefined ? "" : `; error: ${error}`),
      );
    }
    await pause(100);
  }
};

const tid = (id: string) => `[data-testid=${id}]`;

/** The text content of the first element matching `selector` (undefined when there is none). */
const textOf = async (page: Page, selector: string): Promise<string | undefined> =>
  (await page.locator(selector).allTextContents())[0];

/** Waits until the first `selector` has exactly this text, or text matching this pattern. */
const waitText = (
  page: Page,
  selector: string,
  expected: string | RegExp,
): Promise<string | undefined> =>
  until(
    `${selector} to show ${expected}`,
    () => textOf(page, selector),
    (text) =>
      text !== undefined &&
      (typeof expected === "string" ? text === expected : expected.test(text)),
  );

/** Waits until exactly `n` elements match `selector`. */
const waitCount = (page: Page, selector: string, n: number): Promise<number> =>
  until(`${n} of ${selector}`, () => page.locator(selector).count(), (count) => count === n);

const countCell = (queue: string, column: string) =>
  `tr[data-testid=queue-row][data-queue="${queue}"] ${tid(column)}`;

/**
 * Waits until an overview row shows these counts, read in one go (the counts of one refresh:
 * read one by one, they could straddle two).
 */
const waitCounts = (
  page: Page,
  queue: string,
  expected: { ready: number; delayed: number; inflight: number; dead: number },
) => {
  const want = [expected.ready, expected.delayed, expected.inflight, expected.dead].map(String);
  return until(
    `${queue}'s ready, delayed, inflight, dead to be ${want.join(", ")}`,
    () =>
      page.locator(
        ["ready", "delayed", "inflight", "dead"].map((s) => countCell(queue, `count-${s}`)).join(
          ", ",
        ),
      ).allTextContents(),
    (counts) => counts.join() === want.join(),
  );
};

/** The number in a queue page's tab, e.g. 5 for "ready 5". */
const tabCount = async (page: Page, state: string): Promise<number | undefined> => {
  const text = await textOf(page, tid(`tab-${state}`));
  const digits = text?.match(/\d+/)?.[0];
  return digits === undefined ? undefined : Number(digits);
};

const waitTab = (page: Page, state: string, n: number) =>
  until(`tab ${state} to count ${n}`, () => tabCount(page, state), (count) => count === n);

const messageRow = (id: string) => `tr[data-testid=message-row][data-id="${id}"]`;

/** Waits for the page's next completed refresh: `updated-at` shows a new time. */
const nextRefresh = async (page: Page): Promise<void> => {
  const before = await textOf(page, tid("updated-at"));
  await until("the next live refresh", () => textOf(page, tid("updated-at")), (t) => t !== before);
};

/** Opens the confirm dialog with `button` and checks its question. */
const openConfirm = async (page: Page, button: string, question: RegExp): Promise<void> => {
  await page.locator(tid(button)).click();
  await page.locator(`dialog${tid("confirm-dialog")}[open]`).waitFor();
  await waitText(page, tid("confirm-text"), question);
};

const dialogClosed = (page: Page, dialog: string) =>
  waitCount(page, `dialog${tid(dialog)}[open]`, 0);

/** Waits for the toast to show `expected` as a success (not styled as an error). */
const waitToast = async (page: Page, expected: RegExp): Promise<void> => {
  await waitText(page, tid("toast"), expected);
  const classes = await page.locator(tid("toast")).getAttribute("class");
  assert.ok(!(classes ?? "").split(/\s+/).includes("error"), `toast styled as an error`);
};

/** Records the page's console errors and uncaught errors; `check` fails on any not allowed. */
const watchErrors = (page: Page) => {
  const errors: Array<string> = [];
  page.on("console", (message) => {
    if (message.type() === "error") {
      errors.push(`console error: ${message.text()} (${message.location().url})`);
    }
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.stack ?? error.message}`));
  return {
    check: (allowed: ReadonlyArray<RegExp>) => {
      const unexpected = errors.filter((e) => !allowed.some((pattern) => pattern.test(e)));
      assert.deepEqual(unexpected, [], `errors in the page:\n${unexpected.join("\n")}`);
    },
  };
};

/** The page's changing requests (POST, DELETE), in order. */
const watchChanges = (page: Page) => {
  const changes: Array<Request> = [];
  page.on("request", (request) => {
    if (request.method() !== "GET") changes.push(request);
  });
  return changes;
};

// --- scenarios ------------------------------------------------------------------------------

type Runtime = ManagedRuntime.ManagedRuntime<DynamoDB, never>;

interface Context {
  readonly table: string;
  readonly dash: Dashboard;
  readonly page: Page;
  /** Runs an effect against the scenario's backend. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, DynamoDB>) => Promise<A>;
  /** A handle on a queue of the scenario's table (registers it in the catalog on its first send). */
  readonly queue: (name: string) => Promise<Queue.Queue<unknown>>;
}

interface ScenarioOptions {
  /** Extra arguments of `dynamomq dashboard`. */
  readonly args?: ReadonlyArray<string>;
  /** Extra environment of the dashboard process. */
  readonly env?: Record<string, string>;
  /** Console errors the scenario causes on purpose. */
  readonly allowedErrors?: ReadonlyArray<RegExp>;
}

const scenarios: Array<
  readonly [string, ScenarioOptions, (context: Context) => Promise<void>]
> = [];
const scenario = (
  name: string,
  options: ScenarioOptions,
  fn: (context: Context) => Promise<void>,
) => void scenarios.push([name, options, fn]);

/**
 * Runs one scenario with its own table, dashboard and page; the page is closed, the process
 * stopped (it must exit 0 on SIGTERM) and the table deleted whatever happens.
 */
const runScenario = async (
  browser: Browser,
  runtime: Runtime,
  name: string,
  options: ScenarioOptions,
  fn: (context: Context) => Promise<void>,
): Promise<void> => {
  const run = <A, E>(effect: Effect.Effect<A, E, DynamoDB>): Promise<A> =>
    runtime.runPromise(effect);
  const table = `dash-${name}-${crypto.randomUUID().slice(0, 8)}`;
  await run(Table.create(table));
  try {
    const dash = await startDashboard(table, { args: options.args ?? [], env: options.env ?? {} });
    let failure: unknown;
    try {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const errors = watchErrors(page);
      try {
        await fn({
          table,
          dash,
          page,
          run,
          queue: (queue) => run(Queue.make({ table, name: queue, schema: Schema.Unknown })),
        });
      } finally {
        await page.close();
      }
      errors.check(options.allowedErrors ?? []);
    } catch (e) {
      failure = e;
    }
    const code = await dash.stop();
    if (failure !== undefined) {
      if (failure instanceof Error) {
        failure.message += `\n--- dashboard stderr:\n${dash.stderr()}`;
      }
      throw failure;
    }
    assert.equal(code, 0, `the dashboard exited with ${code} on SIGTERM\n${dash.stderr()}`);
  } finally {
    await run(Effect.flatMap(DynamoDB, (db) => db.deleteTable(table)));
  }
};

/** Receives `n` messages and dead-letters them with `reason`; returns their ids. */
const deadLetter = async (
  context: Context,
  queue: Queue.Queue<unknown>,
  n: number,
  reason: Queue.FailureInfo,
): Promise<Array<string>> => {
  const { messages } = await context.run(queue.receive({ max: n }));
  assert.equal(messages.length, n);
  for (const message of messages) await context.run(queue.deadLetter(message, reason));
  return messages.map((m) => m.id);
};

const stateOf = async (context: Context, queue: Queue.Queue<unknown>, id: string) =>
  Option.map(await context.run(queue.get(id)), (info) => info.state).pipe(
    Option.getOrElse(() => "gone"),
  );

scenario("live-counts", {}, async ({ dash, page, queue, run, table }) => {
  const index = await api(dash, "GET", "");
  assert.equal(index.status, 200);
  assert.match(index.headers.get("content-security-policy") ?? "", /default-src 'none'/);

  await page.goto(dash.url);
  await waitText(page, tid("mode"), "read-write");
  assert.equal(await textOf(page, tid("table-name")), table);
  assert.equal(await page.locator(tid("live-toggle")).isChecked(), true);
  // A fresh table: nothing in the catalog yet.
  await waitCount(page, tid("empty"), 1);

  // The first send registers the queue: it appears without a reload.
  const orders = await queue("orders");
  for (let i = 1; i <= 5; i++) await run(orders.send({ order: i }));
  await waitCounts(page, "orders", { ready: 5, delayed: 0, inflight: 0, dead: 0 });
  await page.evaluate("window.__marker = 1");
  assert.match(
    (await page.locator(countCell("orders", "queue-link")).getAttribute("href")) ?? "",
    /#\/queues\/orders$/,
  );
  assert.match(
    // The link is the cell's content, or the cell itself.
    (await page.locator(
      `${countCell("orders", "count-dead")} a, tr[data-queue="orders"] a${tid("count-dead")}`,
    ).getAttribute("href")) ?? "",
    /#\/queues\/orders\?state=dead$/,
  );
  assert.match(await textOf(page, tid("updated-at")) ?? "", /^\d\d:\d\d:\d\d$/);

  const { messages } = await run(orders.receive({ max: 2 }));
  assert.equal(messages.length, 2);
  for (const message of messages) await run(orders.ack(message));
  await waitCounts(page, "orders", { ready: 3, delayed: 0, inflight: 0, dead: 0 });
  assert.equal(await page.evaluate("window.__marker"), 1, "the page was reloaded");
  assert.notEqual(await textOf(page, countCell("orders", "oldest")), "");
});

scenario("message-page", {}, async ({ dash, page, queue, run }) => {
  const orders = await queue("orders");
  const body = { orderId: 17, items: [{ sku: "A-1", qty: 2 }], note: "<b>not html</b>" };
  await run(orders.send(body, { id: "order-17" }));
  await run(orders.send({ orderId: 18 }, { id: "order-18" }));
  // One failed attempt, so the message has a history to show.
  const { messages } = await run(orders.receive());
  assert.equal(messages[0]?.id, "order-17");
  await run(
    orders.nack(messages[0]!, { error: { tag: "Timeout", message: "payment service timed out" } }),
  );

  // The list API never carries payloads; the message API only on request.
  const list = await api(dash, "GET", "api/queues/orders/messages?state=ready");
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.messages.map((m: { id: string }) => m.id).sort(), [
    "order-17",
    "order-18",
  ]);
  for (const message of list.json.messages) {
    assert.ok(!("body" in message) && !("bodyError" in message), JSON.stringify(message));
  }
  const detail = await api(dash, "GET", "api/queues/orders/messages/order-17");
  assert.equal(detail.status, 200, detail.text);
  assert.ok(!("body" in detail.json.message), detail.text);
  assert.equal(detail.json.message.attempts.length, 1);
  const withPayload = await api(dash, "GET", "api/queues/orders/messages/order-17?payload=true");
  assert.deepEqual(withPayload.json.message.body, body);
  assertError(await api(dash, "GET", "api/queues/orders/messages/nope"), 404, "MessageNotFound");

  const payloadRequests: Array<string> = [];
  page.on("request", (request) => {
    if (request.url().includes("payload=true")) payloadRequests.push(request.url());
  });
  await page.goto(dash.url);
  await waitText(page, countCell("orders", "count-ready"), "2");
  await page.locator(countCell("orders", "queue-link")).click();
  await waitText(page, `h2${tid("queue-name")}`, "orders");
  assert.match(await page.locator(tid("tab-ready")).getAttribute("class") ?? "", /\bactive\b/);
  await waitCount(page, tid("message-row"), 2);
  // No selection or DLQ buttons outside the dead tab.
  assert.equal(await page.locator(tid("select-message")).count(), 0);
  await page.locator(`${messageRow("order-17")} ${tid("message-link")}`).click();

  await waitText(page, tid("message-id"), "order-17");
  assert.equal(await textOf(page, tid("message-state")), "ready");
  assert.equal(await textOf(page, tid("message-receives")), "1");
  await waitCount(page, tid("attempt-row"), 1);
  const attempt = await textOf(page, tid("attempt-row")) ?? "";
  assert.match(attempt, /Timeout/);
  assert.match(attempt, /payment service timed out/);
  // Read-write: the message can be deleted; it is not dead, so there is nothing to redrive.
  assert.equal(await page.locator(tid("delete-message")).count(), 1);
  assert.equal(await page.locator(tid("redrive-message")).count(), 0);

  // The payload stays on the server until asked for, also across live refreshes.
  await nextRefresh(page);
  assert.equal(await page.locator(`pre${tid("payload")}`).count(), 0);
  assert.deepEqual(payloadRequests, []);
  // The hidden payload leaves nothing on the page (it once left a stray "null" under Attempts).
  const noNull = async (when: string) =>
    assert.doesNotMatch(await page.locator("#app").innerText(), /\bnull\b/, when);
  await noNull("payload hidden");
  await page.locator(tid("show-payload")).click();
  const shown = await waitText(page, `pre${tid("payload")}`, /orderId/);
  assert.deepEqual(JSON.parse(shown!), body);
  // Rendered as text: the markup in the payload made no element.
  assert.equal(await page.locator(`pre${tid("payload")} b`).count(), 0);
  // Shown once, it is fetched again with each refresh (kept up to date); never before.
  assert.ok(payloadRequests.length >= 1);
  await page.locator(tid("show-payload")).click();
  await waitCount(page, `pre${tid("payload")}`, 0);
  await noNull("payload hidden again");
});

scenario("dead-letter-queue", {}, async (context) => {
  const { dash, page, queue, run } = context;
  const orders = await queue("orders");
  await run(orders.send({ n: 1 }, { id: "dead-1" }));
  await run(orders.send({ n: 2 }, { id: "dead-2" }));
  await deadLetter(context, orders, 2, { tag: "PoisonMessage", message: "cannot parse order" });
  await run(orders.send({ n: 3 }, { id: "ok-1" }));
  const changes = watchChanges(page);

  await page.goto(`${dash.url}#/queues/orders?state=dead`);
  await waitCount(page, tid("message-row"), 2);
  assert.match(await page.locator(tid("tab-dead")).getAttribute("class") ?? "", /\bactive\b/);
  await waitTab(page, "dead", 2);
  await waitTab(page, "ready", 1);
  assert.match(await textOf(page, messageRow("dead-1")) ?? "", /PoisonMessage/);
  assert.equal(await page.locator(tid("redrive-selected")).isDisabled(), true);

  // Cancel changes nothing.
  await page.locator(`${messageRow("dead-1")} ${tid("select-message")}`).check();
  assert.equal(await page.locator(tid("redrive-selected")).isDisabled(), false);
  await openConfirm(page, "redrive-selected", /Redrive 1 message\b.*orders/);
  await page.locator(tid("confirm-cancel")).click();
  await dialogClosed(page, "confirm-dialog");
  await nextRefresh(page);
  await waitTab(page, "dead", 2);
  assert.equal(changes.length, 0, "cancel sent a request");
  assert.equal(await stateOf(context, orders, "dead-1"), "dead");

  // Redrive the selected one.
  await page.locator(`${messageRow("dead-1")} ${tid("select-message")}`).check();
  await openConfirm(page, "redrive-selected", /Redrive 1 message\b.*orders/);
  await page.locator(tid("confirm-ok")).click();
  await dialogClosed(page, "confirm-dialog");
  await waitToast(page, /Redrove 1 message\b/);
  await waitTab(page, "dead", 1);
  await waitTab(page, "ready", 2);
  await waitCount(page, tid("message-row"), 1);
  await waitCount(page, messageRow("dead-2"), 1);
  assert.equal(await stateOf(context, orders, "dead-1"), "ready");
  assert.equal((await run(orders.get("dead-1"))).pipe(Option.getOrThrow).receives, 0);

  // Redrive all.
  await openConfirm(page, "redrive-all", /orders/);
  await page.locator(tid("confirm-ok")).click();
  await waitToast(page, /Redrove 1 message\b/);
  await waitTab(page, "dead", 0);
  await waitTab(page, "ready", 3);
  await waitCount(page, tid("empty"), 1);
  assert.equal(await stateOf(context, orders, "dead-2"), "ready");

  // Purge: a new dead message shows up live, then goes for good.
  await run(orders.send({ n: 4 }, { id: "purge-1" }));
  await run(orders.moveToDeadLetter("purge-1", { tag: "Manual", message: "bad data" }));
  await waitCount(page, messageRow("purge-1"), 1);
  await waitTab(page, "dead", 1);
  await openConfirm(page, "purge-dead", /Purge.*\b1\b.*orders/s);
  await page.locator(tid("confirm-ok")).click();
  await waitToast(page, /Purged 1 message\b/);
  await waitTab(page, "dead", 0);
  await waitCount(page, tid("empty"), 1);
  assert.equal(await stateOf(context, orders, "purge-1"), "gone");
  const stats = await run(orders.stats);
  assert.deepEqual([stats.ready, stats.dead], [3, 0]);

  // Exactly the confirmed changes were sent, as JSON.
  assert.deepEqual(
    changes.map((r) => [r.method(), new URL(r.url()).pathname, r.postDataJSON()]),
    [
      ["POST", "/api/queues/orders/redrive", { ids: ["dead-1"] }],
      ["POST", "/api/queues/orders/redrive", { all: true }],
      ["POST", "/api/queues/orders/purge", { state: "dead" }],
    ],
  );
  for (const request of changes) {
    assert.match((await request.allHeaders())["content-type"] ?? "", /^application\/json/);
  }
});

scenario("read-only", { args: ["--read-only"] }, async (context) => {
  const { dash, page, queue, run } = context;
  const orders = await queue("orders");
  await run(orders.send({ n: 1 }, { id: "r-1" }));
  await deadLetter(context, orders, 1, { tag: "PoisonMessage", message: "cannot parse order" });
  await run(orders.send({ n: 2 }, { id: "r-2" }));

  const info = await api(dash, "GET", "api/info");
  assert.equal(info.json.readOnly, true, info.text);
  assert.equal(info.json.tokenRequired, false, info.text);

  await page.goto(`${dash.url}#/queues/orders?state=dead`);
  await waitText(page, tid("mode"), "read-only");
  await waitCount(page, messageRow("r-1"), 1);
  for (const id of ["select-message", "redrive-selected", "redrive-all", "purge-dead"]) {
    assert.equal(await page.locator(tid(id)).count(), 0, `${id} exists in read-only mode`);
  }
  await page.locator(`${messageRow("r-1")} ${tid("message-link")}`).click();
  await waitText(page, tid("message-state"), "dead");
  assert.match(await textOf(page, `section${tid("message-detail")}`) ?? "", /cannot parse order/);
  for (const id of ["redrive-message", "delete-message"]) {
    assert.equal(await page.locator(tid(id)).count(), 0, `${id} exists in read-only mode`);
  }

  const json = { headers: JSON_HEADERS };
  assertError(
    await api(dash, "POST", "api/queues/orders/redrive", { ...json, body: '{"all":true}' }),
    403,
    "ReadOnly",
  );
  assertError(
    await api(dash, "POST", "api/queues/orders/purge", { ...json, body: '{"state":"dead"}' }),
    403,
    "ReadOnly",
  );
  assertError(
    await api(dash, "DELETE", "api/queues/orders/messages/r-2", { ...json, body: "{}" }),
    403,
    "ReadOnly",
  );
  assert.equal(await stateOf(context, orders, "r-1"), "dead");
  assert.equal(await stateOf(context, orders, "r-2"), "ready");
});

const TOKEN = `s3cret-${crypto.randomUUID()}`;

scenario("token", {
  env: { DYNAMOMQ_DASHBOARD_TOKEN: TOKEN },
  // The page's first try without the token is refused; Chromium logs the 401 response.
  allowedErrors: [/status of 401/],
}, async (context) => {
  const { dash, page, queue, run } = context;
  const orders = await queue("orders");
  await run(orders.send({ n: 1 }, { id: "t-1" }));
  await run(orders.send({ n: 2 }, { id: "t-2" }));
  await deadLetter(context, orders, 2, { tag: "PoisonMessage", message: "cannot parse order" });

  const info = await api(dash, "GET", "api/info");
  assert.equal(info.json.tokenRequired, true, info.text);
  assert.equal(info.json.readOnly, false, info.text);
  // Reads need no token.
  assert.equal((await api(dash, "GET", "api/queues")).status, 200);

  const redrive = (headers: Record<string, string>) =>
    api(dash, "POST", "api/queues/orders/redrive", { headers, body: '{"ids":["t-1"]}' });
  const bearer = { Authorization: `Bearer ${TOKEN}` };
  assertError(await redrive(JSON_HEADERS), 401, "Unauthorized");
  assertError(
    await redrive({ ...JSON_HEADERS, Authorization: "Bearer not-the-token" }),
    401,
    "Unauthorized",
  );
  const foreign = await redrive({ ...JSON_HEADERS, ...bearer, Origin: "http://evil.example" });
  assertError(foreign, 403, "ForbiddenOrigin");
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  assertError(
    await redrive({ "Content-Type": "text/plain", ...bearer }),
    415,
    "UnsupportedMediaType",
  );
  assert.equal(await stateOf(context, orders, "t-1"), "dead");
  const done = await redrive({ ...JSON_HEADERS, ...bearer, Origin: dash.origin });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.redriven, 1, done.text);
  assert.deepEqual(done.json.failed ?? [], []);
  assert.equal(await stateOf(context, orders, "t-1"), "ready");

  // The page asks for the token when a change is refused, then retries with it.
  await page.goto(`${dash.url}#/queues/orders?state=dead`);
  await waitCount(page, messageRow("t-2"), 1);
  await openConfirm(page, "redrive-all", /orders/);
  await page.locator(tid("confirm-ok")).click();
  await page.locator(`dialog${tid("token-dialog")}[open]`).waitFor();
  await page.locator(`input[type=password]${tid("token-input")}`).fill(TOKEN);
  await page.locator(tid("token-ok")).click();
  await dialogClosed(page, "token-dialog");
  await waitToast(page, /Redrove 1 message\b/);
  await waitTab(page, "dead", 0);
  assert.equal(await stateOf(context, orders, "t-2"), "ready");
});

scenario("screenshot", {}, async ({ dash, page, queue, run }) => {
  const send = async (q: Queue.Queue<unknown>, n: number, options: Queue.SendOptions = {}) => {
    const results = await run(
      q.sendBatch(Array.from({ length: n }, (_, i) => ({ body: { i }, options }))),
    );
    assert.ok(results.every((r) => r._tag === "Right"), "a send failed");
  };
  const [orders, emails, payments] = await Promise.all(
    ["orders", "emails", "payments"].map(queue),
  );
  await send(orders!, 20);
  await send(emails!, 42);
  await send(emails!, 5, { delay: "1 hour" });
  await send(payments!, 6);
  // In flight (leases that outlast the test) and dead-lettered messages.
  await run(orders!.receive({ max: 3, visibilityTimeout: "10 minutes" }));
  for (const message of (await run(orders!.receive({ max: 2 }))).messages) {
    await run(orders!.deadLetter(message, { tag: "PoisonMessage", message: "bad order" }));
  }
  for (const message of (await run(payments!.receive({ max: 1 }))).messages) {
    await run(payments!.deadLetter(message, { tag: "CardDeclined", message: "declined" }));
  }
  // Two orders acked now start the handle's 10 s window for reporting acks to the catalog, so
  // its first report comes sooner. It is this handle's last request before the consumer's
  // (which reuse it), so nothing can be reported before the page has shown 0 below.
  await run(orders!.ackBatch((await run(orders!.receive({ max: 2 }))).messages));

  await page.goto(dash.url);
  await waitCount(page, tid("queue-row"), 3);
  await waitCounts(page, "orders", { ready: 13, delayed: 0, inflight: 3, dead: 2 });
  await waitCounts(page, "emails", { ready: 42, delayed: 5, inflight: 0, dead: 0 });
  await waitCounts(page, "payments", { ready: 5, delayed: 0, inflight: 0, dead: 1 });
  assert.deepEqual(
    await page.locator(`select${tid("chart-queue")} option`).allTextContents(),
    ["All queues", "emails", "orders", "payments"],
  );
  // Nothing reported yet: a handle reports its acks beside a later request of its own.
  assert.deepEqual(await page.locator(tid("count-completed")).allTextContents(), ["0", "0", "0"]);
  await page.evaluate("window.__marker = 1");

  // Throughput: orders keep arriving (6/s) while a consumer acks them, a little slower, so the
  // two lines differ. Its handle adds its acks to the catalog at most every 10 s, beside one of
  // its own requests, so the page sees a first step 10 s after the acks above, and a second 10 s
  // later.
  let producing = true;
  let producerError: unknown;
  const producer = (async () => {
    while (producing) {
      await send(orders!, 3);
      await pause(500);
    }
  })().catch((e) => void (producerError = e));
  // The consumer's fibers inherit the level: no "consumer started/stopped" lines in the output.
  const quiet = Logger.withMinimumLogLevel(LogLevel.Warning);
  const scope = await run(Scope.make());
  try {
    await run(Scope.extend(
      Consumer.run(orders!, () => Effect.sleep("200 millis"), {
        concurrency: 1,
        poll: { max: "500 millis" },
        shutdownTimeout: "2 seconds",
      }).pipe(quiet),
      scope,
    ));

    // The first report shows without a reload: the completed count and the processed rate.
    await waitText(page, countCell("orders", "count-completed"), /^[1-9]\d*$/);
    await until(
      "a processed rate above 0",
      () => textOf(page, tid("rate-processed")),
      (text) => text !== undefined && /^\d+\.\d$/.test(text) && Number(text) > 0,
    );
    assert.match(
      await textOf(page, tid("rates")) ?? "",
      /^processed \d+\.\d\/s · arriving \d+\.\d\/s · backlog [+−]\d+\.\d\/s · dead [+−]\d+\.\d\/s$/,
    );
    assert.equal(await page.evaluate("window.__marker"), 1, "the page was reloaded");

    // Let the charts gather samples (one per sample interval while the page polls) until the
    // second report, moving the emails in between so the state chart's lines have a shape.
    let seen = 0;
    const { completed } = await until(
      "4 samples of every queue and 2 reports of orders' acks",
      async () => {
        const queues: Array<{ name: string; history: Array<{ completed: number }> }> =
          (await api(dash, "GET", "api/queues")).json.queues;
        const samples = Math.min(...queues.map((q) => q.history.length));
        if (samples > seen) {
          seen = samples;
          await send(emails!, 6);
        }
        const counts = queues.find((q) => q.name === "orders")!.history.map((x) => x.completed);
        const reports = new Set(counts.filter((n) => n > 0)).size;
        return { samples, reports, completed: Math.max(0, ...counts) };
      },
      ({ samples, reports }) => samples >= 4 && reports >= 2,
    );
    // The page has drawn them: it shows that count (or a later one), and both charts have lines.
    await until(
      `orders' completed count to reach ${completed} on the page`,
      () => textOf(page, countCell("orders", "count-completed")),
      (text) => Number(text) >= completed,
    );
    const lines = (chart: string) =>
      page.locator(`svg${tid(chart)}`).locator("path, polyline").count();
    await until("4 lines in the state chart", () => lines("rate-chart"), (n) => n >= 4);
    await until("2 lines in the throughput chart", () => lines("throughput-chart"), (n) => n >= 2);
    assert.doesNotMatch(await textOf(page, tid("rates")) ?? "", /collecting/);
    assert.ok(Number(await textOf(page, tid("rate-processed"))) > 0);

    await Deno.mkdir(OUTPUT_DIR, { recursive: true });
    const file = new URL("dashboard.png", OUTPUT_DIR);
    const png = await page.screenshot({ path: file.pathname });
    // A PNG of 1280×800 (IHDR: width and height, big-endian, at bytes 16 and 20).
    const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.deepEqual([view.getUint32(16), view.getUint32(20)], [1280, 800]);
    assert.ok((await Deno.stat(file)).size > 20_000, "the screenshot is nearly empty");
    if (Deno.env.get("DYNAMOMQ_UPDATE_SCREENSHOT") === "1") {
      await Deno.writeFile(DOCS_SCREENSHOT, png);
    }
  } finally {
    producing = false;
    await producer;
    await run(quiet(Scope.close(scope, Exit.void)));
  }
  if (producerError !== undefined) throw producerError;
});

Deno.test({
  name: "dashboard in Chromium, end to end",
  ignore: !runs,
  fn: async (t) => {
    if (!chromiumFound) {
      throw new Error(`Chromium not found at ${chromiumPath()} and CI=true: install chromium`);
    }
    const runtime = ManagedRuntime.make(live);
    const browser = await launchBrowser();
    try {
      // Concurrent steps are allowed only with their sanitizers off; this test's own sanitizers
      // still check that nothing (processes, pages, sockets) outlives the scenarios.
      const results = await Promise.all(
        scenarios.map(([name, options, fn]) =>
          t.step({
            name,
            fn: () => runScenario(browser, runtime, name, options, fn),
            sanitizeOps: false,
            sanitizeResources: false,
            sanitizeExit: false,
          })
        ),
      );
      assert.ok(results.every((passed) => passed), "a scenario failed (see its step)");
    } finally {
      await browser.close();
      await runtime.dispose();
    }
  },
});

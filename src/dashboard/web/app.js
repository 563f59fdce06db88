// @ts-check
/// <reference lib="dom" />
/*
 * The dashboard's client: plain browser JavaScript, no framework and no build step. Hash routing
 * (overview, queue, message), polling while "live" is on, and the dead-letter actions behind a
 * confirm dialog. Message data is only ever inserted as text.
 *
 * This file is source: `scripts/gen-assets.ts` copies it (with index.html and app.css) into
 * `src/dashboard/assets.ts`, which the server sends as `app.js`. `deno fmt` and `deno lint` cover
 * it, and `deno task check` type-checks it (`@ts-check` with the JSDoc types below, against the
 * DOM library referenced above).
 *
 * Times here are the browser's own (`Date.now()`, `new Date()`): this runs in the browser, out of
 * reach of the server's Effect Clock, and only shows relative times and the time of the last update.
 */

/** @typedef {"ready" | "delayed" | "inflight" | "dead"} StateName */
/**
 * @typedef {{
 *   table: string, readOnly: boolean, tokenRequired: boolean, sampleIntervalMillis: number,
 *   historyMillis: number,
 * }} ApiInfo
 */
/**
 * @typedef {{
 *   ready: number, delayed: number, inflight: number, dead: number, oldestReadyAge: number,
 * }} QueueCounts
 */
/** @typedef {{ at: number } & Record<string, number>} ChartPoint */
/**
 * @typedef {{
 *   at: number, ready: number, delayed: number, inflight: number, dead: number, completed: number,
 * }} CountSample
 */
/** @typedef {{ at: number, processed: number, arriving: number }} FlowSample */
/**
 * @typedef {{
 *   name: string, shards: number, priorities: number, maxReceives: number,
 *   visibilityTimeoutMillis: number, stats: QueueCounts, completed: number, sampledAt: number,
 *   history: ReadonlyArray<CountSample>,
 * }} QueueRow
 */
/** @typedef {{ at: number, receive: number, tag: string, message: string }} AttemptRow */
/**
 * @typedef {{
 *   id: string, state: StateName, receives: number, priority: number, sentAt: number,
 *   updatedAt: number, visibleAt: number, group?: string, deduplicationId?: string,
 *   deadReason?: { tag: string, message: string }, attemptCount: number, lastAttempt?: AttemptRow,
 * }} MessageSummary
 */
/**
 * @typedef {MessageSummary & {
 *   attempts: ReadonlyArray<AttemptRow>, body?: unknown, bodyError?: string,
 * }} MessageDetail
 */
/** @typedef {{ el: HTMLElement, load: (current: () => boolean) => Promise<void> }} PageView */
/** @typedef {Node | string | number | false | null | undefined} DomLeaf */
/**
 * What `h` and `s` append: nodes, text (numbers too), and lists of them (nested twice at most);
 * `null`, `undefined` and `false` are skipped, so `cond && h(…)` works.
 * @typedef {DomLeaf | ReadonlyArray<DomLeaf | ReadonlyArray<DomLeaf>>} DomChild
 */
/**
 * Attributes of `h`: functions under `on…` names become listeners; `false`, `null` and
 * `undefined` are left out; `true` is an empty attribute.
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: never) => void)>} Attrs
 */

"use strict";
(() => {
  /** @type {ReadonlyArray<StateName>} */
  const STATES = ["ready", "delayed", "inflight", "dead"];
  /** @type {(s: unknown) => s is StateName} */
  const isState = (s) => STATES.some((k) => k === s);
  const PAGE_SIZE = 25;
  const SVG_NS = "http://www.w3.org/2000/svg";
  /**
   * The page's element with this id (of this type).
   * @template {HTMLElement} [T=HTMLElement]
   * @param {string} id
   * @param {{ new (): T }} [type]
   * @returns {T}
   */
  function $(id, type) {
    const el = document.getElementById(id);
    if (!(el instanceof (type ?? HTMLElement))) throw new Error("the page has no #" + id);
    return /** @type {T} */ (el);
  }
  /** @typedef {ReturnType<typeof setTimeout> | undefined} Timer */
  /**
   * @type {{
   *   info: ApiInfo | null, queues: ReadonlyArray<QueueRow>, view: PageView | null, seq: number,
   *   timer: Timer, interval: number, live: boolean, chartQueue: string, toastTimer: Timer,
   *   toastFromRefresh: boolean, tokenPrompt: Promise<string | null> | null, token: string,
   * }}
   */
  const app = {
    info: null,
    queues: [],
    view: null,
    seq: 0,
    timer: undefined,
    interval: 2000,
    live: true,
    chartQueue: "",
    toastTimer: undefined,
    toastFromRefresh: false,
    tokenPrompt: null,
    token: sessionStorage.getItem("dynamomq-dashboard-token") || "",
  };
  /** `api/info`, which `start` loads before any page is shown. */
  const info = () => {
    if (app.info === null) throw new Error("api/info is not loaded yet");
    return app.info;
  };

  // ---- DOM helpers: attributes named on* become listeners; children are appended as text.
  /**
   * @template {Element} E
   * @param {E} el
   * @param {ReadonlyArray<DomChild>} children
   * @returns {E}
   */
  function append(el, children) {
    for (const c of children) {
      if (Array.isArray(c)) append(el, c);
      else if (c !== null && c !== undefined && c !== false) {
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
    }
    return el;
  }
  /**
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {Attrs | null} [attrs]
   * @param {...DomChild} children
   * @returns {HTMLElementTagNameMap[K]}
   */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
      else if (k === "checked" || k === "disabled" || k === "value") Object.assign(el, { [k]: v });
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    return append(el, children);
  }
  /**
   * @param {string} tag
   * @param {Record<string, string | number> | null} [attrs]
   * @param {...DomChild} children
   * @returns {SVGElement}
   */
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return append(el, children);
  }
  /** @type {(label: string, cls?: string) => HTMLTableCellElement} */
  const th = (label, cls) => h("th", { class: cls }, label);
  /**
   * @param {string} cls
   * @param {...DomChild} children
   */
  const td = (cls, ...children) => h("td", { class: cls }, ...children);
  /** @type {(state: StateName, testid?: string) => HTMLSpanElement} */
  const badge = (state, testid) =>
    h("span", { class: "badge state-" + state, "data-testid": testid }, state);
  /** @type {(text: string) => HTMLSpanElement} */
  const tag = (text) => h("span", { class: "tag" }, text);

  // ---- Formatting
  /** @type {(n: number, w?: number) => string} */
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  /** @type {(d: Date) => string} */
  const clock = (d) => pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  /** @type {(n: number, word: string, many?: string) => string} */
  const plural = (n, word, many) => n + " " + (n === 1 ? word : many || word + "s");
  /** @param {number} ms */
  function isoLocal(ms) {
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(d) +
      "." + pad(d.getMilliseconds(), 3);
  }
  /** @param {number} ms */
  function duration(ms) {
    let sec = Math.round(Math.abs(ms) / 1000);
    if (sec < 60) return sec + "s";
    const days = Math.floor(sec / 86400), hours = Math.floor((sec % 86400) / 3600);
    const mins = Math.floor((sec % 3600) / 60);
    sec = sec % 60;
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + mins + "m";
    return mins + "m " + sec + "s";
  }
  /** @param {number} ms */
  function relative(ms) {
    const diff = ms - Date.now(); // the browser's clock: see the top of this file
    if (Math.abs(diff) < 1000) return "now";
    return diff < 0 ? duration(diff) + " ago" : "in " + duration(diff);
  }
  // Relative times are re-computed in place on refresh, so unchanged tables are not rebuilt.
  /** @param {number} ms */
  const rel = (ms) => h("span", { class: "rel", "data-at": ms }, relative(ms));
  /** @param {ParentNode} root */
  const updateRelative = (root) =>
    root.querySelectorAll("[data-at]").forEach((el) =>
      el.textContent = relative(Number(el.getAttribute("data-at")))
    );
  /** @type {(text: string, n: number) => string} */
  const truncate = (text, n) => text.length > n ? text.slice(0, n - 1) + "…" : text;
  /** @type {(r: number) => string} */
  const rate = (r) => (r < -0.05 ? "−" : "+") + Math.abs(r).toFixed(1) + "/s";
  const enc = encodeURIComponent;
  /** @type {(name: string, state?: StateName) => string} */
  const queueHref = (name, state) => "#/queues/" + enc(name) + (state ? "?state=" + state : "");
  /** @type {(name: string, id: string) => string} */
  const messageHref = (name, id) => "#/queues/" + enc(name) + "/messages/" + enc(id);
  /** @type {(e: unknown) => string} */
  const errorText = (e) => (e instanceof Error && e.message) || String(e);

  // ---- Toast: the last action's result, or an error (class "error").
  /**
   * @param {string} text
   * @param {boolean} [isError]
   * @param {boolean} [fromRefresh]
   */
  function toast(text, isError, fromRefresh) {
    const el = $("toast");
    clearTimeout(app.toastTimer);
    el.textContent = text || "";
    el.classList.toggle("error", Boolean(isError));
    app.toastFromRefresh = Boolean(fromRefresh);
    if (text && !isError) app.toastTimer = setTimeout(() => toast(""), 20000);
  }

  // ---- Dialogs: resolve true when closed with "ok"; Escape closes with "".
  /**
   * @param {HTMLDialogElement} dialog
   * @param {HTMLElement} focus
   * @returns {Promise<boolean>}
   */
  function openDialog(dialog, focus) {
    return new Promise((resolve) => {
      dialog.returnValue = "";
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      focus.focus();
    });
  }
  /** @type {(text: string, okLabel: string) => Promise<boolean>} */
  function confirmAction(text, okLabel) {
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    return openDialog($("confirm-dialog", HTMLDialogElement), $("confirm-cancel"));
  }
  /** @returns {Promise<string | null>} */
  async function promptToken() {
    const input = $("token-input", HTMLInputElement);
    input.value = app.token;
    if (!(await openDialog($("token-dialog", HTMLDialogElement), input)) || !input.value) {
      return null;
    }
    app.token = input.value;
    sessionStorage.setItem("dynamomq-dashboard-token", app.token);
    return app.token;
  }
  // Concurrent 401s share one prompt.
  /** @returns {Promise<string | null>} */
  function askToken() {
    const prompt = app.tokenPrompt ?? promptToken().finally(() => app.tokenPrompt = null);
    app.tokenPrompt = prompt;
    return prompt;
  }

  // ---- API: paths are relative to the page, so the dashboard works under any prefix.
  /** A failed API call: the HTTP status (0: no answer) and the API's `error` tag. */
  class ApiError extends Error {
    /**
     * @param {number} status
     * @param {string | undefined} tag
     * @param {string | undefined} message
     */
    constructor(status, tag, message) {
      super(message || tag || "HTTP " + status);
      this.status = status;
      this.tag = tag;
    }
  }
  /**
   * Calls the admin API; a change refused with 401 asks for the token (once) and is retried.
   * Resolves with the JSON answer, whose shape the caller knows; rejects with an `ApiError`.
   * @param {string} path
   * @param {"GET" | "POST" | "DELETE"} [method]
   * @param {unknown} [body]
   * @param {boolean} [retried]
   * @returns {Promise<unknown>}
   */
  async function api(path, method, body, retried) {
    const mutating = method !== undefined && method !== "GET";
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    /** @type {RequestInit} */
    const init = { method: method || "GET", headers };
    if (mutating) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
      if (app.token) headers.Authorization = "Bearer " + app.token;
    }
    const res = await fetch(path, init).catch(() => {
      throw new ApiError(0, "NetworkError", "Cannot reach the dashboard server");
    });
    if (res.status === 401 && mutating && !retried && (await askToken()) !== null) {
      return api(path, method, body, true);
    }
    /** @type {{ error?: string, message?: string } | null} */
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, data?.error, data?.message);
    return data;
  }
  /** @param {string} name */
  const queuePath = (name) => "api/queues/" + enc(name);

  // ---- Routing and the live loop
  /**
   * @typedef {{ page: "overview" }
   *   | { page: "queue", queue: string, state: StateName }
   *   | { page: "message", queue: string, id: string }} Route
   */
  /** @returns {Route} */
  function parseRoute() {
    const hash = location.hash.replace(/^#\/?/, "");
    const q = hash.indexOf("?");
    /** @type {Array<string>} */
    let parts;
    try {
      parts = (q < 0 ? hash : hash.slice(0, q)).split("/").filter(Boolean).map((p) =>
        decodeURIComponent(p)
      );
    } catch {
      return { page: "overview" };
    }
    const state = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1)).get("state");
    const [head, queue, sub, id] = parts;
    if (head === "queues" && queue !== undefined && parts.length === 2) {
      return { page: "queue", queue, state: isState(state) ? state : "ready" };
    }
    if (
      head === "queues" && queue !== undefined && sub === "messages" && id !== undefined &&
      parts.length === 4
    ) {
      return { page: "message", queue, id };
    }
    return { page: "overview" };
  }
  function onRoute() {
    const route = parseRoute();
    const view = route.page === "queue"
      ? queueView(route)
      : route.page === "message"
      ? messageView(route)
      : overviewView();
    app.view = view;
    $("app").replaceChildren(view.el);
    refresh();
  }
  // Each refresh gets a sequence number; a response that is no longer the latest is dropped.
  async function refresh() {
    clearTimeout(app.timer);
    const seq = ++app.seq;
    const current = () => seq === app.seq;
    try {
      if (app.view !== null) await app.view.load(current);
      if (current()) {
        $("updated-at").textContent = clock(new Date());
        if (app.toastFromRefresh) toast("");
      }
    } catch (e) {
      if (current()) toast(errorText(e), true, true);
    }
    if (current()) schedule();
  }
  function schedule() {
    clearTimeout(app.timer);
    if (app.live && !document.hidden) app.timer = setTimeout(refresh, app.interval);
  }

  // ---- Overview: totals, the queues table, the two charts.
  /** @param {QueueRow} q */
  function queueRow(q) {
    const st = q.stats;
    return h(
      "tr",
      { "data-testid": "queue-row", "data-queue": q.name },
      td("name", h("a", { href: queueHref(q.name), "data-testid": "queue-link" }, q.name)),
      h("td", { class: "num", "data-testid": "count-ready" }, st.ready),
      h("td", { class: "num", "data-testid": "count-delayed" }, st.delayed),
      h("td", { class: "num", "data-testid": "count-inflight" }, st.inflight),
      h(
        "td",
        { class: "num", "data-testid": "count-dead" },
        h("a", {
          href: queueHref(q.name, "dead"),
          class: st.dead > 0 ? "dead-link" : "plain-link",
        }, st.dead),
      ),
      h("td", { class: "num", "data-testid": "count-completed" }, q.completed || 0),
      h(
        "td",
        { class: "num", "data-testid": "oldest" },
        st.oldestReadyAge > 0 ? duration(st.oldestReadyAge) : "—",
      ),
      td(
        "muted small",
        plural(q.shards, "shard") + " · " + plural(q.priorities, "priority", "priorities"),
      ),
    );
  }
  /** @type {ReadonlyArray<[keyof FlowSample, string]>} */
  const FLOWS = [["processed", "processed/s"], ["arriving", "arriving/s"]];
  /** @returns {PageView} */
  function overviewView() {
    const tiles = h("div", { class: "tiles" });
    const tbody = h("tbody");
    const table = h(
      "table",
      { class: "grid", "data-testid": "queues" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          th("Queue"),
          th("Ready", "num"),
          th("Delayed", "num"),
          th("In flight", "num"),
          th("Dead", "num"),
          th("Completed", "num"),
          th("Oldest ready", "num"),
          th("Shape"),
        ),
      ),
      tbody,
    );
    const select = h("select", {
      "data-testid": "chart-queue",
      "aria-label": "Queue shown in the charts",
      onchange: () => {
        app.chartQueue = select.value;
        drawCharts();
      },
    });
    const stateBox = h("div", { class: "chart" }), flowBox = h("div", { class: "chart" });
    const rates = h("span", { "data-testid": "rates" }, "collecting…");
    /** @param {ReadonlyArray<readonly [string, string]>} keys */
    const legend = (keys) =>
      h(
        "div",
        { class: "legend" },
        keys.map(([k, label]) => h("span", { class: "key key-" + k }, label)),
      );
    const el = h(
      "div",
      null,
      tiles,
      h(
        "section",
        { class: "card" },
        h("div", { class: "card-head" }, h("h2", null, "Queues")),
        h("div", { class: "table-wrap" }, table),
      ),
      h(
        "div",
        { class: "chart-bar" },
        h("label", { class: "chart-pick" }, "Charts for ", select),
        h("span", { class: "rates" }, "Last minute: ", rates),
      ),
      h(
        "div",
        { class: "charts" },
        h(
          "section",
          { class: "card chart-card" },
          h("div", { class: "card-head" }, h("h2", null, "Messages by state")),
          stateBox,
          h("div", { class: "chart-foot" }, legend(STATES.map((k) => [k, k]))),
        ),
        h(
          "section",
          { class: "card chart-card" },
          h("div", { class: "card-head" }, h("h2", null, "Throughput")),
          flowBox,
          h(
            "div",
            { class: "chart-foot" },
            legend(FLOWS),
            h("span", { class: "muted small" }, "30 s averages; handles report acks every 10 s"),
          ),
        ),
      ),
    );
    /** @type {string | null} */
    let optionKey = null;
    function drawCharts() {
      const qs = app.chartQueue ? app.queues.filter((q) => q.name === app.chartQueue) : app.queues;
      const counts = alignSum(qs.map((q) => q.history), [...STATES, "completed"]);
      const flows = alignSum(qs.map((q) => flowSeries(q.history)), FLOWS.map((f) => f[0]));
      // Both charts share the x axis of the counts, so their instants line up.
      const axis = timeAxis(counts);
      stateBox.replaceChildren(lineChart({
        testid: "rate-chart",
        label: "Messages per state",
        axis,
        samples: counts,
        keys: ["delayed", "inflight", "ready", "dead"],
        top: (max) => Math.max(max, 1),
        format: String,
      }));
      flowBox.replaceChildren(lineChart({
        testid: "throughput-chart",
        label: "Messages processed and arriving per second",
        axis,
        samples: flows,
        keys: ["arriving", "processed"],
        top: niceRate,
        format: (v) => perSecond(v) + "/s",
      }));
      rates.replaceChildren(...ratesContent(counts));
    }
    /** @param {() => boolean} current */
    async function load(current) {
      const data = /** @type {{ queues: Array<QueueRow> }} */ (await api("api/queues"));
      if (!current()) return;
      app.queues = data.queues;
      /** @type {Record<StateName, number>} */
      const totals = { ready: 0, delayed: 0, inflight: 0, dead: 0 };
      for (const q of app.queues) for (const k of STATES) totals[k] += q.stats[k];
      tiles.replaceChildren(...STATES.map((k) =>
        h(
          "div",
          { class: "tile tile-" + k },
          h("div", { class: "tile-label" }, k === "inflight" ? "in flight" : k),
          h("div", { class: "tile-value" }, totals[k]),
        )
      ));
      tbody.replaceChildren(
        ...(app.queues.length ? app.queues.map(queueRow) : [h(
          "tr",
          null,
          h(
            "td",
            { colspan: 8, class: "empty", "data-testid": "empty" },
            "No queues in this table's catalog yet. A queue appears once a handle sends to it or receives from it (or pass --queue).",
          ),
        )]),
      );
      // Options are rebuilt only when the queue list changes, so an open dropdown stays open.
      const names = app.queues.map((q) => q.name);
      if (optionKey !== JSON.stringify(names)) {
        optionKey = JSON.stringify(names);
        if (!names.includes(app.chartQueue)) app.chartQueue = "";
        select.replaceChildren(
          h("option", { value: "" }, "All queues"),
          ...names.map((n) => h("option", { value: n }, n)),
        );
        select.value = app.chartQueue;
      }
      drawCharts();
    }
    return { el, load };
  }
  // The sum of several queues' series at common instants. Queues are sampled a few ms apart, so
  // instants closer than half an interval make one; each queue adds its latest point by then.
  /**
   * @template {ChartPoint} P
   * @param {ReadonlyArray<ReadonlyArray<P>>} series
   * @param {ReadonlyArray<string>} keys the keys of P to sum (all but `at`)
   * @returns {ReadonlyArray<P>}
   */
  function alignSum(series, keys) {
    const [only] = series;
    if (series.length === 1 && only !== undefined) return only;
    /** @type {Array<number>} */
    const times = [];
    let group = -Infinity;
    for (const at of series.flatMap((xs) => xs.map((x) => x.at)).sort((a, b) => a - b)) {
      if (at - group < app.interval / 2) times[times.length - 1] = at;
      else times.push(group = at);
    }
    const idx = series.map(() => -1);
    return times.map((at) => {
      /** @type {ChartPoint} */
      const sum = { at };
      for (const k of keys) sum[k] = 0;
      series.forEach((xs, i) => {
        let j = idx[i] ?? -1;
        while (j + 1 < xs.length && /** @type {P} */ (xs[j + 1]).at <= at) j++;
        idx[i] = j;
        const x = xs[j];
        if (x) { for (const k of keys) sum[k] = (sum[k] ?? 0) + (x[k] || 0); }
      });
      return /** @type {P} */ (sum);
    });
  }
  /** @param {CountSample} x */
  const backlogOf = (x) => x.ready + x.delayed + x.inflight;
  /** @param {CountSample} x */
  const completedOf = (x) => x.completed || 0;
  // One queue's processed and arriving rates: each sample against the earliest one at most 30 s
  // older. Handles add their acks to the catalog in steps (every 10 s at most), so the 30 s span
  // smooths the steps out. What left the backlog without being acked (a purge, a deletion) is
  // not an arrival: hence the clamp at 0.
  /**
   * @param {ReadonlyArray<CountSample>} history
   * @returns {Array<FlowSample>}
   */
  function flowSeries(history) {
    /** @type {Array<FlowSample>} */
    const out = [];
    let j = 0;
    for (let i = 1; i < history.length; i++) {
      const x = /** @type {CountSample} */ (history[i]);
      while (/** @type {CountSample} */ (history[j]).at < x.at - 30000) j++;
      if (j >= i) continue;
      const y = /** @type {CountSample} */ (history[j]);
      const dt = (x.at - y.at) / 1000;
      if (dt <= 0) continue;
      const processed = Math.max(0, (completedOf(x) - completedOf(y)) / dt);
      const backlog = (backlogOf(x) + x.dead - backlogOf(y) - y.dead) / dt;
      out.push({ at: x.at, processed, arriving: Math.max(0, processed + backlog) });
    }
    return out;
  }
  /**
   * @param {ReadonlyArray<CountSample>} samples
   * @returns {Array<string | Node>}
   */
  function ratesContent(samples) {
    const last = samples[samples.length - 1];
    const first = last && samples.find((x) => x.at >= last.at - 60000);
    if (samples.length < 2 || last === undefined || first === undefined) return ["collecting…"];
    const secs = (last.at - first.at) / 1000;
    if (secs <= 0) return ["collecting…"];
    const processed = Math.max(0, (completedOf(last) - completedOf(first)) / secs);
    const backlog = (backlogOf(last) - backlogOf(first)) / secs;
    const dead = (last.dead - first.dead) / secs;
    // Arrivals: what was processed plus what stayed, in the backlog or dead-lettered.
    const arriving = Math.max(0, processed + backlog + dead);
    return [
      "processed ",
      h("span", { "data-testid": "rate-processed" }, processed.toFixed(1)),
      "/s",
      " · arriving " + arriving.toFixed(1) + "/s · backlog " + rate(backlog) + " · dead " +
      rate(dead),
    ];
  }
  // Rates are shown with one decimal below 10/s, whole above; the chart's top is such a number.
  /** @param {number} v */
  const perSecond = (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1));
  /** @param {number} max */
  const niceRate = (max) => Math.max(1, max >= 10 ? Math.ceil(max) : Math.ceil(max * 10) / 10);
  // The x axis spans the history held (up to 15 minutes), so a young dashboard's few samples
  // fill the chart instead of a sliver at its right edge.
  /**
   * @param {ReadonlyArray<ChartPoint>} samples
   * @returns {{ start: number, span: number }}
   */
  function timeAxis(samples) {
    const history = (app.info && app.info.historyMillis) || 900000;
    const first = samples[0], last = samples[samples.length - 1];
    const end = last ? last.at : Date.now(); // the browser's clock: see the top of this file
    const span = Math.min(history, Math.max(first ? end - first.at : history, 10000));
    return { start: end - span, span };
  }
  /**
   * @param {{
   *   testid: string, label: string, axis: { start: number, span: number },
   *   samples: ReadonlyArray<ChartPoint>, keys: ReadonlyArray<string>,
   *   top: (max: number) => number, format: (v: number) => string,
   * }} o
   */
  function lineChart(o) {
    const W = 560, H = 226, L = 52, R = 10, T = 12, B = 24;
    const { start, span } = o.axis;
    const shown = o.samples.filter((x) => x.at >= start);
    let max = 0;
    for (const x of shown) for (const k of o.keys) max = Math.max(max, x[k] ?? 0);
    const top = o.top(max);
    /** @param {number} at */
    const X = (at) => (L + ((at - start) / span) * (W - L - R)).toFixed(1);
    /** @param {number} v */
    const Y = (v) => (H - B - (v / top) * (H - B - T)).toFixed(1);
    const root = s("svg", {
      viewBox: "0 0 " + W + " " + H,
      class: "chart-svg",
      "data-testid": o.testid,
      role: "img",
      "aria-label": o.label + " over the last " + duration(span),
    });
    for (const f of [0, 0.5, 1]) {
      const y = Y(top * f);
      root.append(
        s("line", { x1: L, x2: W - R, y1: y, y2: y, class: f === 0 ? "axis-line" : "grid-line" }),
      );
    }
    root.append(
      s(
        "text",
        { x: L, y: H - 6, class: "axis-label" },
        "-" + (span % 60000 < 1000 ? Math.round(span / 60000) + "m" : duration(span)),
      ),
      s("text", { x: W - R, y: H - 6, class: "axis-label end" }, "now"),
    );
    if (shown.length < 2) {
      root.append(
        s(
          "text",
          { x: (L + W - R) / 2, y: (H - B + T) / 2, class: "axis-label middle" },
          "collecting…",
        ),
      );
      return root;
    }
    root.append(
      s("text", { x: L - 8, y: Number(Y(top)) + 4, class: "axis-label end" }, o.format(top)),
      s("text", { x: L - 8, y: Number(Y(0)) + 4, class: "axis-label end" }, "0"),
    );
    for (const k of o.keys) {
      const points = shown.map((x) => X(x.at) + "," + Y(x[k] ?? 0)).join(" ");
      root.append(s("polyline", { points, class: "line line-" + k }, s("title", null, k)));
    }
    return root;
  }

  // ---- Queue page: tabs per state, search, one page of messages, dead-letter actions.
  /**
   * @param {{ queue: string, state: StateName }} route
   * @returns {PageView}
   */
  function queueView(route) {
    const name = route.queue, state = route.state;
    const canAct = state === "dead" && !info().readOnly;
    /**
     * @type {{
     *   stack: Array<string | null>, cursor: string | null, next: string | null,
     *   search: { field: string, value: string } | null, selected: Set<string>, key: string,
     *   stats: QueueCounts | null,
     * }}
     */
    const st = {
      stack: [],
      cursor: null,
      next: null,
      search: null,
      selected: new Set(),
      key: "",
      stats: null,
    };
    const tabs = STATES.map((k) => {
      const count = h("span", { class: "count" }, "0");
      const link = h(
        "a",
        {
          href: queueHref(name, k),
          class: "tab" + (k === state ? " active" : ""),
          "data-testid": "tab-" + k,
        },
        k,
        " ",
        count,
      );
      return { state: k, link, count };
    });
    const meta = h("span", { class: "muted small" }),
      searchNote = h("span", { class: "muted small" });
    const field = h(
      "select",
      { "data-testid": "search-field", "aria-label": "Search field" },
      ["id", "group", "deduplicationId"].map((f) => h("option", { value: f }, f)),
    );
    const input = h("input", {
      type: "search",
      "data-testid": "search-input",
      placeholder: "Search…",
      "aria-label": "Search value",
      onkeydown: /** @param {KeyboardEvent} e */ (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          search();
        }
      },
    });
    const tbody = h("tbody"), thead = h("thead");
    const prev = h(
      "button",
      { type: "button", "data-testid": "prev-page", onclick: () => page(-1) },
      "‹ Previous",
    );
    const next = h(
      "button",
      { type: "button", "data-testid": "next-page", onclick: () => page(1) },
      "Next ›",
    );
    const pageLabel = h("span", { class: "muted small" });
    const redriveSelected = canAct &&
      h("button", {
        type: "button",
        "data-testid": "redrive-selected",
        class: "primary",
        onclick: redriveSome,
      });
    const actions = canAct && h(
      "div",
      { class: "actions" },
      redriveSelected,
      h(
        "button",
        { type: "button", "data-testid": "redrive-all", onclick: redriveAll },
        "Redrive all",
      ),
      h(
        "button",
        { type: "button", "data-testid": "purge-dead", class: "danger", onclick: purge },
        "Purge dead",
      ),
    );
    const el = h(
      "div",
      null,
      h("a", { href: "#/", class: "back" }, "← Overview"),
      h("div", { class: "title-row" }, h("h2", { "data-testid": "queue-name" }, name), meta),
      h("nav", { class: "tabs" }, tabs.map((t) => t.link)),
      h(
        "section",
        { class: "card" },
        h(
          "div",
          { class: "toolbar" },
          h(
            "div",
            { class: "search" },
            field,
            input,
            h(
              "button",
              { type: "button", "data-testid": "search-button", onclick: search },
              "Search",
            ),
            h(
              "button",
              { type: "button", "data-testid": "search-clear", onclick: clearSearch },
              "Clear",
            ),
            searchNote,
          ),
          actions,
        ),
        h(
          "div",
          { class: "table-wrap" },
          h("table", { class: "grid", "data-testid": "messages" }, thead, tbody),
        ),
        h("div", { class: "pager" }, prev, pageLabel, next),
      ),
    );
    const resetPaging = () => {
      st.stack = [];
      st.cursor = null;
      st.next = null;
    };
    function search() {
      const value = input.value.trim();
      if (!value) return clearSearch();
      st.search = { field: field.value, value };
      resetPaging();
      refresh();
    }
    function clearSearch() {
      input.value = "";
      st.search = null;
      resetPaging();
      refresh();
    }
    /** @param {number} dir */
    function page(dir) {
      if (dir > 0 && st.next) {
        st.stack.push(st.cursor);
        st.cursor = st.next;
      } else if (dir < 0 && st.stack.length) st.cursor = st.stack.pop() ?? null;
      else return;
      refresh();
    }
    function updateSelection() {
      if (!redriveSelected) return;
      redriveSelected.textContent = "Redrive selected (" + st.selected.size + ")";
      redriveSelected.disabled = st.selected.size === 0;
    }
    /**
     * @template R
     * @param {string} text
     * @param {string} okLabel
     * @param {string} path
     * @param {unknown} body
     * @param {(result: R) => [string, boolean]} done the toast's text, and whether it is an error
     */
    async function run(text, okLabel, path, body, done) {
      if (!(await confirmAction(text, okLabel))) return;
      try {
        const result = /** @type {R} */ (await api(path, "POST", body));
        const [message, isError] = done(result);
        toast(message, isError);
        st.selected.clear();
        st.key = ""; // re-render the rows so no checkbox stays ticked
        updateSelection();
      } catch (e) {
        toast(errorText(e), true);
      }
      refresh();
    }
    /**
     * @param {{ redriven: number, failed?: ReadonlyArray<{ message: string }> }} r
     * @returns {[string, boolean]}
     */
    const redriven = (r) => {
      const failed = r.failed || [];
      let text = "Redrove " + plural(r.redriven, "message");
      if (failed[0]) text += "; " + failed.length + " failed: " + failed[0].message;
      return [text, failed.length > 0 && r.redriven === 0];
    };
    const allDead = () => {
      const n = st.stats ? st.stats.dead : 0;
      return n === 1 ? "the 1 dead message" : "all " + n + " dead messages";
    };
    function redriveSome() {
      const ids = [...st.selected];
      run(
        "Redrive " + plural(ids.length, "message") + " of " + name + "?",
        "Redrive",
        queuePath(name) + "/redrive",
        { ids },
        redriven,
      );
    }
    function redriveAll() {
      run(
        "Redrive " + allDead() + " of " + name + "?",
        "Redrive all",
        queuePath(name) + "/redrive",
        { all: true },
        redriven,
      );
    }
    function purge() {
      run(
        "Purge " + allDead() + " of " + name + "? This cannot be undone.",
        "Purge",
        queuePath(name) + "/purge",
        { state: "dead" },
        /** @param {{ purged: number }} r */ (
          r,
        ) => ["Purged " + plural(r.purged, "message"), false],
      );
    }
    /**
     * @param {MessageSummary} m
     * @param {{ visible: boolean, dead: boolean }} cols
     */
    function messageRow(m, cols) {
      const check = canAct && m.state === "dead" && h("input", {
        type: "checkbox",
        "data-testid": "select-message",
        "aria-label": "Select " + m.id,
        checked: st.selected.has(m.id),
        onchange: /** @param {Event} e */ (e) => {
          if (/** @type {HTMLInputElement} */ (e.target).checked) st.selected.add(m.id);
          else st.selected.delete(m.id);
          updateSelection();
        },
      });
      const err = m.lastAttempt ? m.lastAttempt.tag + ": " + m.lastAttempt.message : "";
      return h(
        "tr",
        { "data-testid": "message-row", "data-id": m.id },
        canAct && td("check", check),
        td(
          "mono",
          h("a", { href: messageHref(name, m.id), "data-testid": "message-link" }, m.id),
          m.state !== state && [" ", badge(m.state)],
        ),
        td(m.group ? "nowrap" : "muted", m.group || "—"),
        td("num", m.receives),
        td("num", m.priority),
        td("nowrap", rel(m.sentAt)),
        td("nowrap", rel(m.updatedAt)),
        cols.visible && td("nowrap", rel(m.visibleAt)),
        cols.dead && td("", m.deadReason ? tag(m.deadReason.tag) : "—"),
        td(
          "error-text",
          err
            ? h("span", { class: "clip", title: err }, truncate(err, 80))
            : h("span", { class: "muted" }, "—"),
        ),
      );
    }
    /** @param {ReadonlyArray<MessageSummary>} messages */
    function renderTable(messages) {
      const cols = { visible: state === "delayed" || state === "inflight", dead: state === "dead" };
      const all = canAct && h("input", {
        type: "checkbox",
        "aria-label": "Select all on this page",
        checked: messages.length > 0 && messages.every((m) => st.selected.has(m.id)),
        onchange: /** @param {Event} e */ (e) => {
          const checked = /** @type {HTMLInputElement} */ (e.target).checked;
          for (const m of messages) {
            if (m.state !== "dead") continue;
            if (checked) st.selected.add(m.id);
            else st.selected.delete(m.id);
          }
          renderTable(messages);
          updateSelection();
        },
      });
      thead.replaceChildren(
        h(
          "tr",
          null,
          canAct && h("th", { class: "check" }, all),
          th("Id"),
          th("Group"),
          th("Receives", "num"),
          th("Priority", "num"),
          th("Sent"),
          th("Updated"),
          cols.visible && th(state === "delayed" ? "Visible" : "Lease ends"),
          cols.dead && th("Reason"),
          th("Last error"),
        ),
      );
      const span = 7 + (canAct ? 1 : 0) + (cols.visible ? 1 : 0) + (cols.dead ? 1 : 0);
      tbody.replaceChildren(
        ...(messages.length ? messages.map((m) => messageRow(m, cols)) : [
          h(
            "tr",
            null,
            h("td", { colspan: span, class: "empty", "data-testid": "empty" }, "No messages"),
          ),
        ]),
      );
    }
    /** @param {() => boolean} current */
    async function load(current) {
      const params = new URLSearchParams();
      if (st.search && st.search.field === "id") params.set("id", st.search.value);
      else {
        params.set("state", state);
        params.set("limit", String(PAGE_SIZE));
        if (st.cursor) params.set("cursor", st.cursor);
        if (st.search) params.set(st.search.field, st.search.value);
      }
      const [queues, result] = await Promise.all([
        api("api/queues"),
        api(queuePath(name) + "/messages?" + params).catch((e) => {
          // An id that matches nothing is an empty result, not an error.
          if (e instanceof ApiError && e.status === 404 && e.tag === "MessageNotFound") {
            return { messages: [] };
          }
          throw e;
        }),
      ]);
      if (!current()) return;
      app.queues = /** @type {{ queues: Array<QueueRow> }} */ (queues).queues;
      const found = /** @type {{ messages: Array<MessageSummary>, cursor?: string }} */ (result);
      const q = app.queues.find((x) => x.name === name);
      st.stats = q ? q.stats : null;
      for (const t of tabs) t.count.textContent = String(st.stats ? st.stats[t.state] : 0);
      meta.textContent = q
        ? plural(q.shards, "shard") + " · max receives " + q.maxReceives +
          " · visibility timeout " +
          duration(q.visibilityTimeoutMillis)
        : "not in the catalog";
      st.next = found.cursor || null;
      prev.disabled = st.stack.length === 0;
      next.disabled = !st.next;
      pageLabel.textContent = st.search && st.search.field === "id"
        ? ""
        : "Page " + (st.stack.length + 1);
      searchNote.textContent = st.search
        ? "Showing " + st.search.field + " = " + st.search.value
        : "";
      updateSelection();
      // Rebuild rows only when the data changed; otherwise just age the relative times.
      const key = JSON.stringify(found.messages);
      if (key !== st.key) {
        st.key = key;
        renderTable(found.messages);
      } else updateRelative(tbody);
    }
    updateSelection();
    return { el, load };
  }

  // ---- Message page: fields, attempts, payload on demand, redrive/delete.
  /**
   * @param {{ queue: string, id: string }} route
   * @returns {PageView}
   */
  function messageView(route) {
    const name = route.queue, id = route.id;
    /** @type {{ showPayload: boolean, key: string, state: StateName | null }} */
    const st = { showPayload: false, key: "", state: null };
    const back = h("a", { href: queueHref(name), class: "back" }, "← " + name);
    const box = h("div");
    const el = h("div", null, back, box);
    const path = queuePath(name) + "/messages/" + enc(id);
    /** @type {(label: string, ...value: Array<DomChild>) => Array<HTMLElement>} */
    const row = (label, ...value) => [h("dt", null, label), h("dd", null, ...value)];
    /** @type {(ms: number) => Array<DomLeaf>} */
    const when = (ms) => [isoLocal(ms), " ", h("span", { class: "muted" }, "(", rel(ms), ")")];
    /** @type {(v: string | number | null | undefined) => DomChild} */
    const opt = (
      v,
    ) => (v === undefined || v === null || v === "" ? h("span", { class: "muted" }, "—") : v);
    async function redrive() {
      if (!(await confirmAction("Redrive message " + id + " of " + name + "?", "Redrive"))) return;
      try {
        const r = /** @type {{ failed?: ReadonlyArray<{ message: string }> }} */ (
          await api(queuePath(name) + "/redrive", "POST", { ids: [id] })
        );
        const failed = r.failed || [];
        toast(
          failed[0] ? "Redrive failed: " + failed[0].message : "Redrove 1 message",
          failed.length > 0,
        );
      } catch (e) {
        toast(errorText(e), true);
      }
      refresh();
    }
    async function remove() {
      if (
        !(await confirmAction(
          "Delete message " + id + " from " + name + "? This cannot be undone.",
          "Delete",
        ))
      ) return;
      try {
        await api(path, "DELETE", {});
        toast("Deleted message " + id);
        location.hash = queueHref(name, st.state || undefined);
      } catch (e) {
        toast(errorText(e), true);
        refresh();
      }
    }
    const togglePayload = () => {
      st.showPayload = !st.showPayload;
      refresh();
    };
    /** @param {MessageDetail} m */
    function render(m) {
      const q = app.queues.find((x) => x.name === name);
      const canAct = !info().readOnly;
      const buttons = h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "button", "data-testid": "show-payload", onclick: togglePayload },
          st.showPayload ? "Hide payload" : "Show payload",
        ),
        canAct && m.state === "dead" &&
          h("button", {
            type: "button",
            class: "primary",
            "data-testid": "redrive-message",
            onclick: redrive,
          }, "Redrive"),
        canAct &&
          h("button", {
            type: "button",
            class: "danger",
            "data-testid": "delete-message",
            onclick: remove,
          }, "Delete"),
      );
      const dl = h(
        "dl",
        { class: "fields" },
        row("Id", h("span", { class: "mono", "data-testid": "message-id" }, m.id)),
        row("State", badge(m.state, "message-state")),
        row(
          "Receives",
          h("span", { "data-testid": "message-receives" }, m.receives),
          q ? h("span", { class: "muted" }, " of max " + q.maxReceives) : null,
        ),
        row("Priority", m.priority),
        row("Group", opt(m.group)),
        row("Deduplication id", opt(m.deduplicationId)),
        row("Sent at", when(m.sentAt)),
        row("Updated at", when(m.updatedAt)),
        row("Visible at", when(m.visibleAt)),
        m.deadReason && row("Dead reason", tag(m.deadReason.tag), " ", m.deadReason.message),
      );
      const attempts = m.attempts || [];
      const attemptsTable = h(
        "table",
        { class: "grid", "data-testid": "attempts" },
        h(
          "thead",
          null,
          h("tr", null, th("Receive", "num"), th("Time"), th("Error"), th("Message")),
        ),
        h(
          "tbody",
          null,
          attempts.length
            ? attempts.map((a) =>
              h(
                "tr",
                { "data-testid": "attempt-row" },
                td("num", a.receive),
                td("nowrap", when(a.at)),
                td("", tag(a.tag)),
                td("wrap", a.message),
              )
            )
            : h("tr", null, h("td", { colspan: 4, class: "empty" }, "No attempts")),
        ),
      );
      const payload = !st.showPayload
        ? null
        : "bodyError" in m
        ? h("pre", { class: "payload error", "data-testid": "payload" }, m.bodyError)
        : h(
          "pre",
          { class: "payload", "data-testid": "payload" },
          "body" in m ? JSON.stringify(m.body, null, 2) : "(no payload)",
        );
      // `append`, not `replaceChildren(…, payload && …)`: the DOM would show that null as "null".
      box.replaceChildren();
      append(box, [
        h(
          "div",
          { class: "title-row" },
          h("h2", null, "Message"),
          h("span", { class: "muted mono small" }, m.id),
        ),
        h(
          "section",
          { class: "card", "data-testid": "message-detail" },
          h("div", { class: "card-head" }, h("h3", null, "Details"), buttons),
          dl,
        ),
        h(
          "section",
          { class: "card" },
          h("div", { class: "card-head" }, h("h3", null, "Attempts")),
          attemptsTable,
        ),
        payload &&
        h(
          "section",
          { class: "card" },
          h("div", { class: "card-head" }, h("h3", null, "Payload")),
          payload,
        ),
      ]);
    }
    /** @param {() => boolean} current */
    async function load(current) {
      /** @type {{ message: MessageDetail }} */
      let data;
      try {
        data = /** @type {{ message: MessageDetail }} */ (
          await api(path + (st.showPayload ? "?payload=true" : ""))
        );
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
        if (!current()) return;
        st.key = "";
        box.replaceChildren(
          h(
            "section",
            { class: "card" },
            h("p", { class: "empty", "data-testid": "not-found" }, "Message not found"),
          ),
        );
        return;
      }
      if (!current()) return;
      const m = data.message;
      st.state = m.state;
      back.href = queueHref(name, m.state);
      const key = JSON.stringify([m, st.showPayload]);
      if (key !== st.key) {
        st.key = key;
        render(m);
      } else updateRelative(box);
    }
    return { el, load };
  }

  // ---- Start: wire the static parts, load api/info, then route.
  function wire() {
    /** @type {ReadonlyArray<[string, string, string]>} */
    const closers = [
      ["confirm-ok", "confirm-dialog", "ok"],
      ["confirm-cancel", "confirm-dialog", ""],
      ["token-ok", "token-dialog", "ok"],
      ["token-cancel", "token-dialog", ""],
    ];
    for (const [button, dialog, value] of closers) {
      $(button).addEventListener("click", () => $(dialog, HTMLDialogElement).close(value));
    }
    $("token-input").addEventListener("keydown", (e) => {
      // preventDefault: otherwise the same Enter, after focus returns, clicks the button behind.
      if (e.key === "Enter") {
        e.preventDefault();
        $("token-dialog", HTMLDialogElement).close("ok");
      }
    });
    $("toast").addEventListener("click", () => toast(""));
    const live = $("live-toggle", HTMLInputElement);
    live.addEventListener("change", () => {
      app.live = live.checked;
      if (app.live) refresh();
      else clearTimeout(app.timer);
    });
    // A hidden tab stops polling (an idle dashboard reads nothing) and catches up when shown.
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && app.live && app.view) refresh();
    });
  }
  async function start() {
    wire();
    while (!app.info) {
      app.info = /** @type {ApiInfo | null} */ (await api("api/info").catch((e) => {
        toast("Cannot load api/info: " + errorText(e), true, true);
        return new Promise((resolve) => setTimeout(() => resolve(null), 2000));
      }));
    }
    toast("");
    const loaded = info();
    app.interval = loaded.sampleIntervalMillis || 2000;
    $("table-name").textContent = loaded.table;
    const mode = loaded.readOnly ? "read-only" : "read-write";
    $("mode").textContent = mode;
    $("mode").classList.add(mode);
    globalThis.addEventListener("hashchange", onRoute);
    onRoute();
  }
  start();
})();

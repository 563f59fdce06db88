/**
 * The dashboard's pages: one HTML skeleton, one script and one stylesheet. They are served as
 * three static assets (`index.html`, `app.js`, `app.css`) rather than one page with inline
 * `<script>` and `<style>`, so the server can send a strict Content-Security-Policy that forbids
 * inline script and style: even if message data ever reached the page as markup, it could not run.
 * The script builds the DOM with `textContent` only, calls the JSON admin API relative to the page
 * (`api/…`), so the dashboard works under any mount prefix, and routes on the URL hash.
 *
 * @module
 */

/**
 * The HTML page: the header bar, the toast, the main container the script renders into, and the
 * two dialogs (confirm and token).
 *
 * @since 0.1.0
 * @category assets
 */
export const html: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DynamoMQ dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header class="bar">
  <div class="bar-inner">
    <a href="#/" class="brand" data-testid="title">DynamoMQ</a>
    <span class="table-name" id="table-name" data-testid="table-name" title="DynamoDB table"></span>
    <span class="spacer"></span>
    <span class="mode" id="mode" data-testid="mode"></span>
    <label class="live"><input type="checkbox" id="live-toggle" data-testid="live-toggle" checked> Live</label>
    <span class="updated">Updated <time id="updated-at" data-testid="updated-at">—</time></span>
  </div>
</header>
<div class="page">
  <div id="toast" class="toast" data-testid="toast" role="status" aria-live="polite" title="Click to dismiss"></div>
  <main id="app"><p class="muted">Loading…</p></main>
</div>
<dialog id="confirm-dialog" data-testid="confirm-dialog">
  <p id="confirm-text" data-testid="confirm-text"></p>
  <div class="dialog-actions">
    <button type="button" id="confirm-cancel" data-testid="confirm-cancel">Cancel</button>
    <button type="button" id="confirm-ok" data-testid="confirm-ok" class="primary">OK</button>
  </div>
</dialog>
<dialog id="token-dialog" data-testid="token-dialog">
  <h3>Token required</h3>
  <p>Changes on this dashboard need its token. It is kept for this browser tab only.</p>
  <input type="password" id="token-input" data-testid="token-input" autocomplete="off" placeholder="Token">
  <div class="dialog-actions">
    <button type="button" id="token-cancel" data-testid="token-cancel">Cancel</button>
    <button type="button" id="token-ok" data-testid="token-ok" class="primary">Continue</button>
  </div>
</dialog>
</body>
</html>
`;

/**
 * The client app: plain browser JavaScript, no framework and no build step. Hash routing
 * (overview, queue, message), polling while "live" is on, and the dead-letter actions behind a
 * confirm dialog. Message data is only ever inserted as text.
 *
 * @since 0.1.0
 * @category assets
 */
export const script: string = String.raw`"use strict";
(() => {
  const STATES = ["ready", "delayed", "inflight", "dead"];
  const PAGE_SIZE = 25;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const app = {
    info: null, queues: [], view: null, seq: 0, timer: 0, interval: 2000, live: true,
    chartQueue: "", toastTimer: 0, toastFromRefresh: false, tokenPrompt: null,
    token: sessionStorage.getItem("dynamomq-dashboard-token") || "",
  };

  // ---- DOM helpers: attributes named on* become listeners; children are appended as text.
  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "checked" || k === "disabled" || k === "value") el[k] = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    return append(el, children);
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return append(el, children);
  }
  const th = (label, cls) => h("th", { class: cls }, label);
  const td = (cls, ...children) => h("td", { class: cls }, ...children);
  const badge = (state, testid) => h("span", { class: "badge state-" + state, "data-testid": testid }, state);
  const tag = (text) => h("span", { class: "tag" }, text);

  // ---- Formatting
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  const clock = (d) => pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  const plural = (n, word, many) => n + " " + (n === 1 ? word : many || word + "s");
  function isoLocal(ms) {
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(d) +
      "." + pad(d.getMilliseconds(), 3);
  }
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
  function relative(ms) {
    const diff = ms - Date.now();
    if (Math.abs(diff) < 1000) return "now";
    return diff < 0 ? duration(diff) + " ago" : "in " + duration(diff);
  }
  // Relative times are re-computed in place on refresh, so unchanged tables are not rebuilt.
  const rel = (ms) => h("span", { class: "rel", "data-at": ms }, relative(ms));
  const updateRelative = (root) =>
    root.querySelectorAll("[data-at]").forEach((el) => el.textContent = relative(Number(el.dataset.at)));
  const truncate = (text, n) => text.length > n ? text.slice(0, n - 1) + "…" : text;
  const rate = (r) => (r < -0.05 ? "−" : "+") + Math.abs(r).toFixed(1) + "/s";
  const enc = encodeURIComponent;
  const queueHref = (name, state) => "#/queues/" + enc(name) + (state ? "?state=" + state : "");
  const messageHref = (name, id) => "#/queues/" + enc(name) + "/messages/" + enc(id);
  const errorText = (e) => (e && e.message) || String(e);

  // ---- Toast: the last action's result, or an error (class "error").
  function toast(text, isError, fromRefresh) {
    const el = $("toast");
    clearTimeout(app.toastTimer);
    el.textContent = text || "";
    el.classList.toggle("error", Boolean(isError));
    app.toastFromRefresh = Boolean(fromRefresh);
    if (text && !isError) app.toastTimer = setTimeout(() => toast(""), 20000);
  }

  // ---- Dialogs: resolve true when closed with "ok"; Escape closes with "".
  function openDialog(dialog, focus) {
    return new Promise((resolve) => {
      dialog.returnValue = "";
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      focus.focus();
    });
  }
  function confirmAction(text, okLabel) {
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    return openDialog($("confirm-dialog"), $("confirm-cancel"));
  }
  async function promptToken() {
    const input = $("token-input");
    input.value = app.token;
    if (!(await openDialog($("token-dialog"), input)) || !input.value) return null;
    app.token = input.value;
    sessionStorage.setItem("dynamomq-dashboard-token", app.token);
    return app.token;
  }
  // Concurrent 401s share one prompt.
  function askToken() {
    if (!app.tokenPrompt) app.tokenPrompt = promptToken().finally(() => app.tokenPrompt = null);
    return app.tokenPrompt;
  }

  // ---- API: paths are relative to the page, so the dashboard works under any prefix.
  const apiError = (status, tag, message) =>
    Object.assign(new Error(message || tag || "HTTP " + status), { status, tag });
  async function api(path, method, body, retried) {
    const mutating = method !== undefined && method !== "GET";
    const init = { method: method || "GET", headers: { Accept: "application/json" } };
    if (mutating) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
      if (app.token) init.headers.Authorization = "Bearer " + app.token;
    }
    const res = await fetch(path, init).catch(() => {
      throw apiError(0, "NetworkError", "Cannot reach the dashboard server");
    });
    if (res.status === 401 && mutating && !retried && (await askToken()) !== null) {
      return api(path, method, body, true);
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) throw apiError(res.status, data && data.error, data && data.message);
    return data;
  }
  const queuePath = (name) => "api/queues/" + enc(name);

  // ---- Routing and the live loop
  function parseRoute() {
    const hash = location.hash.replace(/^#\/?/, "");
    const q = hash.indexOf("?");
    let parts;
    try {
      parts = (q < 0 ? hash : hash.slice(0, q)).split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return { page: "overview" };
    }
    const state = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1)).get("state");
    if (parts[0] === "queues" && parts.length === 2) {
      return { page: "queue", queue: parts[1], state: STATES.includes(state) ? state : "ready" };
    }
    if (parts[0] === "queues" && parts[2] === "messages" && parts.length === 4) {
      return { page: "message", queue: parts[1], id: parts[3] };
    }
    return { page: "overview" };
  }
  function onRoute() {
    const route = parseRoute();
    app.view = route.page === "queue"
      ? queueView(route)
      : route.page === "message"
      ? messageView(route)
      : overviewView();
    $("app").replaceChildren(app.view.el);
    refresh();
  }
  // Each refresh gets a sequence number; a response that is no longer the latest is dropped.
  async function refresh() {
    clearTimeout(app.timer);
    const seq = ++app.seq;
    const current = () => seq === app.seq;
    try {
      await app.view.load(current);
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
  function queueRow(q) {
    const st = q.stats;
    return h("tr", { "data-testid": "queue-row", "data-queue": q.name },
      td("name", h("a", { href: queueHref(q.name), "data-testid": "queue-link" }, q.name)),
      h("td", { class: "num", "data-testid": "count-ready" }, st.ready),
      h("td", { class: "num", "data-testid": "count-delayed" }, st.delayed),
      h("td", { class: "num", "data-testid": "count-inflight" }, st.inflight),
      h("td", { class: "num", "data-testid": "count-dead" },
        h("a", { href: queueHref(q.name, "dead"), class: st.dead > 0 ? "dead-link" : "plain-link" }, st.dead)),
      h("td", { class: "num", "data-testid": "count-completed" }, q.completed || 0),
      h("td", { class: "num", "data-testid": "oldest" }, st.oldestReadyAge > 0 ? duration(st.oldestReadyAge) : "—"),
      td("muted small", plural(q.shards, "shard") + " · " + plural(q.priorities, "priority", "priorities")));
  }
  const FLOWS = [["processed", "processed/s"], ["arriving", "arriving/s"]];
  function overviewView() {
    const tiles = h("div", { class: "tiles" });
    const tbody = h("tbody");
    const table = h("table", { class: "grid", "data-testid": "queues" },
      h("thead", null, h("tr", null, th("Queue"), th("Ready", "num"), th("Delayed", "num"),
        th("In flight", "num"), th("Dead", "num"), th("Completed", "num"), th("Oldest ready", "num"), th("Shape"))), tbody);
    const select = h("select", {
      "data-testid": "chart-queue",
      "aria-label": "Queue shown in the charts",
      onchange: () => { app.chartQueue = select.value; drawCharts(); },
    });
    const stateBox = h("div", { class: "chart" }), flowBox = h("div", { class: "chart" });
    const rates = h("span", { "data-testid": "rates" }, "collecting…");
    const legend = (keys) => h("div", { class: "legend" }, keys.map(([k, label]) => h("span", { class: "key key-" + k }, label)));
    const el = h("div", null, tiles,
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", null, "Queues")),
        h("div", { class: "table-wrap" }, table)),
      h("div", { class: "chart-bar" },
        h("label", { class: "chart-pick" }, "Charts for ", select),
        h("span", { class: "rates" }, "Last minute: ", rates)),
      h("div", { class: "charts" },
        h("section", { class: "card chart-card" },
          h("div", { class: "card-head" }, h("h2", null, "Messages by state")), stateBox,
          h("div", { class: "chart-foot" }, legend(STATES.map((k) => [k, k])))),
        h("section", { class: "card chart-card" },
          h("div", { class: "card-head" }, h("h2", null, "Throughput")), flowBox,
          h("div", { class: "chart-foot" }, legend(FLOWS),
            h("span", { class: "muted small" }, "30 s averages; handles report acks every 10 s")))));
    let optionKey = null;
    function drawCharts() {
      const qs = app.chartQueue ? app.queues.filter((q) => q.name === app.chartQueue) : app.queues;
      const counts = alignSum(qs.map((q) => q.history), [...STATES, "completed"]);
      const flows = alignSum(qs.map((q) => flowSeries(q.history)), FLOWS.map((f) => f[0]));
      // Both charts share the x axis of the counts, so their instants line up.
      const axis = timeAxis(counts);
      stateBox.replaceChildren(lineChart({
        testid: "rate-chart", label: "Messages per state", axis, samples: counts,
        keys: ["delayed", "inflight", "ready", "dead"], top: (max) => Math.max(max, 1), format: String,
      }));
      flowBox.replaceChildren(lineChart({
        testid: "throughput-chart", label: "Messages processed and arriving per second", axis, samples: flows,
        keys: ["arriving", "processed"], top: niceRate, format: (v) => perSecond(v) + "/s",
      }));
      rates.replaceChildren(...ratesContent(counts));
    }
    async function load(current) {
      const data = await api("api/queues");
      if (!current()) return;
      app.queues = data.queues;
      const totals = { ready: 0, delayed: 0, inflight: 0, dead: 0 };
      for (const q of app.queues) for (const k of STATES) totals[k] += q.stats[k];
      tiles.replaceChildren(...STATES.map((k) =>
        h("div", { class: "tile tile-" + k }, h("div", { class: "tile-label" }, k === "inflight" ? "in flight" : k),
          h("div", { class: "tile-value" }, totals[k]))
      ));
      tbody.replaceChildren(...(app.queues.length
        ? app.queues.map(queueRow)
        : [h("tr", null, h("td", { colspan: 8, class: "empty", "data-testid": "empty" },
          "No queues in this table's catalog yet. A queue appears once a handle sends to it or receives from it (or pass --queue)."))]));
      // Options are rebuilt only when the queue list changes, so an open dropdown stays open.
      const names = app.queues.map((q) => q.name);
      if (optionKey !== JSON.stringify(names)) {
        optionKey = JSON.stringify(names);
        if (!names.includes(app.chartQueue)) app.chartQueue = "";
        select.replaceChildren(h("option", { value: "" }, "All queues"), ...names.map((n) => h("option", { value: n }, n)));
        select.value = app.chartQueue;
      }
      drawCharts();
    }
    return { el, load };
  }
  // The sum of several queues' series at common instants. Queues are sampled a few ms apart, so
  // instants closer than half an interval make one; each queue adds its latest point by then.
  function alignSum(series, keys) {
    if (series.length === 1) return series[0];
    const times = [];
    let group = -Infinity;
    for (const at of series.flatMap((xs) => xs.map((x) => x.at)).sort((a, b) => a - b)) {
      if (at - group < app.interval / 2) times[times.length - 1] = at;
      else times.push(group = at);
    }
    const idx = series.map(() => -1);
    return times.map((at) => {
      const sum = { at };
      for (const k of keys) sum[k] = 0;
      series.forEach((xs, i) => {
        while (idx[i] + 1 < xs.length && xs[idx[i] + 1].at <= at) idx[i]++;
        const x = xs[idx[i]];
        if (x) for (const k of keys) sum[k] += x[k] || 0;
      });
      return sum;
    });
  }
  const backlogOf = (x) => x.ready + x.delayed + x.inflight;
  const completedOf = (x) => x.completed || 0;
  // One queue's processed and arriving rates: each sample against the earliest one at most 30 s
  // older. Handles add their acks to the catalog in steps (every 10 s at most), so the 30 s span
  // smooths the steps out. What left the backlog without being acked (a purge, a deletion) is
  // not an arrival: hence the clamp at 0.
  function flowSeries(history) {
    const out = [];
    let j = 0;
    for (let i = 1; i < history.length; i++) {
      const x = history[i];
      while (history[j].at < x.at - 30000) j++;
      if (j >= i) continue;
      const y = history[j];
      const dt = (x.at - y.at) / 1000;
      if (dt <= 0) continue;
      const processed = Math.max(0, (completedOf(x) - completedOf(y)) / dt);
      const backlog = (backlogOf(x) + x.dead - backlogOf(y) - y.dead) / dt;
      out.push({ at: x.at, processed, arriving: Math.max(0, processed + backlog) });
    }
    return out;
  }
  function ratesContent(samples) {
    if (samples.length < 2) return ["collecting…"];
    const last = samples[samples.length - 1];
    const first = samples.find((x) => x.at >= last.at - 60000);
    const secs = (last.at - first.at) / 1000;
    if (secs <= 0) return ["collecting…"];
    const processed = Math.max(0, (completedOf(last) - completedOf(first)) / secs);
    const backlog = (backlogOf(last) - backlogOf(first)) / secs;
    const dead = (last.dead - first.dead) / secs;
    // Arrivals: what was processed plus what stayed, in the backlog or dead-lettered.
    const arriving = Math.max(0, processed + backlog + dead);
    return ["processed ", h("span", { "data-testid": "rate-processed" }, processed.toFixed(1)), "/s",
      " · arriving " + arriving.toFixed(1) + "/s · backlog " + rate(backlog) + " · dead " + rate(dead)];
  }
  // Rates are shown with one decimal below 10/s, whole above; the chart's top is such a number.
  const perSecond = (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1));
  const niceRate = (max) => Math.max(1, max >= 10 ? Math.ceil(max) : Math.ceil(max * 10) / 10);
  // The x axis spans the history held (up to 15 minutes), so a young dashboard's few samples
  // fill the chart instead of a sliver at its right edge.
  function timeAxis(samples) {
    const history = (app.info && app.info.historyMillis) || 900000;
    const end = samples.length ? samples[samples.length - 1].at : Date.now();
    const span = Math.min(history, Math.max(samples.length ? end - samples[0].at : history, 10000));
    return { start: end - span, span };
  }
  function lineChart(o) {
    const W = 560, H = 226, L = 52, R = 10, T = 12, B = 24;
    const { start, span } = o.axis;
    const shown = o.samples.filter((x) => x.at >= start);
    let max = 0;
    for (const x of shown) for (const k of o.keys) max = Math.max(max, x[k]);
    const top = o.top(max);
    const X = (at) => (L + ((at - start) / span) * (W - L - R)).toFixed(1);
    const Y = (v) => (H - B - (v / top) * (H - B - T)).toFixed(1);
    const root = s("svg", {
      viewBox: "0 0 " + W + " " + H, class: "chart-svg", "data-testid": o.testid, role: "img",
      "aria-label": o.label + " over the last " + duration(span),
    });
    for (const f of [0, 0.5, 1]) {
      const y = Y(top * f);
      root.append(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: f === 0 ? "axis-line" : "grid-line" }));
    }
    root.append(
      s("text", { x: L, y: H - 6, class: "axis-label" }, "-" + (span % 60000 < 1000 ? Math.round(span / 60000) + "m" : duration(span))),
      s("text", { x: W - R, y: H - 6, class: "axis-label end" }, "now"),
    );
    if (shown.length < 2) {
      root.append(s("text", { x: (L + W - R) / 2, y: (H - B + T) / 2, class: "axis-label middle" }, "collecting…"));
      return root;
    }
    root.append(
      s("text", { x: L - 8, y: Number(Y(top)) + 4, class: "axis-label end" }, o.format(top)),
      s("text", { x: L - 8, y: Number(Y(0)) + 4, class: "axis-label end" }, "0"),
    );
    for (const k of o.keys) {
      const points = shown.map((x) => X(x.at) + "," + Y(x[k])).join(" ");
      root.append(s("polyline", { points, class: "line line-" + k }, s("title", null, k)));
    }
    return root;
  }

  // ---- Queue page: tabs per state, search, one page of messages, dead-letter actions.
  function queueView(route) {
    const name = route.queue, state = route.state;
    const canAct = state === "dead" && !app.info.readOnly;
    const st = { stack: [], cursor: null, next: null, search: null, selected: new Set(), key: "", stats: null };
    const tabs = STATES.map((k) =>
      h("a", { href: queueHref(name, k), class: "tab" + (k === state ? " active" : ""), "data-testid": "tab-" + k },
        k, " ", h("span", { class: "count" }, "0"))
    );
    const meta = h("span", { class: "muted small" }), searchNote = h("span", { class: "muted small" });
    const field = h("select", { "data-testid": "search-field", "aria-label": "Search field" },
      ["id", "group", "deduplicationId"].map((f) => h("option", { value: f }, f)));
    const input = h("input", {
      type: "search", "data-testid": "search-input", placeholder: "Search…", "aria-label": "Search value",
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); search(); } },
    });
    const tbody = h("tbody"), thead = h("thead");
    const prev = h("button", { type: "button", "data-testid": "prev-page", onclick: () => page(-1) }, "‹ Previous");
    const next = h("button", { type: "button", "data-testid": "next-page", onclick: () => page(1) }, "Next ›");
    const pageLabel = h("span", { class: "muted small" });
    const redriveSelected = canAct &&
      h("button", { type: "button", "data-testid": "redrive-selected", class: "primary", onclick: redriveSome });
    const actions = canAct && h("div", { class: "actions" },
      redriveSelected,
      h("button", { type: "button", "data-testid": "redrive-all", onclick: redriveAll }, "Redrive all"),
      h("button", { type: "button", "data-testid": "purge-dead", class: "danger", onclick: purge }, "Purge dead"));
    const el = h("div", null,
      h("a", { href: "#/", class: "back" }, "← Overview"),
      h("div", { class: "title-row" }, h("h2", { "data-testid": "queue-name" }, name), meta),
      h("nav", { class: "tabs" }, tabs),
      h("section", { class: "card" },
        h("div", { class: "toolbar" },
          h("div", { class: "search" }, field, input,
            h("button", { type: "button", "data-testid": "search-button", onclick: search }, "Search"),
            h("button", { type: "button", "data-testid": "search-clear", onclick: clearSearch }, "Clear"), searchNote),
          actions),
        h("div", { class: "table-wrap" }, h("table", { class: "grid", "data-testid": "messages" }, thead, tbody)),
        h("div", { class: "pager" }, prev, pageLabel, next)),
    );
    const resetPaging = () => { st.stack = []; st.cursor = null; st.next = null; };
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
    function page(dir) {
      if (dir > 0 && st.next) { st.stack.push(st.cursor); st.cursor = st.next; }
      else if (dir < 0 && st.stack.length) st.cursor = st.stack.pop();
      else return;
      refresh();
    }
    function updateSelection() {
      if (!redriveSelected) return;
      redriveSelected.textContent = "Redrive selected (" + st.selected.size + ")";
      redriveSelected.disabled = st.selected.size === 0;
    }
    async function run(text, okLabel, path, body, done) {
      if (!(await confirmAction(text, okLabel))) return;
      try {
        const result = await api(path, "POST", body);
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
    const redriven = (r) => {
      const failed = r.failed || [];
      let text = "Redrove " + plural(r.redriven, "message");
      if (failed.length) text += "; " + failed.length + " failed: " + failed[0].message;
      return [text, failed.length > 0 && r.redriven === 0];
    };
    const allDead = () => {
      const n = st.stats ? st.stats.dead : 0;
      return n === 1 ? "the 1 dead message" : "all " + n + " dead messages";
    };
    function redriveSome() {
      const ids = [...st.selected];
      run("Redrive " + plural(ids.length, "message") + " of " + name + "?", "Redrive", queuePath(name) + "/redrive", { ids }, redriven);
    }
    function redriveAll() {
      run("Redrive " + allDead() + " of " + name + "?", "Redrive all", queuePath(name) + "/redrive", { all: true }, redriven);
    }
    function purge() {
      run("Purge " + allDead() + " of " + name + "? This cannot be undone.", "Purge",
        queuePath(name) + "/purge", { state: "dead" }, (r) => ["Purged " + plural(r.purged, "message"), false]);
    }
    function messageRow(m, cols) {
      const check = canAct && m.state === "dead" && h("input", {
        type: "checkbox", "data-testid": "select-message", "aria-label": "Select " + m.id, checked: st.selected.has(m.id),
        onchange: (e) => { e.target.checked ? st.selected.add(m.id) : st.selected.delete(m.id); updateSelection(); },
      });
      const err = m.lastAttempt ? m.lastAttempt.tag + ": " + m.lastAttempt.message : "";
      return h("tr", { "data-testid": "message-row", "data-id": m.id },
        canAct && td("check", check),
        td("mono", h("a", { href: messageHref(name, m.id), "data-testid": "message-link" }, m.id),
          m.state !== state && [" ", badge(m.state)]),
        td(m.group ? "nowrap" : "muted", m.group || "—"),
        td("num", m.receives), td("num", m.priority),
        td("nowrap", rel(m.sentAt)), td("nowrap", rel(m.updatedAt)),
        cols.visible && td("nowrap", rel(m.visibleAt)),
        cols.dead && td("", m.deadReason ? tag(m.deadReason.tag) : "—"),
        td("error-text", err ? h("span", { class: "clip", title: err }, truncate(err, 80)) : h("span", { class: "muted" }, "—")));
    }
    function renderTable(messages) {
      const cols = { visible: state === "delayed" || state === "inflight", dead: state === "dead" };
      const all = canAct && h("input", {
        type: "checkbox", "aria-label": "Select all on this page",
        checked: messages.length > 0 && messages.every((m) => st.selected.has(m.id)),
        onchange: (e) => {
          for (const m of messages) if (m.state === "dead") e.target.checked ? st.selected.add(m.id) : st.selected.delete(m.id);
          renderTable(messages);
          updateSelection();
        },
      });
      thead.replaceChildren(h("tr", null, canAct && h("th", { class: "check" }, all), th("Id"), th("Group"),
        th("Receives", "num"), th("Priority", "num"), th("Sent"), th("Updated"),
        cols.visible && th(state === "delayed" ? "Visible" : "Lease ends"), cols.dead && th("Reason"), th("Last error")));
      const span = 7 + (canAct ? 1 : 0) + (cols.visible ? 1 : 0) + (cols.dead ? 1 : 0);
      tbody.replaceChildren(...(messages.length
        ? messages.map((m) => messageRow(m, cols))
        : [h("tr", null, h("td", { colspan: span, class: "empty", "data-testid": "empty" }, "No messages"))]));
    }
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
          if (e.status === 404 && e.tag === "MessageNotFound") return { messages: [] };
          throw e;
        }),
      ]);
      if (!current()) return;
      app.queues = queues.queues;
      const q = app.queues.find((x) => x.name === name);
      st.stats = q ? q.stats : null;
      tabs.forEach((t, i) => t.lastChild.textContent = String(st.stats ? st.stats[STATES[i]] : 0));
      meta.textContent = q
        ? plural(q.shards, "shard") + " · max receives " + q.maxReceives + " · visibility timeout " +
          duration(q.visibilityTimeoutMillis)
        : "not in the catalog";
      st.next = result.cursor || null;
      prev.disabled = st.stack.length === 0;
      next.disabled = !st.next;
      pageLabel.textContent = st.search && st.search.field === "id" ? "" : "Page " + (st.stack.length + 1);
      searchNote.textContent = st.search ? "Showing " + st.search.field + " = " + st.search.value : "";
      updateSelection();
      // Rebuild rows only when the data changed; otherwise just age the relative times.
      const key = JSON.stringify(result.messages);
      if (key !== st.key) {
        st.key = key;
        renderTable(result.messages);
      } else updateRelative(tbody);
    }
    updateSelection();
    return { el, load };
  }

  // ---- Message page: fields, attempts, payload on demand, redrive/delete.
  function messageView(route) {
    const name = route.queue, id = route.id;
    const st = { showPayload: false, key: "", state: null };
    const back = h("a", { href: queueHref(name), class: "back" }, "← " + name);
    const box = h("div");
    const el = h("div", null, back, box);
    const path = queuePath(name) + "/messages/" + enc(id);
    const row = (label, ...value) => [h("dt", null, label), h("dd", null, ...value)];
    const when = (ms) => [isoLocal(ms), " ", h("span", { class: "muted" }, "(", rel(ms), ")")];
    const opt = (v) => (v === undefined || v === null || v === "" ? h("span", { class: "muted" }, "—") : v);
    async function redrive() {
      if (!(await confirmAction("Redrive message " + id + " of " + name + "?", "Redrive"))) return;
      try {
        const r = await api(queuePath(name) + "/redrive", "POST", { ids: [id] });
        const failed = r.failed || [];
        toast(failed.length ? "Redrive failed: " + failed[0].message : "Redrove 1 message", failed.length > 0);
      } catch (e) {
        toast(errorText(e), true);
      }
      refresh();
    }
    async function remove() {
      if (!(await confirmAction("Delete message " + id + " from " + name + "? This cannot be undone.", "Delete"))) return;
      try {
        await api(path, "DELETE", {});
        toast("Deleted message " + id);
        location.hash = queueHref(name, st.state || undefined);
      } catch (e) {
        toast(errorText(e), true);
        refresh();
      }
    }
    const togglePayload = () => { st.showPayload = !st.showPayload; refresh(); };
    function render(m) {
      const q = app.queues.find((x) => x.name === name);
      const canAct = !app.info.readOnly;
      const buttons = h("div", { class: "actions" },
        h("button", { type: "button", "data-testid": "show-payload", onclick: togglePayload }, st.showPayload ? "Hide payload" : "Show payload"),
        canAct && m.state === "dead" &&
          h("button", { type: "button", class: "primary", "data-testid": "redrive-message", onclick: redrive }, "Redrive"),
        canAct && h("button", { type: "button", class: "danger", "data-testid": "delete-message", onclick: remove }, "Delete"));
      const dl = h("dl", { class: "fields" },
        row("Id", h("span", { class: "mono", "data-testid": "message-id" }, m.id)),
        row("State", badge(m.state, "message-state")),
        row("Receives", h("span", { "data-testid": "message-receives" }, m.receives),
          q ? h("span", { class: "muted" }, " of max " + q.maxReceives) : null),
        row("Priority", m.priority),
        row("Group", opt(m.group)),
        row("Deduplication id", opt(m.deduplicationId)),
        row("Sent at", when(m.sentAt)),
        row("Updated at", when(m.updatedAt)),
        row("Visible at", when(m.visibleAt)),
        m.deadReason && row("Dead reason", tag(m.deadReason.tag), " ", m.deadReason.message));
      const attempts = m.attempts || [];
      const attemptsTable = h("table", { class: "grid", "data-testid": "attempts" },
        h("thead", null, h("tr", null, th("Receive", "num"), th("Time"), th("Error"), th("Message"))),
        h("tbody", null, attempts.length
          ? attempts.map((a) => h("tr", { "data-testid": "attempt-row" }, td("num", a.receive),
            td("nowrap", when(a.at)), td("", tag(a.tag)), td("wrap", a.message)))
          : h("tr", null, h("td", { colspan: 4, class: "empty" }, "No attempts"))));
      let payload = null;
      if (st.showPayload) {
        payload = "bodyError" in m
          ? h("pre", { class: "payload error", "data-testid": "payload" }, m.bodyError)
          : h("pre", { class: "payload", "data-testid": "payload" }, "body" in m ? JSON.stringify(m.body, null, 2) : "(no payload)");
      }
      box.replaceChildren(
        h("div", { class: "title-row" }, h("h2", null, "Message"), h("span", { class: "muted mono small" }, m.id)),
        h("section", { class: "card", "data-testid": "message-detail" },
          h("div", { class: "card-head" }, h("h3", null, "Details"), buttons), dl),
        h("section", { class: "card" }, h("div", { class: "card-head" }, h("h3", null, "Attempts")), attemptsTable),
        payload && h("section", { class: "card" }, h("div", { class: "card-head" }, h("h3", null, "Payload")), payload),
      );
    }
    async function load(current) {
      let data;
      try {
        data = await api(path + (st.showPayload ? "?payload=true" : ""));
      } catch (e) {
        if (e.status !== 404) throw e;
        if (!current()) return;
        st.key = "";
        box.replaceChildren(h("section", { class: "card" },
          h("p", { class: "empty", "data-testid": "not-found" }, "Message not found")));
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
    for (const [button, dialog, value] of [["confirm-ok", "confirm-dialog", "ok"], ["confirm-cancel", "confirm-dialog", ""],
      ["token-ok", "token-dialog", "ok"], ["token-cancel", "token-dialog", ""]]) {
      $(button).addEventListener("click", () => $(dialog).close(value));
    }
    $("token-input").addEventListener("keydown", (e) => {
      // preventDefault: otherwise the same Enter, after focus returns, clicks the button behind.
      if (e.key === "Enter") {
        e.preventDefault();
        $("token-dialog").close("ok");
      }
    });
    $("toast").addEventListener("click", () => toast(""));
    $("live-toggle").addEventListener("change", (e) => {
      app.live = e.target.checked;
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
      app.info = await api("api/info").catch((e) => {
        toast("Cannot load api/info: " + errorText(e), true, true);
        return new Promise((resolve) => setTimeout(() => resolve(null), 2000));
      });
    }
    toast("");
    app.interval = app.info.sampleIntervalMillis || 2000;
    $("table-name").textContent = app.info.table;
    const mode = app.info.readOnly ? "read-only" : "read-write";
    $("mode").textContent = mode;
    $("mode").classList.add(mode);
    window.addEventListener("hashchange", onRoute);
    onRoute();
  }
  start();
})();
`;

/**
 * The stylesheet: a light theme, system fonts, no external resources.
 *
 * @since 0.1.0
 * @category assets
 */
export const style: string = `:root {
  --bg: #f4f6f9; --surface: #fff; --border: #dfe3ea; --text: #17202c; --muted: #5d6878;
  --accent: #2454c9; --accent-bg: #eaf0ff; --zebra: #f8f9fb;
  --ready: #15803d; --ready-bg: #dcfce7; --delayed: #4b5563; --delayed-bg: #e5e7eb;
  --inflight: #1d4ed8; --inflight-bg: #dbeafe; --dead: #b91c1c; --dead-bg: #fee2e2;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0; color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h2 { font-size: 20px; margin: 0; font-weight: 650; }
.card-head h2 { font-size: 16px; }
h3 { font-size: 15px; margin: 0; font-weight: 650; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.nowrap { white-space: nowrap; }
.bar { background: #172033; color: #e6ebf4; border-bottom: 1px solid #0b1220; }
.bar-inner {
  max-width: 1200px; margin: 0 auto; padding: 10px 24px; display: flex; align-items: center; gap: 14px;
}
.brand { color: #fff; font-weight: 700; font-size: 17px; letter-spacing: 0.2px; }
.brand:hover { text-decoration: none; color: #c7d6ff; }
.table-name {
  font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; color: #c3cddd;
  background: #243049; padding: 2px 8px; border-radius: 4px;
}
.table-name:empty { display: none; }
.spacer { flex: 1; }
.mode { font-size: 12px; font-weight: 600; padding: 2px 9px; border-radius: 999px; border: 1px solid #4a5874; }
.mode:empty { display: none; }
.mode.read-only { background: #fef3c7; color: #7c4a03; border-color: #fef3c7; }
.mode.read-write { color: #bfe8cd; border-color: #3d7a55; }
.live { display: inline-flex; align-items: center; gap: 5px; cursor: pointer; }
.updated { color: #aab6c9; font-size: 12.5px; }
.updated time { font-variant-numeric: tabular-nums; color: #e6ebf4; }
.page { max-width: 1200px; margin: 0 auto; padding: 20px 24px 40px; }
.toast {
  margin-bottom: 14px; padding: 9px 14px; border-radius: 6px; background: #e8f5ec; color: #14532d;
  border: 1px solid #b7e0c4; cursor: pointer;
}
.toast:empty { display: none; }
.toast.error { background: #fdecec; color: #8a1c1c; border-color: #f3c2c2; }
.card {
  background: var(--surface); border: 1px solid var(--border); border-radius: 8px; margin-bottom: 18px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); overflow: hidden;
}
.card-head {
  display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 12px 16px;
  border-bottom: 1px solid var(--border);
}
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 18px; }
.tile {
  background: var(--surface); border: 1px solid var(--border); border-radius: 8px; padding: 12px 16px;
  border-top: 3px solid var(--muted);
}
.tile-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.5px; }
.tile-value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile-ready { border-top-color: #16a34a; } .tile-delayed { border-top-color: #94a3b8; }
.tile-inflight { border-top-color: #2563eb; } .tile-dead { border-top-color: #dc2626; }
table.grid { width: 100%; border-collapse: collapse; }
.grid th {
  text-align: left; font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase;
  letter-spacing: 0.4px; padding: 8px 12px; background: #f9fafc; border-bottom: 1px solid var(--border);
  white-space: nowrap;
}
.grid td { padding: 8px 12px; border-bottom: 1px solid #eef0f4; vertical-align: baseline; }
.grid tbody tr:nth-child(even) td { background: var(--zebra); }
.grid tbody tr:hover td { background: #f0f4fd; }
.grid tbody tr:last-child td { border-bottom: none; }
.grid .num { text-align: right; font-variant-numeric: tabular-nums; }
.grid td.name a { font-weight: 600; }
.grid .check { width: 32px; }
.grid td.empty, p.empty { text-align: center; color: var(--muted); padding: 28px 12px; }
.dead-link { color: var(--dead); font-weight: 600; }
.plain-link { color: var(--text); }
/* max-width 0: the error column takes the width left over and ellipsizes instead of overflowing. */
.grid td.error-text { color: #7a2525; max-width: 0; width: 30%; }
.clip { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.wrap { white-space: pre-wrap; word-break: break-word; }
.table-wrap { overflow-x: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.state-ready { color: var(--ready); background: var(--ready-bg); }
.state-delayed { color: var(--delayed); background: var(--delayed-bg); }
.state-inflight { color: var(--inflight); background: var(--inflight-bg); }
.state-dead { color: var(--dead); background: var(--dead-bg); }
.tag {
  display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; background: #eef0f5;
  border: 1px solid #dde1ea; font-family: ui-monospace, Menlo, Consolas, monospace;
}
.back { display: inline-block; margin-bottom: 8px; font-size: 13px; }
.title-row { display: flex; align-items: baseline; gap: 14px; margin-bottom: 12px; flex-wrap: wrap; }
.tabs { display: flex; gap: 4px; border-bottom: 1px solid var(--border); margin-bottom: 14px; }
.tab {
  padding: 7px 14px; color: var(--muted); border-bottom: 2px solid transparent; margin-bottom: -1px;
  font-weight: 500;
}
.tab:hover { text-decoration: none; color: var(--text); }
.tab.active { color: var(--accent); border-bottom-color: var(--accent); }
.tab .count {
  display: inline-block; min-width: 22px; padding: 0 6px; margin-left: 2px; border-radius: 999px;
  background: #e9ecf2; color: var(--text); font-size: 12px; text-align: center; font-variant-numeric: tabular-nums;
}
.tab.active .count { background: var(--accent-bg); color: var(--accent); }
.toolbar {
  display: flex; justify-content: space-between; align-items: center; gap: 12px; padding: 10px 12px;
  border-bottom: 1px solid var(--border); flex-wrap: wrap;
}
.search, .actions { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.pager {
  display: flex; align-items: center; justify-content: flex-end; gap: 10px; padding: 10px 12px;
  border-top: 1px solid var(--border);
}
button, select, input[type=search], input[type=password] {
  font: inherit; font-size: 13px; color: var(--text); border: 1px solid #c9cfda; border-radius: 6px;
  background: #fff; padding: 5px 10px;
}
input[type=search] { width: 240px; }
button { cursor: pointer; font-weight: 500; }
button:hover:not(:disabled) { background: #f2f4f8; }
button:disabled { opacity: 0.5; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover:not(:disabled) { background: #1d47ad; }
button.danger { color: var(--dead); border-color: #e9b4b4; }
button.danger:hover:not(:disabled) { background: var(--dead-bg); }
:focus-visible { outline: 2px solid #6d8ff0; outline-offset: 1px; }
input[type=checkbox] { width: 15px; height: 15px; margin: 0; vertical-align: middle; accent-color: var(--accent); }
.chart { padding: 12px 16px 0; }
.chart-svg { display: block; width: 100%; height: auto; }
.grid-line { stroke: #e8ebf0; stroke-width: 1; }
.axis-line { stroke: #c4cad4; stroke-width: 1; }
.axis-label { fill: var(--muted); font-size: 12px; font-family: system-ui, sans-serif; }
.axis-label.end { text-anchor: end; }
.axis-label.middle { text-anchor: middle; }
.line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
.line-ready { stroke: #16a34a; } .line-delayed { stroke: #94a3b8; }
.line-inflight { stroke: #2563eb; } .line-dead { stroke: #dc2626; }
.line-processed { stroke: #7c3aed; } .line-arriving { stroke: #d97706; stroke-dasharray: 5 4; }
.chart-foot {
  display: flex; justify-content: space-between; align-items: center; gap: 12px; padding: 8px 16px 14px;
  flex-wrap: wrap;
}
.legend { display: flex; gap: 16px; font-size: 12.5px; color: var(--muted); }
.key::before {
  content: ""; display: inline-block; width: 14px; height: 3px; border-radius: 2px; margin-right: 6px;
  vertical-align: middle; background: currentColor;
}
.key-ready::before { background: #16a34a; } .key-delayed::before { background: #94a3b8; }
.key-inflight::before { background: #2563eb; } .key-dead::before { background: #dc2626; }
.key-processed::before { background: #7c3aed; }
.key-arriving::before {
  background: repeating-linear-gradient(90deg, #d97706 0 5px, transparent 5px 8px);
}
/* The queue picker and the last minute's rates head both charts, which follow the one choice. */
.chart-bar {
  display: flex; justify-content: space-between; align-items: center; gap: 12px; margin-bottom: 10px;
  flex-wrap: wrap;
}
.chart-pick { display: inline-flex; align-items: center; gap: 8px; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
.charts .card { margin-bottom: 18px; }
.rates { font-size: 12.5px; color: var(--muted); font-variant-numeric: tabular-nums; }
.rates [data-testid=rates] { color: var(--text); font-weight: 600; }
dl.fields { display: grid; grid-template-columns: 170px 1fr; margin: 0; padding: 6px 16px 10px; }
.fields dt { color: var(--muted); padding: 6px 0; border-bottom: 1px solid #f0f2f5; }
.fields dd { margin: 0; padding: 6px 0; border-bottom: 1px solid #f0f2f5; overflow-wrap: anywhere; }
.fields dt:last-of-type, .fields dd:last-of-type { border-bottom: none; }
pre.payload {
  margin: 0; padding: 14px 16px; background: #fbfcfd; overflow: auto; max-height: 480px;
  font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px;
}
pre.payload.error { color: var(--dead); }
dialog {
  border: 1px solid var(--border); border-radius: 10px; padding: 20px 22px; width: min(440px, 92vw);
  box-shadow: 0 12px 40px rgba(15, 23, 42, 0.25); color: var(--text);
}
dialog::backdrop { background: rgba(15, 23, 42, 0.45); }
dialog p { margin: 0 0 16px; }
dialog h3 { margin-bottom: 8px; }
dialog input[type=password] { width: 100%; margin-bottom: 16px; }
.dialog-actions { display: flex; justify-content: flex-end; gap: 8px; }
@media (max-width: 760px) {
  .tiles { grid-template-columns: repeat(2, 1fr); }
  .charts { grid-template-columns: minmax(0, 1fr); gap: 0; }
  .updated { display: none; }
  dl.fields { grid-template-columns: 1fr; }
}
`;

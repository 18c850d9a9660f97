/* stream_app live dashboard: polls GET /v1/dashboard every 2 s and charts it.
 *
 * The API key comes from the URL fragment (#key=...), which browsers never send to
 * a server, or from the form; it is kept in sessionStorage (this tab only), removed
 * from the address bar, and sent as a Bearer token. Time series live in the page
 * (the last KEEP snapshots); the server keeps no history. The latest state is on
 * window.dashboard for tests and curious operators.
 */
(() => {
  "use strict";

  const POLL_MS = 2000;
  const TIMEOUT_MS = 10000;
  const KEEP = 150; // points per series: 5 minutes at one poll every 2 s
  const KEY_ITEM = "stream_app.dashboard.key";
  const COLORS = ["#5aa9ff", "#3ecf8e", "#f5b83d", "#f0605d", "#b68cff", "#4dd4d4", "#ff8fc7"];
  const OUTCOMES = ["planned", "deferred", "emitted", "holdout", "cancelled"];

  const state = {
    status: "idle",
    message: "",
    polls: 0,
    failures: 0,
    latest: null,
    series: {
      labels: [],
      throughput: [],
      lag: [],
      auc: [],
      logLoss: [],
      latency: {},
    },
  };
  window.dashboard = state;

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  let key = null;
  let timer = null;
  let charts = null;

  // --- the key --------------------------------------------------------------------

  const keys = window.streamAppKey(KEY_ITEM); // static/apikey.js
  const keyFromFragment = keys.fromFragment;

  function remember(value) {
    key = value;
    keys.remember(value);
  }

  function showLogin(error) {
    stop();
    setStatus("idle", "waiting for an API key");
    keys.ask("board", error);
  }

  function showBoard() {
    keys.show("board");
    if (!charts) charts = makeCharts();
  }

  // --- polling --------------------------------------------------------------------

  function stop() {
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
  }

  function schedule(ms) {
    stop();
    timer = window.setTimeout(poll, ms);
  }

  function setStatus(kind, message) {
    state.status = kind;
    state.message = message;
    const status = $("status");
    status.dataset.state = kind;
    status.textContent = message;
  }

  async function poll() {
    timer = null;
    const abort = new AbortController();
    const timeout = window.setTimeout(() => abort.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch("v1/dashboard", {
        headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
        signal: abort.signal,
      });
    } catch {
      failed("the API does not answer; retrying");
      schedule(POLL_MS);
      return;
    } finally {
      window.clearTimeout(timeout);
    }
    if (key === null) return; // forgotten while the request was out
    const retry = 1000 * Number(response.headers.get("Retry-After") || 0);
    if (response.status === 401) {
      remember(null);
      showLogin("That key was refused (unknown, revoked or mistyped).");
      return;
    }
    if (response.status === 403) {
      remember(null);
      showLogin("That key lacks the reports:read scope.");
      return;
    }
    if (!response.ok) {
      const why = {
        429: "rate limit reached; waiting",
        503: "Redis is unavailable; retrying",
      }[response.status] || `the API answered ${response.status}; retrying`;
      failed(why);
      schedule(Math.max(POLL_MS, retry));
      return;
    }
    let snapshot;
    try {
      snapshot = await response.json();
    } catch {
      failed("the API answered something unreadable; retrying");
      schedule(POLL_MS);
      return;
    }
    render(snapshot);
    document.dispatchEvent(new CustomEvent("dashboard:polled", { detail: { key } }));
    schedule(POLL_MS);
  }

  function failed(message) {
    state.failures += 1;
    setStatus("error", message);
  }

  // --- charts ---------------------------------------------------------------------

  function makeCharts() {
    const Chart = window.Chart;
    Chart.defaults.color = "#8a98aa";
    Chart.defaults.borderColor = "#263141";
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

    const line = (id, datasets, scales) =>
      new Chart($(id), {
        type: "line",
        data: { labels: [], datasets },
        options: {
          spanGaps: true,
          elements: { point: { radius: 1.5, hoverRadius: 4 }, line: { borderWidth: 2, tension: 0.2 } },
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { display: datasets.length > 1, labels: { boxWidth: 12 } } },
          scales: {
            x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } },
            ...scales,
          },
        },
      });
    const series = (label, i, extra) => ({
      label,
      data: [],
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: `${COLORS[i % COLORS.length]}33`,
      ...extra,
    });
    const bar = (id, horizontal) =>
      new Chart($(id), {
        type: "bar",
        data: { labels: [], datasets: [series("decisions", 0, { data: [] })] },
        options: {
          indexAxis: horizontal ? "y" : "x",
          plugins: { legend: { display: false } },
          scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      });

    const latency = [
      ["apply p50", "event_apply", "p50"],
      ["apply p95", "event_apply", "p95"],
      ["apply p99", "event_apply", "p99"],
      ["trigger→decision p50", "trigger_to_decision", "p50"],
      ["trigger→decision p95", "trigger_to_decision", "p95"],
      ["trigger→decision p99", "trigger_to_decision", "p99"],
    ];
    for (const [, histogram, q] of latency) state.series.latency[`${histogram}.${q}`] = [];

    const made = {
      throughput: line("chart-throughput", [series("events/s", 0, { fill: true })], {
        y: { beginAtZero: true },
      }),
      lag: line("chart-lag", [series("lag", 2, { fill: true })], {
        y: { beginAtZero: true, ticks: { precision: 0 } },
      }),
      latency: line(
        "chart-latency",
        latency.map(([label, histogram], i) =>
          series(label, histogram === "event_apply" ? i : i + 1, {
            borderDash: histogram === "event_apply" ? [] : [5, 3],
          }),
        ),
        { y: { type: "logarithmic", ticks: { callback: duration, autoSkip: true } } },
      ),
      model: line(
        "chart-model",
        [series("AUC", 1, { yAxisID: "y" }), series("log loss", 3, { yAxisID: "loss" })],
        {
          y: { min: 0, max: 1, title: { display: true, text: "AUC" } },
          loss: {
            position: "right",
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: "log loss" },
          },
        },
      ),
      decisions: bar("chart-decisions", false),
      suppressed: bar("chart-suppressed", true),
    };
    made.latencyKeys = latency.map(([, histogram, q]) => `${histogram}.${q}`);
    return made;
  }

  /** Log-scale ticks: only 1, 2 and 5 times a power of ten, in ms or s. */
  function duration(ms) {
    const mantissa = ms / 10 ** Math.floor(Math.log10(ms));
    if (![1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6)) return "";
    const round = (x) => Number(x.toPrecision(3));
    return ms >= 1000 ? `${round(ms / 1000)} s` : `${round(ms)} ms`;
  }

  function push(chart, label, values) {
    chart.data.labels.push(label);
    values.forEach((v, i) => chart.data.datasets[i].data.push(v));
    while (chart.data.labels.length > KEEP) {
      chart.data.labels.shift();
      chart.data.datasets.forEach((d) => d.data.shift());
    }
    chart.update("none");
  }

  function bars(chart, entries) {
    chart.data.labels = entries.map(([name]) => name);
    chart.data.datasets[0].data = entries.map(([, n]) => n);
    chart.data.datasets[0].backgroundColor = entries.map((_, i) => COLORS[i % COLORS.length]);
    chart.update("none");
  }

  function keep(list, value) {
    list.push(value);
    while (list.length > KEEP) list.shift();
  }

  // --- rendering ------------------------------------------------------------------

  function render(snapshot) {
    const previous = state.latest;
    state.latest = snapshot;
    state.polls += 1;
    showBoard();

    const at = new Date(snapshot.at);
    const label = at.toLocaleTimeString([], { hour12: false });
    const rate = eventsPerSecond(previous, snapshot);
    const lag = snapshot.lag.total;
    const model = snapshot.model;

    keep(state.series.labels, label);
    keep(state.series.throughput, rate);
    keep(state.series.lag, lag);
    keep(state.series.auc, model.auc);
    keep(state.series.logLoss, model.log_loss);
    const latency = charts.latencyKeys.map((name) => {
      const [histogram, q] = name.split(".");
      const seconds = snapshot.latency[histogram][q];
      const ms = seconds === null ? null : seconds * 1000;
      keep(state.series.latency[name], ms);
      return ms;
    });

    push(charts.throughput, label, [rate]);
    push(charts.lag, label, [lag]);
    push(charts.latency, label, latency);
    push(charts.model, label, [model.auc, model.log_loss]);
    bars(charts.decisions, OUTCOMES.map((o) => [o, snapshot.decisions[o]]));
    bars(charts.suppressed, Object.entries(snapshot.suppressed).sort((a, b) => b[1] - a[1]));

    tiles(snapshot, rate);
    liftTable(snapshot.lift);
    partitionTable(snapshot.lag.partitions);
    workerList(snapshot.workers);

    const down = snapshot.workers.filter((w) => !w.up).length;
    if (down) {
      setStatus("degraded", `live · ${down} of ${snapshot.workers.length} worker endpoints not answering`);
    } else {
      setStatus("live", `live · updated ${label}`);
    }
  }

  function eventsPerSecond(previous, current) {
    if (!previous) return null;
    const seconds = (Date.parse(current.at) - Date.parse(previous.at)) / 1000;
    const events = current.events.applied - previous.events.applied;
    if (!(seconds > 0) || events < 0) return null; // a reset counter says nothing
    return events / seconds;
  }

  function text(id, value, bad) {
    const el = $(id);
    el.textContent = value;
    el.classList.toggle("bad", Boolean(bad));
  }

  function tiles(s, rate) {
    text("tile-rate", rate === null ? "–" : decimal.format(rate));
    text("tile-applied", number.format(s.events.applied));
    text("tile-profiles", number.format(s.events.profiles));
    text("tile-emitted", number.format(s.decisions.emitted));
    text("tile-dead", number.format(s.events.dead_letters));
    text("tile-late", number.format(s.events.late));
    text("tile-lag", s.lag.total === null ? "unknown" : number.format(s.lag.total), s.lag.total === null);
    text("tile-stalled", number.format(s.lag.stalled), s.lag.stalled > 0);
    text("tile-scheduled", number.format(s.schedule.scheduled));
    const m = s.model;
    text("tile-model", m.auc === null ? "no labels" : `AUC ${m.auc.toFixed(3)}`);
    $("tile-model").title = `${m.version || "version unknown"}, ${number.format(m.labels)} labels`;
  }

  function cell(row, value, className) {
    const td = document.createElement("td");
    td.textContent = value;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  const pct = (x) => `${(100 * x).toFixed(2)} %`;
  const pp = (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}`;
  const interval = (e) => `${pp(e.difference)} [${pp(e.low)}, ${pp(e.high)}]`;
  const sign = (e) => (e.low > 0 ? "positive" : e.high < 0 ? "negative" : "");

  function liftTable(lifts) {
    const body = $("lift").tBodies[0];
    const rows = lifts.map((c) => {
      const row = document.createElement("tr");
      cell(row, c.campaign_id);
      cell(row, number.format(c.treated.n));
      cell(row, number.format(c.treated.conversions));
      cell(row, pct(c.pooled.treated_rate));
      cell(row, number.format(c.holdout.n));
      cell(row, number.format(c.holdout.conversions));
      cell(row, pct(c.pooled.holdout_rate));
      cell(row, interval(c.pooled), sign(c.pooled));
      const relative = c.pooled.relative;
      cell(row, relative === null ? "n/a" : `${relative >= 0 ? "+" : ""}${(100 * relative).toFixed(1)} %`);
      const strat = c.stratified === null ? "n/a" : interval(c.stratified);
      cell(row, c.simpson ? `${strat} (Simpson!)` : strat, c.stratified && sign(c.stratified));
      return row;
    });
    body.replaceChildren(...rows);
    $("lift").hidden = rows.length === 0;
    $("lift-empty").hidden = rows.length > 0;
  }

  function partitionTable(partitions) {
    const topics = new Map();
    for (const p of partitions) {
      const t = topics.get(p.topic) || { partitions: 0, lag: 0, worst: null, stalled: [] };
      t.partitions += 1;
      t.lag += p.lag;
      if (p.lag > 0 && (t.worst === null || p.lag > t.worst.lag)) t.worst = p;
      if (p.stalled) t.stalled.push(p.partition);
      topics.set(p.topic, t);
    }
    const rows = [...topics].map(([topic, t]) => {
      const row = document.createElement("tr");
      cell(row, topic);
      cell(row, String(t.partitions));
      cell(row, number.format(t.lag));
      cell(row, t.worst === null ? "–" : `${t.worst.partition} (${number.format(t.worst.lag)})`);
      const stalled = t.stalled.length > 0;
      cell(row, stalled ? `stalled: ${t.stalled.join(", ")}` : "ok", stalled ? "stalled" : "up");
      return row;
    });
    $("partitions").tBodies[0].replaceChildren(...rows);
    $("partitions").hidden = rows.length === 0;
    $("partitions-empty").hidden = rows.length > 0;
  }

  function workerList(workers) {
    const items = workers.map((w) => {
      const li = document.createElement("li");
      const mark = document.createElement("span");
      mark.className = w.up ? "up" : "down";
      mark.textContent = w.up ? "up" : `down (${w.error})`;
      const url = document.createElement("span");
      url.className = "url";
      url.textContent = w.url;
      li.append(mark, url);
      return li;
    });
    $("workers").replaceChildren(...items);
  }

  // --- start ------------------------------------------------------------------------

  function start() {
    keys.onKey((value) => {
      remember(value);
      setStatus("idle", "connecting");
      poll();
    });
    $("forget").addEventListener("click", () => {
      remember(null);
      showLogin(null);
    });
    window.addEventListener("hashchange", () => {
      const fresh = keyFromFragment();
      if (fresh) {
        remember(fresh);
        poll();
      }
    });
    const stored = keyFromFragment() || keys.stored();
    if (!stored) {
      showLogin(null);
      return;
    }
    remember(stored);
    setStatus("idle", "connecting");
    poll();
  }

  start();
})();

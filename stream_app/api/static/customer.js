/* stream_app customer view: looks one customer up (GET /v1/customers/{id}/view) and
 * shows the panels.
 *
 * The API key is typed into the page (or comes from the URL fragment, see apikey.js)
 * and sent as a Bearer token. The customer id is sent in the request path only: it never goes into the
 * page's address or history. The latest state is on window.customerView for tests.
 */
(() => {
  "use strict";

  const TIMEOUT_MS = 10000;
  const KEY_ITEM = "stream_app.customer.key";
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const KINDS = {
    planned: "planned",
    sent: "sent",
    held_out: "held out",
    cancelled: "cancelled",
    suppressed: "not sent",
  };

  const state = { status: "idle", lookups: 0, failures: 0, shown: null };
  window.customerView = state;

  const $ = (id) => document.getElementById(id);
  const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  let key = null;

  const keys = window.streamAppKey(KEY_ITEM); // static/apikey.js

  function remember(value) {
    key = value;
    keys.remember(value);
  }

  function setStatus(kind, message) {
    state.status = kind;
    const status = $("status");
    status.dataset.state = kind;
    status.textContent = message;
  }

  function showLogin(error) {
    setStatus("idle", "waiting for an API key");
    keys.ask("view", error);
  }

  function showSearch() {
    keys.show("view");
    setStatus("idle", "ready");
    $("customer-input").focus();
  }

  function searchError(message) {
    $("search-error").hidden = !message;
    $("search-error").textContent = message || "";
  }

  // --- lookup ---------------------------------------------------------------------

  async function lookup(customerId) {
    const abort = new AbortController();
    const timeout = window.setTimeout(() => abort.abort(), TIMEOUT_MS);
    setStatus("idle", "looking up");
    searchError("");
    let response;
    try {
      response = await fetch(`v1/customers/${encodeURIComponent(customerId)}/view`, {
        headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
        signal: abort.signal,
      });
    } catch {
      state.failures += 1;
      setStatus("error", "API unreachable");
      return;
    } finally {
      window.clearTimeout(timeout);
    }
    state.lookups += 1;
    if (response.status === 401) {
      remember(null);
      showLogin("The API refused this key (unknown, revoked or mistyped).");
      return;
    }
    if (!response.ok) {
      state.failures += 1;
      const reasons = {
        403: "This key may not read customers (it needs the support scope).",
        404: "No customer with this id.",
        422: "Not a valid customer id.",
        429: "Too many lookups: wait a minute.",
      };
      searchError(reasons[response.status] || `The API answered ${response.status}.`);
      setStatus(response.status >= 500 ? "error" : "idle", "ready");
      return;
    }
    const view = await response.json();
    state.shown = view;
    render(view);
    setStatus("live", "customer shown");
  }

  // --- panels ---------------------------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function fill(id, nodes, emptyId) {
    const target = $(id);
    target.replaceChildren(...nodes);
    if (emptyId) $(emptyId).hidden = nodes.length > 0;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "–";
  }

  function tile(label, value) {
    const node = el("div", null, "tile");
    node.append(el("span", label, "label"), el("span", value ?? "–", "value"));
    return node;
  }

  function renderValue(p) {
    const v = p.value;
    fill("panel-value", [
      tile("life cycle", p.lifecycle.stage),
      tile("tier", v.tier),
      tile("RFM", v.rfm),
      tile("orders", v.orders),
      tile("net spend", `${v.monetary.amount} ${v.monetary.currency}`),
      tile("avg order", v.aov ? `${v.aov.amount} ${v.aov.currency}` : "–"),
      tile("return rate", v.return_rate === null ? "–" : `${decimal.format(v.return_rate * 100)} %`),
      tile("days since purchase", v.recency_days === null ? "–" : decimal.format(v.recency_days)),
      tile("next purchase due", p.lifecycle.next_purchase_due ? when(p.lifecycle.next_purchase_due) : "–"),
      tile("last seen", when(p.last_seen)),
    ]);
  }

  function renderTastes(tastes) {
    const entries = Object.entries(tastes);
    const top = Math.max(...entries.map(([, w]) => w), 0) || 1;
    fill(
      "tastes",
      entries.map(([name, weight]) => {
        const row = el("li");
        const bar = el("span", null, "bar");
        bar.style.width = `${Math.max(2, (100 * weight) / top)}%`;
        const track = el("span");
        track.append(bar);
        row.append(el("span", name), track, el("span", decimal.format(weight), "num"));
        return row;
      }),
      "tastes-empty",
    );
  }

  function renderRhythm(rhythm) {
    const top = Math.max(...rhythm, 0) || 1;
    const nodes = [el("span")];
    for (let hour = 0; hour < 24; hour += 1) nodes.push(el("span", hour % 3 === 0 ? hour : "", "hour"));
    DAYS.forEach((day, d) => {
      nodes.push(el("span", day, "day"));
      for (let hour = 0; hour < 24; hour += 1) {
        const value = rhythm[d * 24 + hour];
        const cell = el("span", null, "cell");
        cell.title = `${day} ${String(hour).padStart(2, "0")}:00 · ${decimal.format(value)}`;
        if (value > 0) cell.style.backgroundColor = `rgba(90, 169, 255, ${0.15 + (0.85 * value) / top})`;
        nodes.push(cell);
      }
    });
    fill("rhythm", nodes);
  }

  function renderCart(cart) {
    const rows = cart.map((line) => {
      const row = el("tr");
      row.append(el("td", line.item_id), el("td", line.quantity), el("td", decimal.format(line.price)));
      return row;
    });
    $("cart").tBodies[0].replaceChildren(...rows);
    $("cart-empty").hidden = rows.length > 0;
  }

  function renderChips(id, items, emptyId) {
    fill(
      id,
      items.map(([text, className]) => el("li", text, className)),
      emptyId,
    );
  }

  function describe(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") return decimal.format(value);
    if (Array.isArray(value)) return value.length ? value.map(describe).join(", ") : "none";
    if (typeof value === "object") {
      return Object.entries(value).map(([k, v]) => `${k}: ${describe(v)}`).join(" · ");
    }
    return String(value);
  }

  function renderSentiment(profile) {
    const facts = [];
    for (const name of ["sentiment", "complaints"]) {
      if (profile[name] === undefined) continue;
      facts.push(el("dt", name), el("dd", describe(profile[name])));
    }
    fill("sentiment", facts, "sentiment-empty");
  }

  function renderTimeline(timeline) {
    const rows = timeline.map((entry) => {
      const row = el("tr", null, entry.kind);
      const why = el("td");
      why.append(el("span", entry.why || "–"));
      if (entry.detail) why.append(el("span", entry.detail, "detail"));
      const what = entry.send_at && entry.kind === "planned" ? `planned for ${when(entry.send_at)}` : KINDS[entry.kind];
      row.append(el("td", when(entry.at)), el("td", what, "kind"), el("td", entry.campaign_id), el("td", entry.channel || "–"), why);
      return row;
    });
    $("timeline").tBodies[0].replaceChildren(...rows);
    $("timeline-empty").hidden = rows.length > 0;
  }

  function render(view) {
    const p = view.profile;
    renderValue(p);
    renderTastes(p.tastes);
    renderRhythm(view.rhythm);
    renderCart(p.cart);
    renderChips("segments", p.segments.map((s) => [s, ""]), "segments-empty");
    renderChips(
      "consent",
      Object.entries(p.traits.consent).map(([channel, yes]) => [`${channel}: ${yes ? "yes" : "no"}`, yes ? "yes" : "no"]),
      "consent-empty",
    );
    renderSentiment(p);
    renderTimeline(view.timeline);
    $("panels").hidden = false;
  }

  // --- wiring ---------------------------------------------------------------------

  keys.onKey((value) => {
    remember(value);
    showSearch();
  });

  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const customerId = $("customer-input").value.trim();
    if (customerId) lookup(customerId);
  });

  $("forget").addEventListener("click", () => {
    remember(null);
    state.shown = null;
    $("panels").hidden = true;
    showLogin();
  });

  const initial = keys.fromFragment() || keys.stored();
  if (initial) {
    remember(initial);
    showSearch();
  } else {
    showLogin();
  }
})();

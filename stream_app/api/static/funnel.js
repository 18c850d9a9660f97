/* stream_app dashboard: the funnel bars and the retention heat map.
 *
 * Reads GET /v1/reports/funnel and /v1/reports/cohorts (scope reports:read) with the
 * key the dashboard's own poll used (its "dashboard:polled" event), at most every
 * REFRESH_MS: the counters move with the stream, analysts do not need them every 2 s.
 * The latest reports are on window.dashboardFunnel for tests.
 */
(() => {
  "use strict";

  const REFRESH_MS = 10000;
  const state = { funnel: null, cohorts: null, at: 0 };
  window.dashboardFunnel = state;
  let chart = null;
  let busy = false;

  async function get(path, key) {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  function drawFunnel(report) {
    const stages = Object.keys(report.total.stages);
    const counts = stages.map((s) => report.total.stages[s]);
    if (chart === null) {
      chart = new window.Chart(document.getElementById("chart-funnel"), {
        type: "bar",
        data: { labels: stages, datasets: [{ label: "customers", data: counts, backgroundColor: "#5aa9ff" }] },
        options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } },
      });
      return;
    }
    chart.data.labels = stages;
    chart.data.datasets[0].data = counts;
    chart.update("none");
  }

  function heat(share) {
    // Transparent at 0, the dashboard's blue at 100 %.
    return `rgba(90, 169, 255, ${Math.min(1, Math.max(0, share)).toFixed(2)})`;
  }

  function drawRetention(report) {
    const table = document.getElementById("retention");
    const steps = report.cohorts.length ? report.cohorts[0].retained.length : 0;
    const head = table.tHead.rows[0];
    while (head.cells.length > 2) head.deleteCell(-1);
    for (let k = 1; k <= steps; k += 1) {
      const th = document.createElement("th");
      th.textContent = `k=${k}`;
      head.appendChild(th);
    }
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of report.cohorts) {
      const tr = body.insertRow();
      tr.insertCell().textContent = row.cohort;
      tr.insertCell().textContent = String(row.customers);
      for (const n of row.retained) {
        const share = row.customers ? n / row.customers : 0;
        const td = tr.insertCell();
        td.textContent = `${(share * 100).toFixed(1)}%`;
        td.title = `${n} of ${row.customers}`;
        td.style.backgroundColor = heat(share);
      }
    }
    document.getElementById("retention-empty").hidden = report.cohorts.length > 0;
  }

  async function refresh(key) {
    if (busy || Date.now() - state.at < REFRESH_MS || !window.Chart) return;
    busy = true;
    try {
      const [funnel, cohorts] = await Promise.all([
        get("v1/reports/funnel", key),
        get("v1/reports/cohorts", key),
      ]);
      state.funnel = funnel;
      state.cohorts = cohorts;
      state.at = Date.now();
      drawFunnel(funnel);
      drawRetention(cohorts);
    } catch {
      // The dashboard's own poll reports the API's state; the panels keep their last figures.
    } finally {
      busy = false;
    }
  }

  document.addEventListener("dashboard:polled", (event) => refresh(event.detail.key));
})();

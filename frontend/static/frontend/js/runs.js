// The dashboard's run panels — reward model and alignment: runs (state, progress, score), the promoted model and
// the latest run's loss curve. They listen to the same websocket events as the rest of the page (relayed by
// dashboard.js as `vidpref:event` DOM events) and refetch their runs when one changes; without the websocket,
// reload to refresh.

import { api } from "./api.js";
import { drawBars } from "./chart.js";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
const $ = (id) => document.getElementById(id);
const REFRESH_COALESCE_MS = 500;
window.vidprefRuns = { refreshes: 0 };

const percent = (value) => (typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "–");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// One panel: where its runs come from, which registry kind it shows, and how a run's row reads.
function runPanel({ runsUrl, kind, tableId, chartId, activeId, eventPrefix, describeActive, columns, isStep }) {
  let pending = null;

  function draw(runs, registry) {
    const active = registry.find((entry) => entry.kind === kind && entry.active);
    $(activeId).textContent = active ? describeActive(active) : "No model promoted yet.";
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    if (!runs.length) {
      const tr = document.createElement("tr");
      tr.append(cell("No runs yet.", "muted small"));
      tr.firstChild.colSpan = columns.length + 4;
      body.append(tr);
    }
    for (const run of runs) {
      const tr = document.createElement("tr");
      tr.dataset.run = run.id;
      tr.append(
        cell(`#${run.id}`),
        cell(run.error ? `${run.state}: ${run.error}` : run.state),
        cell(`${Math.round(run.progress * 100)}%`, "num"),
        cell(String(run.step), "num"),
        ...columns.map(([read, className]) => cell(read(run), className)),
      );
      body.append(tr);
    }
    const latest = runs.find((run) => run.metrics?.some(isStep));
    const container = $(chartId);
    container.replaceChildren();
    if (latest) {
      const steps = latest.metrics.filter((m) => isStep(m) && typeof m.loss === "number");
      drawBars(container, steps.map((m) => ({ t: m.step, value: m.loss })), {
        label: `loss of run #${latest.id}`,
        tickEvery: Math.max(1, Math.ceil(steps.length / 6)),
        formatTick: (t) => `step ${t}`,
      });
    }
  }

  async function refresh() {
    try {
      const [{ data: runs }, { data: registry }] = await Promise.all([api(runsUrl), api(config.urls.registry)]);
      draw(runs || [], registry || []);
      window.vidprefRuns.refreshes += 1;
    } catch {
      // The panel keeps what it showed; the next event or a reload tries again.
    }
  }

  document.addEventListener("vidpref:event", (event) => {
    const name = event.detail?.event || "";
    if (!(name.startsWith(eventPrefix) || name === "registry.updated") || pending) return;
    pending = setTimeout(async () => {
      pending = null;
      await refresh();
    }, REFRESH_COALESCE_MS);
  });
  refresh();
}

const promoted = (run) => (run.result?.promoted ? "yes" : run.state === "succeeded" ? "no" : "–");

runPanel({
  runsUrl: config.urls.reward_runs,
  kind: "reward",
  tableId: "reward-runs",
  chartId: "loss-chart",
  activeId: "registry-active",
  eventPrefix: "reward_run.",
  describeActive: (entry) => `Promoted: run #${entry.reward_run} · held-out accuracy ${percent(entry.score)}`,
  columns: [[(run) => percent(run.result?.score), "num"], [promoted]],
  isStep: (m) => m.event === "step",
});

runPanel({
  runsUrl: config.urls.alignment_runs,
  kind: "generator",
  tableId: "alignment-runs",
  chartId: "alignment-loss-chart",
  activeId: "generator-active",
  eventPrefix: "alignment_run.",
  describeActive: (entry) => `Promoted: adapter of run #${entry.alignment_run} · win rate ${percent(entry.score)}`,
  columns: [
    [(run) => run.method],
    [(run) => percent(run.result?.score), "num"],
    [promoted],
    [(run) => {
      const generated = run.result?.generated;
      if (!generated || generated.skipped) return "–";
      return String(generated.aligned_vs_pretrained + generated.aligned_vs_aligned);
    }, "num"],
  ],
  isStep: (m) => typeof m.step === "number" && typeof m.loss === "number",
});

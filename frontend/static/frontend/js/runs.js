// The dashboard's reward-model panel: runs (state, progress, held-out accuracy), the promoted model and the latest
// run's loss curve. It listens to the same websocket events as the rest of the page (relayed by dashboard.js as
// `vidpref:event` DOM events) and refetches the runs when one changes; without the websocket, reload to refresh.

import { api } from "./api.js";
import { drawBars } from "./chart.js";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
const $ = (id) => document.getElementById(id);
const REFRESH_COALESCE_MS = 500;
window.vidprefRuns = { refreshes: 0 };

let pending = null;

function refreshSoon() {
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    await refresh();
  }, REFRESH_COALESCE_MS);
}

async function refresh() {
  try {
    const [{ data: runs }, { data: registry }] = await Promise.all([
      api(config.urls.reward_runs),
      api(config.urls.registry),
    ]);
    draw(runs || [], registry || []);
    window.vidprefRuns.refreshes += 1;
  } catch {
    // The panel keeps what it showed; the next event or a reload tries again.
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function draw(runs, registry) {
  const active = registry.find((entry) => entry.kind === "reward" && entry.active);
  $("registry-active").textContent = active
    ? `Promoted: run #${active.reward_run} · held-out accuracy ${(active.score * 100).toFixed(1)}%`
    : "No model promoted yet.";
  const body = $("reward-runs").querySelector("tbody");
  body.replaceChildren();
  if (!runs.length) {
    const tr = document.createElement("tr");
    tr.append(cell("No runs yet.", "muted small"));
    tr.firstChild.colSpan = 6;
    body.append(tr);
  }
  for (const run of runs) {
    const tr = document.createElement("tr");
    tr.dataset.run = run.id;
    const score = run.result?.score;
    tr.append(
      cell(`#${run.id}`),
      cell(run.error ? `${run.state}: ${run.error}` : run.state),
      cell(`${Math.round(run.progress * 100)}%`, "num"),
      cell(String(run.step), "num"),
      cell(score === undefined ? "–" : `${(score * 100).toFixed(1)}%`, "num"),
      cell(run.result?.promoted ? "yes" : run.state === "succeeded" ? "no" : "–"),
    );
    body.append(tr);
  }
  const latest = runs.find((run) => run.metrics?.some((m) => m.event === "step"));
  const container = $("loss-chart");
  container.replaceChildren();
  if (latest) {
    const steps = latest.metrics.filter((m) => m.event === "step" && typeof m.loss === "number");
    drawBars(container, steps.map((m) => ({ t: m.step, value: m.loss })), {
      label: `loss of run #${latest.id}`,
      tickEvery: Math.max(1, Math.ceil(steps.length / 6)),
      formatTick: (t) => `step ${t}`,
    });
  }
}

document.addEventListener("vidpref:event", (event) => {
  const name = event.detail?.event || "";
  if (name.startsWith("reward_run.") || name === "registry.updated") refreshSoon();
});

refresh();

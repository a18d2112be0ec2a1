// The manager dashboard: progress, throughput, agreement, annotators, import/export jobs — live over a websocket.
//
// The page is drawn from the progress the server rendered into it, so it is complete without the websocket
// (reload to refresh). With the websocket, judgement events trigger a refetch of the progress (coalesced: a
// burst of submits costs one request) and, less often, of the quality figures, which are heavier to compute.

import { api, ApiError, urlWithId } from "./api.js";
import { denseSeries, drawBars } from "./chart.js";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
const $ = (id) => document.getElementById(id);
const PROGRESS_COALESCE_MS = 250;
const QUALITY_MIN_INTERVAL_MS = 5000;
const RANGES = {
  per_minute: { stepMs: 60000, count: 60, tickEvery: 10 },
  per_hour: { stepMs: 3600000, count: 48, tickEvery: 6 },
};

const state = { progress: config.progress, quality: null, range: "per_minute", jobs: new Map(), jobsAvailable: true };
window.vidprefDashboard = { progressUpdates: 0, events: 0 };

// ---------------------------------------------------------------- progress

function drawProgress() {
  const p = state.progress;
  const c = p.comparisons;
  $("kpi-complete").textContent = fmt(c.complete);
  $("kpi-total").textContent = fmt(c.total);
  $("kpi-bar").style.width = `${c.total ? (100 * c.complete) / c.total : 0}%`;
  $("kpi-judgements").textContent = fmt(p.judgements);
  $("kpi-in-progress").textContent = fmt(c.in_progress);
  $("kpi-untouched").textContent = fmt(c.untouched);
  $("kpi-gold").textContent = fmt(c.gold);
  $("kpi-active").textContent = fmt(p.assignments.active);
  $("kpi-skipped").textContent = fmt(p.assignments.skipped);
  $("kpi-expired").textContent = fmt(p.assignments.expired);
  drawChart();
  drawAnnotators();
}

function drawChart() {
  const range = RANGES[state.range];
  const series = denseSeries(state.progress.throughput?.[state.range] || [], range);
  const minute = state.range === "per_minute";
  drawBars($("chart"), series, {
    label: "judgements",
    tickEvery: range.tickEvery,
    formatTick: (t, long) => {
      const d = new Date(t);
      if (long) return d.toLocaleString([], { weekday: minute ? undefined : "short", hour: "2-digit", minute: "2-digit" });
      const hh = String(d.getHours()).padStart(2, "0");
      return minute ? `${hh}:${String(d.getMinutes()).padStart(2, "0")}` : `${d.toLocaleDateString([], { weekday: "short" })} ${hh}h`;
    },
  });
}

for (const button of document.querySelectorAll("[data-range]")) {
  button.addEventListener("click", () => {
    state.range = button.dataset.range;
    for (const other of document.querySelectorAll("[data-range]")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    drawChart();
  });
}
window.addEventListener("resize", () => drawChart());

let progressTimer = 0;
function refreshProgressSoon() {
  if (progressTimer) return;
  progressTimer = setTimeout(async () => {
    progressTimer = 0;
    try {
      const { data } = await api(config.urls.progress);
      state.progress = data;
      window.vidprefDashboard.progressUpdates += 1;
      drawProgress();
    } catch (error) {
      showMessage(`Progress could not be refreshed: ${error.message}`);
    }
  }, PROGRESS_COALESCE_MS);
}

// ---------------------------------------------------------------- quality

let qualityAt = 0;
let qualityTimer = 0;
function refreshQualitySoon() {
  if (qualityTimer) return;
  const wait = Math.max(0, qualityAt + QUALITY_MIN_INTERVAL_MS - Date.now());
  qualityTimer = setTimeout(refreshQuality, wait);
}

async function refreshQuality() {
  qualityTimer = 0;
  qualityAt = Date.now();
  try {
    const { data } = await api(config.urls.quality);
    state.quality = data;
    drawQuality();
    drawAnnotators();
  } catch (error) {
    $("annotators-note").textContent = `Quality figures unavailable: ${error.message}`;
  }
}

function drawQuality() {
  const body = $("dimension-quality").tBodies[0];
  body.replaceChildren();
  for (const [dimension, figures] of Object.entries(state.quality.dimensions)) {
    body.append(row([dimension, num(figures.alpha, 2), pct(figures.pairwise_agreement)], [false, true, true]));
  }
}

function drawAnnotators() {
  const quality = new Map((state.quality?.annotators || []).map((a) => [a.username, a]));
  const body = $("annotators").tBodies[0];
  body.replaceChildren();
  const rows = state.progress.annotators;
  if (!rows.length) {
    const empty = row(["No judgements yet."], [false]);
    empty.firstChild.colSpan = 9;
    empty.firstChild.className = "muted";
    body.append(empty);
    return;
  }
  for (const { username, judgements } of rows) {
    const q = quality.get(username) || {};
    const tr = row(
      [
        username,
        fmt(judgements),
        num(q.judgements_per_hour, 0),
        q.median_lead_ms == null ? "–" : `${(q.median_lead_ms / 1000).toFixed(1)} s`,
        pct(q.agreement),
        q.gold ? `${pct(q.gold_accuracy)} of ${q.gold}` : "–",
        pct(q.tie_rate),
        pct(q.left_share),
        q.spammer ? "Check" : "",
      ],
      [false, true, true, true, true, true, true, true, false],
    );
    if (q.spammer) {
      tr.classList.add("flagged");
      tr.lastChild.title = (q.spam_reasons || []).join("; ");
      tr.lastChild.textContent = `⚑ ${(q.spam_reasons || []).join("; ") || "check"}`;
    }
    body.append(tr);
  }
  $("annotators-note").textContent = state.quality ? "" : "Loading quality figures…";
}

// ---------------------------------------------------------------- import / export jobs

function drawJobs() {
  const list = $("jobs");
  list.replaceChildren();
  const jobs = [...state.jobs.values()].sort((a, b) => b.id - a.id).slice(0, 8);
  if (!jobs.length) {
    const li = document.createElement("li");
    li.className = "muted small";
    li.textContent = "No jobs yet.";
    list.append(li);
    return;
  }
  for (const job of jobs) {
    const li = document.createElement("li");
    li.className = `job job-${job.state}`;
    li.dataset.job = job.id;
    const head = document.createElement("div");
    head.className = "job-head";
    const title = document.createElement("strong");
    title.textContent = `${capitalise(job.kind || "job")} #${job.id}`;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = job.state;
    head.append(title, badge);
    li.append(head);
    if (job.state === "running" || job.state === "queued") {
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = job.progress || 0;
      bar.setAttribute("aria-label", `${title.textContent} progress`);
      li.append(bar);
    }
    const detail = document.createElement("div");
    detail.className = "small";
    if (job.state === "failed") detail.textContent = job.error || "Failed.";
    else if (job.result && typeof job.result === "object") detail.textContent = summariseResult(job.result);
    li.append(detail);
    const problems = job.result?.errors || [];
    if (problems.length) {
      // The import's per-row report: the first few rows, so that the manager can fix the manifest.
      const list = document.createElement("ul");
      list.className = "job-errors small";
      for (const problem of problems.slice(0, 5)) {
        const item = document.createElement("li");
        item.textContent = describeProblem(problem);
        list.append(item);
      }
      if (problems.length > 5) {
        const more = document.createElement("li");
        more.textContent = `… and ${problems.length - 5} more`;
        list.append(more);
      }
      li.append(list);
    }
    if (job.download_url) {
      const link = document.createElement("a");
      link.href = job.download_url;
      link.textContent = "Download";
      link.className = "small";
      li.append(link);
    }
    list.append(li);
  }
}

function describeProblem(problem) {
  if (typeof problem !== "object" || problem === null) return String(problem);
  const where = [problem.row != null ? `Row ${problem.row}` : "", problem.field || ""].filter(Boolean).join(", ");
  const text = problem.reason || problem.message || JSON.stringify(problem);
  return where ? `${where}: ${text}` : text;
}

function summariseResult(result) {
  return Object.entries(result)
    .filter(([key, value]) => ["number", "string"].includes(typeof value) && key !== "path")
    .slice(0, 6)
    .map(([key, value]) => `${key.replaceAll("_", " ")}: ${value}`)
    .join(" · ");
}

async function loadJobs() {
  try {
    const { data } = await api(config.urls.jobs);
    for (const job of data) state.jobs.set(job.id, job);
    drawJobs();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      state.jobsAvailable = false;
      $("data-unavailable").hidden = false;
      for (const form of [$("import-form"), $("export-form")]) {
        for (const control of form.elements) control.disabled = true;
      }
    }
  }
}

async function refreshJob(id) {
  try {
    const { data } = await api(urlWithId(config.urls.job, id));
    state.jobs.set(data.id, data);
    drawJobs();
  } catch {
    // The next event or poll brings it.
  }
}

$("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const data = new FormData();
  data.append("manifest", form.manifest.files[0]);
  for (const file of form.videos.files) data.append("videos", file);
  data.append("skip_invalid", form.skip_invalid.checked ? "true" : "false");
  await startJob(config.urls.imports, { form: data }, form);
});

$("export-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const seed = Number(form.seed.value);
  if (!Number.isInteger(seed) || seed < 0) {
    showMessage("The seed must be a whole number, 0 or more.");
    return;
  }
  const body = { format: form.format.value, split: form.split.checked, seed };
  await startJob(config.urls.exports, { body }, form);
});

async function startJob(url, options, form) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showMessage("Starting…");
  try {
    const { data } = await api(url, { method: "POST", ...options });
    state.jobs.set(data.id, data);
    drawJobs();
    showMessage(`${capitalise(data.kind || "job")} #${data.id} started.`);
    form.reset();
    watchJob(data.id);
  } catch (error) {
    const details = error.data?.errors ? ` ${flatten(error.data.errors)}` : "";
    showMessage(`Not started: ${error.message}${details}`, true);
  } finally {
    button.disabled = false;
  }
}

// Without the websocket, a started job is polled until it finishes.
function watchJob(id) {
  const poll = async () => {
    if (socketOpen) return;
    await refreshJob(id);
    const job = state.jobs.get(id);
    if (job && (job.state === "queued" || job.state === "running")) setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}

function showMessage(text, error = false) {
  const message = $("data-message");
  message.textContent = text;
  message.classList.toggle("error", error);
}

// ---------------------------------------------------------------- websocket

let socketOpen = false;
let retryMs = 1000;

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${config.urls.websocket}`);
  socket.addEventListener("open", () => {
    socketOpen = true;
    retryMs = 1000;
    setLive("live", "Live");
    // Anything that happened while disconnected.
    refreshProgressSoon();
    refreshQualitySoon();
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    window.vidprefDashboard.events += 1;
    onEvent(message);
    // Other panels of the page (runs.js) listen for the same events.
    document.dispatchEvent(new CustomEvent("vidpref:event", { detail: message }));
  });
  socket.addEventListener("close", () => {
    socketOpen = false;
    setLive("offline", "Not live — reconnecting (reload to refresh)");
    // Back off to a minute so that a server restart does not meet a thundering herd.
    setTimeout(connect, retryMs);
    retryMs = Math.min(60000, retryMs * 2);
  });
}

function onEvent({ event, payload }) {
  if (event === "judgement.created" || event?.startsWith("assignment.") || event?.startsWith("comparison")) {
    refreshProgressSoon();
    refreshQualitySoon();
  } else if (event === "job.updated") {
    // The event carries the state and progress; a finished job is fetched for its result and download link.
    const id = payload?.job ?? payload?.id;
    if (!id) return;
    const { job: _ignored, ...fields } = payload;
    state.jobs.set(id, { ...(state.jobs.get(id) || {}), ...fields, id });
    drawJobs();
    if (payload.state === "succeeded" || payload.state === "failed") {
      refreshJob(id);
      if (payload.kind === "import") refreshProgressSoon();
    }
  } else {
    refreshProgressSoon();
  }
}

function setLive(stateName, text) {
  $("live").dataset.state = stateName;
  $("live-text").textContent = text;
}

// ---------------------------------------------------------------- helpers

function row(cells, numeric) {
  const tr = document.createElement("tr");
  cells.forEach((value, i) => {
    const td = document.createElement("td");
    td.textContent = value;
    if (numeric[i]) td.className = "num";
    tr.append(td);
  });
  return tr;
}

function fmt(n) {
  return n == null ? "–" : Number(n).toLocaleString();
}

function num(n, digits) {
  return n == null ? "–" : Number(n).toFixed(digits);
}

function pct(n) {
  return n == null ? "–" : `${Math.round(n * 100)}%`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function flatten(errors) {
  return Object.entries(errors)
    .map(([field, messages]) => `${field}: ${Array.isArray(messages) ? messages.join(" ") : JSON.stringify(messages)}`)
    .join("; ");
}

drawProgress();
refreshQuality();
loadJobs();
connect();

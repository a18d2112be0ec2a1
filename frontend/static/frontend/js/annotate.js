// The annotation page: shows one leased comparison at a time, collects the judgement, submits it and moves on.
//
// Save-then-next: an annotator holds one lease per project, so the next comparison cannot be claimed while the
// current one is open. The page therefore chains the two calls as tightly as it can — the next claim is sent
// the moment the submit is acknowledged, the new prompt and choices are drawn before the videos arrive, and the
// videos start as soon as both have a first frame. Everything that is not on that path (the progress counters,
// the checklist help) happens afterwards. `window.vidprefMetrics` records the times for the browser tests.

import { api, ApiError, NetworkError, urlWithId } from "./api.js";
import { bindShortcuts } from "./annotate-keys.js";
import { CHOICES, Judgement, MOS_DIMENSIONS, SIDES } from "./judgement.js";
import { SyncPlayer } from "./sync-player.js";

const config = JSON.parse(document.getElementById("annotate-config").textContent);
const $ = (id) => document.getElementById(id);
const CHOICE_TEXT = { left: "Left better", tie: "Tie", right: "Right better" };
const CHOICE_KEY = { left: "1", tie: "2", right: "3" };
const SUBMIT_RETRIES = [400, 1000, 2500]; // ms between attempts when the server cannot be reached
const HEARTBEAT_MIN_MS = 2000;
const HEARTBEAT_MAX_MS = 60000;

const player = new SyncPlayer($("video-left"), $("video-right"));
const state = {
  assignment: null,
  judgement: null,
  activeDimension: null,
  checklistDimension: null,
  shownAt: 0,
  busy: false,
  heartbeat: 0,
  heartbeatEveryMs: HEARTBEAT_MAX_MS,
  builtFor: "",
  progress: null,
};
window.vidprefMetrics = { saveToPromptMs: [], saveToVideosMs: [] };

// ---------------------------------------------------------------- drawing

function buildDimensions(assignment) {
  const signature = JSON.stringify([assignment.dimensions, assignment.checklist, assignment.asks_mos]);
  if (state.builtFor === signature) return;
  state.builtFor = signature;
  const container = $("dimensions");
  container.replaceChildren();
  for (const dimension of assignment.dimensions) {
    const row = document.createElement("div");
    row.className = "dimension";
    row.dataset.dimension = dimension;
    const name = document.createElement("div");
    name.className = "dimension-name";
    name.id = `dimension-${dimension}-name`;
    name.innerHTML = `<span class="code"></span><span class="label"></span>`;
    name.querySelector(".code").textContent = dimension;
    name.querySelector(".label").textContent = config.dimensionNames[dimension] || dimension;
    const group = document.createElement("div");
    group.className = "choices";
    group.setAttribute("role", "group");
    group.setAttribute("aria-labelledby", name.id);
    for (const choice of CHOICES) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `choice choice-${choice}`;
      button.dataset.choice = choice;
      button.setAttribute("aria-pressed", "false");
      button.textContent = CHOICE_TEXT[choice];
      button.title = `${CHOICE_TEXT[choice]} (${CHOICE_KEY[choice]})`;
      button.addEventListener("click", () => choose(choice, dimension));
      group.append(button);
    }
    row.append(name, group);
    row.addEventListener("click", (event) => {
      if (!event.target.closest("button")) setActiveDimension(dimension);
    });
    container.append(row);
  }

  const tabs = $("checklist-tabs");
  tabs.replaceChildren();
  for (const dimension of checklistDimensions(assignment)) {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.className = "tab";
    tab.setAttribute("role", "tab");
    tab.dataset.dimension = dimension;
    tab.textContent = dimension;
    tab.title = config.dimensionNames[dimension] || dimension;
    tab.addEventListener("click", () => showChecklist(dimension));
    tabs.append(tab);
  }

  const items = $("guideline-items");
  items.replaceChildren();
  for (const dimension of checklistDimensions(assignment)) {
    const list = assignment.checklist[dimension];
    const heading = document.createElement("h4");
    heading.textContent = config.dimensionNames[dimension] || dimension;
    const dl = document.createElement("dl");
    for (const item of list) {
      const dt = document.createElement("dt");
      dt.textContent = item.label;
      const dd = document.createElement("dd");
      dd.textContent = item.help;
      dl.append(dt, dd);
    }
    items.append(heading, dl);
  }

  $("mos").hidden = !assignment.asks_mos;
  const rows = $("mos-rows");
  rows.replaceChildren();
  if (assignment.asks_mos) {
    for (const dimension of MOS_DIMENSIONS) {
      const row = document.createElement("div");
      row.className = "mos-row";
      const label = document.createElement("span");
      label.className = "mos-dimension";
      label.textContent = dimension;
      label.title = config.dimensionNames[dimension];
      row.append(label);
      for (const side of SIDES) {
        const fieldset = document.createElement("fieldset");
        fieldset.className = "mos-scale";
        const legend = document.createElement("legend");
        legend.className = "sr-only";
        legend.textContent = `${config.dimensionNames[dimension]} score of the ${side} video`;
        fieldset.append(legend);
        const sideLabel = document.createElement("span");
        sideLabel.className = "mos-side";
        sideLabel.setAttribute("aria-hidden", "true");
        sideLabel.textContent = side === "left" ? "L" : "R";
        fieldset.append(sideLabel);
        for (let score = 1; score <= 5; score += 1) {
          const wrap = document.createElement("label");
          const input = document.createElement("input");
          input.type = "radio";
          input.name = `mos-${side}-${dimension}`;
          input.value = String(score);
          input.dataset.mos = `${side}:${dimension}`;
          input.setAttribute("aria-label", `${score}`);
          input.addEventListener("change", () => setMos(input, score));
          const face = document.createElement("span");
          face.textContent = String(score);
          wrap.append(input, face);
          fieldset.append(wrap);
        }
        row.append(fieldset);
      }
      rows.append(row);
    }
  }
}

// The checklist's dimensions in the order they are judged (the stored JSON does not keep its key order).
function checklistDimensions(assignment) {
  const order = [...assignment.dimensions, ...Object.keys(assignment.checklist).sort()];
  return [...new Set(order)].filter((d) => assignment.checklist[d]?.length);
}

function showChecklist(dimension) {
  const assignment = state.assignment;
  if (!assignment || !assignment.checklist[dimension]?.length) return;
  state.checklistDimension = dimension;
  $("checklist-dim-name").textContent = config.dimensionNames[dimension] || dimension;
  for (const tab of $("checklist-tabs").children) {
    tab.setAttribute("aria-selected", String(tab.dataset.dimension === dimension));
  }
  const body = $("checklist-items");
  body.replaceChildren();
  for (const item of assignment.checklist[dimension]) {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = item.label;
    name.title = item.help;
    row.append(name);
    for (const side of SIDES) {
      const cell = document.createElement("td");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "tick";
      box.dataset.side = side;
      box.dataset.key = item.key;
      box.checked = state.judgement.isTicked(side, dimension, item.key);
      box.setAttribute("aria-label", `${side === "left" ? "Left" : "Right"} video: ${item.label}`);
      box.setAttribute("aria-describedby", "checklist-help");
      box.addEventListener("change", () => state.judgement.toggleItem(side, dimension, item.key, box.checked));
      box.addEventListener("focus", () => showHelp(item));
      cell.append(box);
      row.append(cell);
    }
    row.addEventListener("mouseenter", () => showHelp(item));
    body.append(row);
  }
}

function showHelp(item) {
  const help = $("checklist-help");
  help.replaceChildren();
  const strong = document.createElement("strong");
  strong.textContent = `${item.label}: `;
  help.append(strong, document.createTextNode(item.help));
}

function setActiveDimension(dimension) {
  state.activeDimension = dimension;
  if (state.assignment?.checklist[dimension]?.length) showChecklist(dimension);
  refreshJudgement();
}

function refreshJudgement() {
  const judgement = state.judgement;
  if (!judgement) return;
  for (const row of $("dimensions").children) {
    const dimension = row.dataset.dimension;
    row.classList.toggle("active", dimension === state.activeDimension);
    row.classList.toggle("answered", Boolean(judgement.labels[dimension]));
    for (const button of row.querySelectorAll(".choice")) {
      button.setAttribute("aria-pressed", String(judgement.labels[dimension] === button.dataset.choice));
    }
  }
  const missing = judgement.missing();
  const submit = $("submit");
  submit.disabled = missing.length > 0 || state.busy;
  if (state.busy) $("submit-hint").textContent = "Saving…";
  else if (missing.length === 0) $("submit-hint").textContent = "Ready: Enter submits.";
  else $("submit-hint").textContent = `Still needed: ${summarise(missing)}`;
}

function summarise(missing) {
  const labels = missing.filter((m) => !m.includes(" "));
  const scores = missing.length - labels.length;
  const parts = [];
  if (labels.length) parts.push(labels.join(", "));
  if (scores) parts.push(`${scores} score${scores > 1 ? "s" : ""}`);
  return parts.join(" and ");
}

function showAssignment(assignment) {
  state.assignment = assignment;
  state.judgement = new Judgement(assignment);
  $("done").hidden = true;
  $("workspace").hidden = false;
  $("prompt").textContent = assignment.prompt.text; // text, never HTML: prompts come from manifests
  document.body.dataset.assignment = String(assignment.id);
  buildDimensions(assignment);
  for (const input of $("mos-rows").querySelectorAll("input")) input.checked = false;
  setActiveDimension(assignment.dimensions[0]);
  const firstWithItems = checklistDimensions(assignment)[0];
  if (!assignment.checklist[state.activeDimension]?.length && firstWithItems) showChecklist(firstWithItems);
  state.shownAt = performance.now();
  collapse();
  scheduleHeartbeat(assignment.expires_at);
  return player.load(assignment.left, assignment.right).then((current) => {
    if (!current || state.assignment !== assignment) return false;
    state.shownAt = performance.now(); // lead time counts from the moment the videos can be watched
    document.body.dataset.videosReady = String(assignment.id);
    player.play();
    return true;
  }).catch((error) => {
    if (state.assignment !== assignment) return false; // the annotator has moved on: not this page's news
    notify(`A video could not be played (${error.message}). You can skip this comparison with Shift+S.`);
    return false;
  });
}

function showDone() {
  state.assignment = null;
  state.judgement = null;
  stopHeartbeat();
  player.pause();
  delete document.body.dataset.assignment;
  $("workspace").hidden = true;
  $("done").hidden = false;
  $("prompt").textContent = "Nothing left to compare.";
  const today = state.progress?.today;
  $("done-text").textContent = today
    ? `Nothing is left for you in ${config.project.name} right now. You judged ${today} comparison${today === 1 ? "" : "s"} today.`
    : `Nothing is left for you in ${config.project.name} right now.`;
  $("done-title").focus();
}

// ---------------------------------------------------------------- flow

async function loadNext() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const { status, data } = await api(config.urls.next, { method: "POST" });
      if (status === 204) {
        showDone();
        return null;
      }
      return data;
    } catch (error) {
      if (error instanceof NetworkError && attempt < SUBMIT_RETRIES.length) {
        notify("The server cannot be reached; trying again…");
        await sleep(SUBMIT_RETRIES[attempt]);
        continue;
      }
      notify(error.message);
      return null;
    }
  }
}

async function next() {
  const assignment = await loadNext();
  if (assignment) return { assignment, videos: showAssignment(assignment) };
  return null;
}

async function submit(event) {
  const judgement = state.judgement;
  if (!judgement || state.busy) return;
  if (!judgement.complete) {
    notify(`Not yet: ${summarise(judgement.missing())} still missing.`, { quiet: true });
    return;
  }
  const startedAt = event?.timeStamp ?? performance.now();
  const body = judgement.body(performance.now() - state.shownAt);
  setBusy(true);
  let saved;
  try {
    // `?next=1`: the answer carries the next assignment, so the next item costs no second round trip.
    saved = await postWithRetry(`${urlWithId(config.urls.submit, state.assignment.id)}?next=1`, body);
  } catch (error) {
    setBusy(false);
    if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
      await leaseLost(error.message);
    } else if (error instanceof ApiError && error.status === 400) {
      notify(`Not saved: ${describeErrors(error.data)}`);
    } else {
      notify(`Not saved: ${error.message} Your answers are kept; press Enter to try again.`);
    }
    return;
  }
  bumpProgress(); // before the next item or the end page, which both show the counters
  let shown = null;
  if (saved?.data && "next" in saved.data) {
    if (saved.data.next) shown = { assignment: saved.data.next, videos: showAssignment(saved.data.next) };
    else showDone();
  } else {
    shown = await next();
  }
  setBusy(false);
  toast("Saved");
  if (shown) {
    requestAnimationFrame(() => window.vidprefMetrics.saveToPromptMs.push(performance.now() - startedAt));
    shown.videos.then((ready) => {
      if (ready) window.vidprefMetrics.saveToVideosMs.push(performance.now() - startedAt);
    });
  }
  refreshProgress();
}

async function postWithRetry(url, body) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api(url, { method: "POST", body });
    } catch (error) {
      // The same idempotency key goes with every attempt, so a submit that did arrive is not stored twice.
      if (!(error instanceof NetworkError) || attempt >= SUBMIT_RETRIES.length) throw error;
      notify("The server cannot be reached; trying again…", { quiet: true });
      await sleep(SUBMIT_RETRIES[attempt]);
    }
  }
}

async function skip() {
  if (!state.assignment || state.busy) return;
  setBusy(true);
  try {
    await api(urlWithId(config.urls.skip, state.assignment.id), { method: "POST" });
  } catch (error) {
    if (!(error instanceof ApiError && (error.status === 409 || error.status === 404))) {
      setBusy(false);
      notify(`Not skipped: ${error.message}`);
      return;
    }
  }
  await next();
  setBusy(false);
  toast("Skipped");
  refreshProgress();
}

// The lease is gone (expired and given to someone else, or closed elsewhere): say so and carry on.
async function leaseLost(detail) {
  stopHeartbeat();
  notify(
    `${detail || "This comparison is no longer yours."} Your earlier judgements are safe; here is the next comparison.`,
  );
  setBusy(true);
  await next();
  setBusy(false);
  refreshProgress();
}

function setBusy(busy) {
  state.busy = busy;
  document.body.classList.toggle("busy", busy);
  refreshJudgement();
}

function describeErrors(data) {
  const errors = data?.errors;
  if (!errors) return data?.detail || "the server refused it.";
  const flat = [];
  const walk = (value, path) => {
    if (Array.isArray(value)) flat.push(`${path.join(" ")}: ${value.join(" ")}`);
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    else flat.push(`${path.join(" ")}: ${value}`);
  };
  walk(errors, []);
  return flat.join("; ");
}

// ---------------------------------------------------------------- heartbeats

function scheduleHeartbeat(expiresAt) {
  stopHeartbeat();
  const ttl = new Date(expiresAt).getTime() - Date.now();
  // A third of the lease keeps two missed beats harmless; clocks that disagree fall back to a minute.
  state.heartbeatEveryMs = ttl > 0 && ttl < 86400000
    ? Math.min(HEARTBEAT_MAX_MS, Math.max(HEARTBEAT_MIN_MS, ttl / 3))
    : HEARTBEAT_MAX_MS;
  if (document.visibilityState === "visible") {
    state.heartbeat = setInterval(beat, state.heartbeatEveryMs);
  }
}

function stopHeartbeat() {
  clearInterval(state.heartbeat);
  state.heartbeat = 0;
}

async function beat() {
  const assignment = state.assignment;
  if (!assignment || state.busy) return;
  try {
    await api(urlWithId(config.urls.heartbeat, assignment.id), { method: "POST" });
  } catch (error) {
    if (state.assignment !== assignment) return;
    if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
      await leaseLost("Your lease on this comparison ended while the page was idle and it went to another annotator.");
    }
    // A network blip is retried by the next beat; the lease outlives two missed beats.
  }
}

document.addEventListener("visibilitychange", () => {
  if (!state.assignment) return;
  if (document.visibilityState === "visible") {
    beat(); // also takes back a lease that expired while hidden, when its slot is still free
    scheduleHeartbeat(new Date(Date.now() + state.heartbeatEveryMs * 3).toISOString());
  } else {
    stopHeartbeat(); // a hidden page should not hold work others could do
  }
});

// ---------------------------------------------------------------- progress

function localMidnight() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

async function refreshProgress() {
  try {
    const { data } = await api(`${config.urls.progress}?since=${encodeURIComponent(localMidnight())}`);
    state.progress = data;
    drawProgress();
  } catch {
    // The counters are a courtesy; the next refresh catches up.
  }
}

function bumpProgress() {
  if (!state.progress) return;
  state.progress.today += 1;
  state.progress.done += 1;
  state.progress.remaining = Math.max(0, state.progress.remaining - 1);
  drawProgress();
}

function drawProgress() {
  const p = state.progress;
  $("stat-today").textContent = p.today.toLocaleString();
  $("stat-done").textContent = p.done.toLocaleString();
  $("stat-remaining").textContent = p.remaining.toLocaleString();
}

// ---------------------------------------------------------------- player controls

function formatTime(seconds) {
  const s = Math.max(0, seconds || 0);
  const minutes = Math.floor(s / 60);
  return `${minutes}:${(s - minutes * 60).toFixed(2).padStart(5, "0")}`;
}

function drawPlayer() {
  const duration = player.duration;
  const t = player.currentTime;
  const scrubber = $("scrubber");
  scrubber.max = String(duration || 1);
  scrubber.step = String(player.frameDuration);
  if (!scrubbing) scrubber.value = String(t);
  $("time").textContent = `${formatTime(t)} / ${formatTime(duration)}`;
  const frame = player.frame;
  $("frame").textContent = duration ? `frame ${frame.index + 1}/${frame.count}` : "frame –";
  const playing = player.wantPlaying;
  const play = $("play");
  play.classList.toggle("playing", playing);
  play.setAttribute("aria-label", playing ? "Pause both videos" : "Play both videos");
  $("speed").value = String(player.rate);
  $("loop").setAttribute("aria-pressed", String(player.loop));
  $("mute").setAttribute("aria-pressed", String(player.muted));
  $("mute").textContent = player.muted ? "Muted" : "Sound";
}

let scrubbing = false;
let resumeAfterScrub = false;
const scrubber = $("scrubber");
scrubber.addEventListener("pointerdown", () => {
  scrubbing = true;
  resumeAfterScrub = player.wantPlaying;
  player.pause();
});
scrubber.addEventListener("input", () => player.seek(Number(scrubber.value)));
scrubber.addEventListener("change", () => {
  player.seek(Number(scrubber.value));
  if (scrubbing && resumeAfterScrub) player.play();
  scrubbing = false;
});
player.addEventListener("statechange", drawPlayer);
player.addEventListener("timeupdate", drawPlayer);
for (const video of player.videos) video.addEventListener("timeupdate", drawPlayer);
for (const video of player.videos) video.addEventListener("seeked", drawPlayer);

$("play").addEventListener("click", () => player.toggle());
$("step-back").addEventListener("click", () => player.step(-1));
$("step-forward").addEventListener("click", () => player.step(1));
$("speed").addEventListener("change", (e) => player.setRate(Number(e.target.value)));
$("loop").addEventListener("click", () => player.setLoop(!player.loop));
$("mute").addEventListener("click", () => player.setMuted(!player.muted));
for (const button of document.querySelectorAll(".expand")) {
  button.addEventListener("click", () => expand(button.dataset.side));
}

function expand(side) {
  const stage = $("stage");
  const next = stage.dataset.expanded === side ? "" : side;
  stage.dataset.expanded = next;
  for (const button of document.querySelectorAll(".expand")) {
    button.setAttribute("aria-pressed", String(button.dataset.side === next));
  }
}

function collapse() {
  if ($("stage").dataset.expanded) expand($("stage").dataset.expanded);
}

// ---------------------------------------------------------------- judging

function choose(choice, dimension = state.activeDimension) {
  const judgement = state.judgement;
  if (!judgement || state.busy || !dimension) return;
  judgement.choose(dimension, choice);
  // Move on to the next unanswered dimension, so that three digits and Enter judge a comparison.
  const dims = judgement.dimensions;
  const start = dims.indexOf(dimension);
  const following = [...dims.slice(start + 1), ...dims.slice(0, start)].find((d) => !judgement.labels[d]);
  setActiveDimension(following || dimension);
}

function moveDimension(delta) {
  const dims = state.judgement?.dimensions;
  if (!dims) return;
  const index = Math.max(0, Math.min(dims.length - 1, dims.indexOf(state.activeDimension) + delta));
  setActiveDimension(dims[index]);
}

function setMos(input, score) {
  const [side, dimension] = input.dataset.mos.split(":");
  state.judgement?.setMos(side, dimension, score);
  for (const radio of input.closest("fieldset").querySelectorAll("input")) radio.checked = Number(radio.value) === score;
  refreshJudgement();
}

function focusChecklist() {
  const first = $("checklist-items").querySelector("input");
  if (first) first.focus();
}

// ---------------------------------------------------------------- overlays and messages

function toggleGuidelines(force) {
  const drawer = $("guidelines");
  const open = typeof force === "boolean" ? force : drawer.hidden;
  drawer.hidden = !open;
  $("open-guidelines").setAttribute("aria-expanded", String(open));
  if (open) drawer.querySelector(".drawer-body").focus?.();
}

let lastFocus = null;
function toggleShortcuts(force) {
  const dialog = $("shortcuts");
  const open = typeof force === "boolean" ? force : dialog.hidden;
  dialog.hidden = !open;
  $("open-shortcuts").setAttribute("aria-expanded", String(open));
  if (open) {
    lastFocus = document.activeElement;
    dialog.querySelector("[data-close]").focus();
  } else if (lastFocus) {
    lastFocus.focus?.();
  }
}

function closeOverlays() {
  if (!$("shortcuts").hidden) {
    toggleShortcuts(false);
    return true;
  }
  if (!$("guidelines").hidden) {
    toggleGuidelines(false);
    return true;
  }
  if ($("stage").dataset.expanded) {
    collapse();
    return true;
  }
  if (!$("notice").hidden) {
    $("notice").hidden = true;
    return true;
  }
  if (document.activeElement && document.activeElement !== document.body) {
    document.activeElement.blur(); // back to page shortcuts
    return true;
  }
  return false;
}

let noticeTimer = 0;
// Warnings stay until dismissed (Esc or ×); quiet hints go away by themselves.
function notify(message, { quiet = false } = {}) {
  const notice = $("notice");
  $("notice-text").textContent = message;
  notice.hidden = false;
  notice.classList.toggle("quiet", quiet);
  clearTimeout(noticeTimer);
  if (quiet) noticeTimer = setTimeout(() => { notice.hidden = true; }, 4000);
}

let toastTimer = 0;
function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 1200);
}

for (const button of document.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => {
    const target = button.dataset.close;
    if (target === "shortcuts") toggleShortcuts(false);
    else if (target === "guidelines") toggleGuidelines(false);
    else $(target).hidden = true;
  });
}
$("shortcuts").addEventListener("click", (event) => {
  if (event.target === $("shortcuts")) toggleShortcuts(false);
});
$("open-guidelines").addEventListener("click", () => toggleGuidelines());
$("open-shortcuts").addEventListener("click", () => toggleShortcuts());
$("submit").addEventListener("click", (event) => submit(event));
$("skip").addEventListener("click", () => skip());
$("check-again").addEventListener("click", () => next());

// A mouse click on a page control should not keep the keyboard focus, or the next Space would press that
// control again instead of playing the videos. Keyboard focus (Tab) is untouched.
for (const area of [document.querySelector(".transport"), document.querySelector(".judge")]) {
  area.addEventListener("mousedown", (event) => {
    const control = event.target.closest("button, input[type=checkbox], input[type=radio], label");
    if (control) event.preventDefault();
  });
}

bindShortcuts({
  togglePlay: () => player.toggle(),
  step: (frames) => player.step(frames),
  changeSpeed: (direction) => player.changeSpeed(direction),
  restart: () => player.seek(0),
  toggleLoop: () => player.setLoop(!player.loop),
  toggleMute: () => player.setMuted(!player.muted),
  expand,
  choose: (choice) => choose(choice),
  moveDimension,
  setMos,
  focusChecklist,
  submit,
  skip,
  toggleGuidelines: () => toggleGuidelines(),
  toggleShortcuts: () => toggleShortcuts(),
  closeOverlays,
  modalOpen: () => !$("shortcuts").hidden,
});

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

drawPlayer();
refreshProgress();
next();

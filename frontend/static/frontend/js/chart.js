// A small SVG bar chart of judgements over time (no chart library: the page loads nothing it does not need).

const SVG = "http://www.w3.org/2000/svg";

// Fill the server's sparse buckets ({t, judgements}) into a dense series ending at the current bucket.
export function denseSeries(points, { stepMs, count, now = Date.now() }) {
  const end = Math.floor(now / stepMs) * stepMs;
  const byTime = new Map(points.map((p) => [Math.floor(new Date(p.t).getTime() / stepMs) * stepMs, p.judgements]));
  const series = [];
  for (let i = count - 1; i >= 0; i -= 1) {
    const t = end - i * stepMs;
    series.push({ t, value: byTime.get(t) || 0 });
  }
  return series;
}

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawBars(container, series, { label, tickEvery, formatTick }) {
  const width = container.clientWidth || 600;
  const height = container.clientHeight || 200;
  const pad = { left: 34, right: 8, top: 10, bottom: 22 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...series.map((p) => p.value));  // counts: an empty chart still has a 0–1 axis
  const niceMax = max <= 5 ? max : Math.ceil(max / 5) * 5;
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + innerH * (1 - fraction);
    svg.append(el("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid-line" }));
    // Whole numbers for counts; two decimals where the axis is small (a 1-high axis would read "0, 1, 1").
    const tick = niceMax * fraction;
    const text = Number.isInteger(tick) ? String(tick) : tick.toFixed(niceMax < 10 ? 2 : 0);
    svg.append(el("text", { x: pad.left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, text));
  }
  const slot = innerW / series.length;
  const barW = Math.max(1, slot * 0.72);
  series.forEach((point, i) => {
    const h = (point.value / niceMax) * innerH;
    const left = pad.left + i * slot + (slot - barW) / 2;
    const bar = el("rect", { x: left, y: pad.top + innerH - h, width: barW, height: Math.max(h, point.value ? 1 : 0), rx: 1.5, class: "column" });
    bar.append(el("title", {}, `${formatTick(point.t, true)}: ${point.value} ${label}`));
    svg.append(bar);
    if ((series.length - 1 - i) % tickEvery === 0) {
      const last = i === series.length - 1;
      const x = last ? width - pad.right : pad.left + i * slot + slot / 2;
      const anchor = last ? "end" : "middle";
      svg.append(el("text", { x, y: height - 6, class: "axis", "text-anchor": anchor }, formatTick(point.t, false)));
    }
  });
  container.replaceChildren(svg);
  const total = series.reduce((sum, p) => sum + p.value, 0);
  container.setAttribute("aria-label", `${total} ${label} in the period shown; at most ${max} in one bar.`);
}

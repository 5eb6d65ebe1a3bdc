// One Rollout: summary, soak clock, phase ladder, percentage over time with transitions,
// each metric against its thresholds (Prometheus range queries), snapshot, Events, actions.
"use strict";

const [, , namespace, name] = location.pathname.split("/").map(decodeURIComponent);
const base = `/api/rollouts/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
// Tests and curious users read what is drawn from here.
window.ramp = {detail: null, series: null, charts: {}};

const COLORS = {
  percentage: "#2563eb", value: "#0f766e", warning: "#d97706", critical: "#dc2626",
  baseline: "#6b7280",
};
const BAD = new Set(["RolledBack", "Aborted", "CriticalBreach", "Failed", "ErrorLimit", "NoData"]);
const HELD = new Set(["Paused", "PauseRequested", "AwaitingApproval", "Disabled"]);

function markerColor(reason) {
  if (BAD.has(reason)) return COLORS.critical;
  if (HELD.has(reason)) return COLORS.warning;
  if (reason === "Promoted" || reason === "Completed") return "#16a34a";
  return COLORS.baseline;
}

const epoch = (stamp) => new Date(stamp).getTime() / 1000;

function chartWidth(node) {
  return Math.max(280, node.clientWidth || node.parentNode.clientWidth || 600);
}

// Vertical lines (transitions) and shaded bands (`for` windows) drawn over a chart.
function overlays(marks, bands) {
  return {hooks: {draw: [(u) => {
    const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (const band of bands) {
      const x0 = u.valToPos(band.from, "x", true), x1 = u.valToPos(band.to, "x", true);
      ctx.fillStyle = band.color;
      ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
    }
    ctx.font = `${11 * devicePixelRatio}px sans-serif`;
    for (const mark of marks) {
      const x = u.valToPos(mark.at, "x", true);
      ctx.strokeStyle = ctx.fillStyle = mark.color;
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      ctx.fillText(mark.label, x + 3 * devicePixelRatio, top + 12 * devicePixelRatio);
    }
    ctx.restore();
  }]}};
}

function drawChart(key, node, opts, data) {
  const old = window.ramp.charts[key];
  if (old) old.destroy();
  node.replaceChildren();
  window.ramp.charts[key] = new uPlot({width: chartWidth(node), height: 220, ...opts}, data, node);
}

function renderPercentage(d) {
  const points = d.percentageSeries.points;
  const xs = points.map((p) => epoch(p.time)), ys = points.map((p) => p.percentage);
  const now = Date.now() / 1000;
  if (xs.length) { xs.push(Math.max(now, xs[xs.length - 1])); ys.push(ys[ys.length - 1]); }
  const marks = d.percentageSeries.transitions.map((t) => ({
    at: epoch(t.time), color: markerColor(t.reason), label: t.reason,
  }));
  drawChart("percentage", document.getElementById("percentage-chart"), {
    scales: {y: {range: [0, 100]}},
    axes: [{}, {values: (u, ticks) => ticks.map((v) => `${v}%`)}],
    series: [{}, {label: "published %", stroke: COLORS.percentage, width: 2,
      fill: "rgba(37,99,235,0.08)", paths: uPlot.paths.stepped({align: 1})}],
    plugins: [overlays(marks, [])],
  }, [xs, ys]);
  document.getElementById("transitions").replaceChildren(...d.percentageSeries.transitions.slice().reverse().map((t) =>
    el("li", {"data-reason": t.reason, style: `border-left-color: ${markerColor(t.reason)}`},
      el("time", {}, fmtTime(t.time)), " ", el("b", {}, t.reason), ` ${fmtServed(t.percentage, t.audiences)} `,
      t.step ? `(${t.step}) ` : "", t.message)));
}

function thresholdText(kind, t) {
  if (!t) return null;
  return el("span", {class: `threshold ${kind}`}, `${kind} ${t.text}${t.for ? ` for ${t.for}` : ""}`);
}

function cohortTable(compare) {
  const rate = (c) => c.failureRate === null || c.failureRate === undefined ? "-" : `${(c.failureRate * 100).toFixed(3)}%`;
  const interval = compare.ratioLow !== undefined && compare.ratioLow !== null
    ? `[${fmtNumber(compare.ratioLow)}, ${compare.ratioHigh === null || compare.ratioHigh === undefined ? "∞" : fmtNumber(compare.ratioHigh)}]` : "-";
  return el("table", {class: "cohorts"},
    el("thead", {}, el("tr", {}, el("th", {}, "cohort"), el("th", {}, "units"), el("th", {}, "failures"), el("th", {}, "failure rate"))),
    el("tbody", {},
      ...["treatment", "control"].map((k) => {
        const c = compare[k] || {};
        return el("tr", {}, el("td", {}, k === "treatment" ? "flag on" : "flag off"), el("td", {}, fmtNumber(c.units)),
          el("td", {}, fmtNumber(c.failures)), el("td", {}, rate(c)));
      }),
      el("tr", {}, el("td", {}, "ratio"), el("td", {}, fmtNumber(compare.ratio)), el("td", {}, "interval"), el("td", {}, interval)),
      el("tr", {}, el("td", {}, "verdict"), el("td", {"data-verdict": compare.verdict}, compare.verdict || "-"),
        el("td", {}, "max ratio"), el("td", {}, fmtNumber(compare.maxRatio)))));
}

function metricCard(m) {
  const card = el("article", {class: "metric", "data-metric": m.name},
    el("h3", {}, m.name, " ", el("span", {class: `verdict verdict-${m.verdict}`, "data-verdict": m.verdict}, m.verdict || "not evaluated")),
    el("p", {class: "value"}, "last value ", el("b", {}, fmtNumber(m.value)),
      m.baseline !== null && m.baseline !== undefined ? ` · baseline ${fmtNumber(m.baseline)}` : "",
      m.observedAt ? ` · ${fmtTime(m.observedAt)}` : ""),
    el("p", {class: "thresholds"}, thresholdText("warning", m.warning), " ", thresholdText("critical", m.critical)),
    m.message ? el("p", {class: "metric-message"}, m.message) : null,
    m.query ? el("code", {class: "query"}, m.query) : null);
  if (m.compare) card.append(cohortTable(m.compare));
  if (m.query) card.append(el("div", {class: "chart", id: `chart-${m.name}`}));
  return card;
}

function renderMetricChart(m, series) {
  const node = document.getElementById(`chart-${m.name}`);
  if (!node) return;
  const found = series && series.series[m.name];
  if (!found && series && series.error) { node.replaceChildren(el("p", {class: "error"}, series.error)); return; }
  if (!found) { node.replaceChildren(el("p", {class: "muted"}, "loading values from Prometheus…")); return; }
  if (found.error) { node.replaceChildren(el("p", {class: "error"}, found.error)); return; }
  const xs = found.points.map((p) => p[0]);
  const data = [xs, found.points.map((p) => p[1])];
  const lineSeries = [{}, {label: m.name, stroke: COLORS.value, width: 2, spanGaps: false}];
  // Each phase's own bounds over its own time (its overrides), from the stretches the server
  // built from status.history; a bound a phase does not have is a gap there.
  const stretches = m.stretches && m.stretches.length ? m.stretches
    : [{from: null, warning: m.warning, critical: m.critical}];
  const starts = stretches.map((s) => (s.from ? epoch(s.from) : -Infinity));
  const stretchAt = (x) => {
    let k = 0;
    for (let i = 0; i < starts.length; i++) if (starts[i] <= x) k = i;
    return stretches[k];
  };
  const slots = new Map();
  for (const s of stretches) {
    for (const kind of ["warning", "critical"]) {
      ((s[kind] && s[kind].lines) || []).forEach((line, i) => slots.set(`${kind} ${line.bound} ${i}`, {kind, bound: line.bound, i}));
    }
  }
  for (const slot of slots.values()) {
    const valueAt = (s) => {
      const line = s[slot.kind] && s[slot.kind].lines[slot.i];
      return line && line.bound === slot.bound ? line.value : null;
    };
    const values = xs.map((x) => valueAt(stretchAt(x)));
    const latest = valueAt(stretches[stretches.length - 1]);
    lineSeries.push({label: `${slot.kind} ${slot.bound} ${fmtNumber(latest)}`, stroke: COLORS[slot.kind], dash: [6, 4], width: 1.5, points: {show: false}, spanGaps: false});
    data.push(values);
  }
  if (m.baseline !== null && m.baseline !== undefined) {
    lineSeries.push({label: "baseline", stroke: COLORS.baseline, dash: [2, 3], width: 1, points: {show: false}});
    data.push(xs.map(() => m.baseline));
  }
  const bands = [];
  for (const kind of ["warning", "critical"]) {
    const since = m[`${kind}Since`], t = m[kind];
    if (since && t) {
      const from = epoch(since);
      bands.push({from, to: from + Math.max(t.forSeconds, series.step), color: kind === "critical" ? "rgba(220,38,38,0.12)" : "rgba(217,119,6,0.12)"});
    }
  }
  const marks = window.ramp.detail.percentageSeries.transitions
    .filter((t) => BAD.has(t.reason) || t.reason === "Promoted")
    .map((t) => ({at: epoch(t.time), color: markerColor(t.reason), label: t.reason}));
  drawChart(`metric:${m.name}`, node, {series: lineSeries, plugins: [overlays(marks, bands)],
    scales: {x: {time: true, range: [series.start, series.end]}}}, data);
}

function renderMetrics(d) {
  const box = document.getElementById("metrics");
  const names = d.metrics.map((m) => m.name).join(",");
  if (box.dataset.names !== names || !box.children.length) {
    for (const key of Object.keys(window.ramp.charts)) {
      if (key.startsWith("metric:")) { window.ramp.charts[key].destroy(); delete window.ramp.charts[key]; }
    }
    box.dataset.names = names;
  }
  box.replaceChildren(...d.metrics.map(metricCard));
  if (!d.metrics.length) box.append(el("p", {class: "muted"}, "This rollout has no spec.analysis metrics."));
  for (const m of d.metrics) renderMetricChart(m, window.ramp.series);
  document.getElementById("interval").textContent = d.interval ? `evaluated every ${d.interval}` : "";
}

function renderSnapshot(d) {
  const snap = d.snapshot;
  document.getElementById("snapshot-section").hidden = !snap;
  if (!snap) return;
  document.getElementById("snapshot-title").textContent =
    `${snap.reason} at ${fmtPercent(snap.percentage)}${snap.step ? ` in ${snap.step}` : ""}, ${fmtTime(snap.takenAt)}`;
  document.querySelector("#snapshot tbody").replaceChildren(...(snap.metrics || []).map((m) =>
    el("tr", {}, el("td", {}, m.name), el("td", {}, fmtNumber(m.value)), el("td", {}, m.verdict || "-"),
      el("td", {}, m.compare ? cohortTable(m.compare) : ""))));
}

function renderEvents(d) {
  document.querySelector("#events tbody").replaceChildren(...d.events.map((e) =>
    el("tr", {class: e.type === "Warning" ? "warning" : ""}, el("td", {}, fmtTime(e.time)), el("td", {}, e.type),
      el("td", {"data-reason": e.reason}, e.reason), el("td", {}, e.message), el("td", {}, e.count), el("td", {}, e.source || ""))));
}

function renderLadder(d) {
  document.getElementById("ladder").replaceChildren(...d.ladder.map((p) =>
    el("li", {class: `rung ${p.state}`, "data-state": p.state},
      el("b", {}, p.name), ` ${fmtServed(p.percentage, p.audiences)}`,
      el("small", {}, [p.duration ? `soak ${p.duration}` : "no soak", p.approval === "Manual" ? "manual gate" : ""].filter(Boolean).join(" · ")))));
}

function tickSoak() {
  const d = window.ramp.detail, node = document.getElementById("soak");
  if (!d) return;
  const since = d.phaseStartedAt ? `${fmtDuration((Date.now() - new Date(d.phaseStartedAt)) / 1000)} in phase` : "";
  let text;
  if (d.phase === "AwaitingApproval") text = `soaked; waiting for Promote (${since})`;
  else if (d.phase === "Paused") text = `clock stopped${d.pausedAt ? ` at ${fmtTime(d.pausedAt)}` : ""}`;
  else if (d.terminal || d.phase === "Disabled") text = "-";
  else if (d.nextPromotionAt) {
    const left = (new Date(d.nextPromotionAt) - Date.now()) / 1000;
    text = left > 0 ? `promotes in ${fmtDuration(left)} (${since})` : `soaked; promoting when healthy (${since})`;
  } else text = since || "-";
  if (d.promotionHold && !d.terminal) text += ` · ${d.promotionHold}`;
  node.textContent = text;
}

// A button is enabled only where its action would write a request; otherwise its tooltip says
// why (the command's own refusal, or what is already in force).
function applyActions(d) {
  for (const button of document.querySelectorAll(".actions button")) {
    const key = button.dataset.full === "true" ? "promoteFull" : button.dataset.action;
    const state = (d.actions || {})[key];
    button.disabled = !state || !state.applies;
    button.title = state && state.why ? state.why : "";
  }
}

function render(d) {
  window.ramp.detail = d;
  applyActions(d);
  document.title = `${d.name} · Ramp`;
  document.getElementById("title").textContent = `${d.namespace}/${d.name}`;
  showError(d.problem || d.error);
  phaseBadge(document.getElementById("phase"), d.phase);
  document.getElementById("step").textContent = d.step;
  const pct = document.getElementById("percentage");
  pct.textContent = fmtServed(d.percentage, d.audiences);
  pct.dataset.value = d.percentage;
  document.getElementById("health").textContent = d.health;
  document.getElementById("message").textContent = d.message;
  renderLadder(d);
  renderPercentage(d);
  renderMetrics(d);
  renderSnapshot(d);
  renderEvents(d);
  tickSoak();
  refreshSeries(d);
}

let seriesAsked = 0, seriesFor = null, seriesLater = null;
async function refreshSeries(d) {
  // New values exist after each analysis; ask Prometheus at most every 5 s, and once more
  // when that time is up, so the last change always reaches the charts.
  const key = `${d.lastAnalysisAt}|${d.phase}`;
  if (key === seriesFor) return;
  const wait = 5000 - (Date.now() - seriesAsked);
  if (wait > 0) {
    if (!seriesLater) seriesLater = setTimeout(() => { seriesLater = null; refreshSeries(window.ramp.detail); }, wait);
    return;
  }
  seriesFor = key; seriesAsked = Date.now();
  try {
    const response = await fetch(`${base}/series`);
    window.ramp.series = await answerOf(response);
    if (!window.ramp.series.series) window.ramp.series.series = {};
  } catch (error) {
    window.ramp.series = {series: {}, error: String(error)};
  }
  for (const m of window.ramp.detail.metrics) renderMetricChart(m, window.ramp.series);
}

async function act(button) {
  const result = document.getElementById("action-result");
  const buttons = document.querySelectorAll(".actions button");
  buttons.forEach((b) => { b.disabled = true; });
  result.className = ""; result.textContent = `${button.textContent}…`;
  try {
    const response = await fetch(`${base}/${button.dataset.action}`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({full: button.dataset.full === "true"}),
    });
    const body = await answerOf(response);
    result.textContent = body.message || body.error;
    result.className = response.ok ? "ok" : "refused";
  } catch (error) {
    result.textContent = `cannot reach the dashboard: ${error}`;
    result.className = "refused";
  } finally {
    applyActions(window.ramp.detail);
  }
}

for (const button of document.querySelectorAll(".actions button")) {
  button.addEventListener("click", () => act(button));
}
follow(`${base}/stream`, render, () => showError(`rollout ${namespace}/${name} no longer exists`));
setInterval(tickSoak, 1000);
setInterval(() => { if (window.ramp.detail) refreshSeries(window.ramp.detail); }, 15000);
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (window.ramp.detail) render(window.ramp.detail); }, 200);
});

// Shared by both pages: building elements, formatting times, and following an event stream.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fmtDuration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  if (d) return `${d}d${h}h`;
  if (h) return `${h}h${m}m`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

function fmtTime(stamp) {
  return stamp ? new Date(stamp).toLocaleString() : "-";
}

// Who is served: "10%", or "10% + internal, beta" with audiences ahead of the percentage.
function fmtServed(percentage, audiences) {
  const names = audiences || [];
  return names.length ? `${fmtPercent(percentage)} + ${names.join(", ")}` : fmtPercent(percentage);
}

function fmtPercent(value) {
  return `${Number(value || 0).toLocaleString(undefined, {maximumFractionDigits: 2})}%`;
}

function fmtNumber(value) {
  if (value === null || value === undefined) return "-";
  return Number(value).toPrecision(4).replace(/\.?0+($|e)/, "$1");
}

function phaseBadge(node, phase) {
  node.textContent = phase;
  node.className = `badge phase-${phase}`;
  node.dataset.phase = phase;
}

function showError(text) {
  const node = document.getElementById("error");
  node.hidden = !text;
  node.textContent = text || "";
}

// A JSON answer as an object; a refusal of the dashboard's guard (plain text: foreign Host,
// missing token after a restart) as {error: its text}, so the page shows why.
async function answerOf(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) return response.json();
  return {error: (await response.text()).trim() || `HTTP ${response.status}`};
}

// Follow a Server-Sent Events stream; the browser reconnects by itself after an error.
function follow(url, onData, onGone) {
  const live = document.getElementById("live");
  const source = new EventSource(url);
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  source.onmessage = (event) => onData(JSON.parse(event.data));
  source.addEventListener("gone", () => { source.close(); if (onGone) onGone(); });
  return source;
}

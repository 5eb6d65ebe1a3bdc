// The list page: every Rollout in scope, replaced on each change the server streams.
"use strict";

function renderList(data) {
  document.getElementById("scope").textContent =
    data.namespace === null ? "all namespaces" : `namespace ${data.namespace}`;
  showError(data.error);
  const body = document.querySelector("#rollouts tbody");
  body.replaceChildren(...data.rollouts.map((r) => {
    const phase = el("span", {});
    phaseBadge(phase, r.phase);
    const link = el("a", {href: `/rollouts/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`}, r.name);
    return el("tr", {"data-name": r.name, "data-namespace": r.namespace},
      el("td", {}, r.namespace), el("td", {}, link), el("td", {class: "phase"}, phase),
      el("td", {}, r.step), el("td", {class: "percentage"}, fmtServed(r.percentage, r.audiences)),
      el("td", {}, r.health), el("td", {class: "next", "data-at": r.nextPromotionAt, "data-phase": r.phase, "data-hold": r.promotionHold || ""}, ""),
      el("td", {class: "message"}, r.message));
  }));
  document.getElementById("empty").hidden = data.rollouts.length > 0;
  tickNext();
}

function tickNext() {
  for (const cell of document.querySelectorAll("td.next")) {
    const at = cell.dataset.at, left = (new Date(at) - Date.now()) / 1000;
    // Past its time a promotion is held by something the message names, not "in 0s".
    // Held by a promotion window or a freeze: say which (the next window, in its own zone).
    if (cell.dataset.hold) cell.textContent = cell.dataset.hold;
    else if (!at || at === "null" || !["Progressing", "AwaitingApproval"].includes(cell.dataset.phase)) cell.textContent = "-";
    else cell.textContent = left > 0 ? `in ${fmtDuration(left)}` : "held: see message";
  }
}

follow("/api/rollouts/stream", renderList);
setInterval(tickNext, 1000);

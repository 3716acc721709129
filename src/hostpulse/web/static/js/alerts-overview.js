// Alerts on the overview: each card shows how many alerts fire on its host and the worst
// severity, and a switch shows only the hosts with firing alerts. Cards are overview.js's;
// this adds a badge to each and a data-alerts attribute that CSS filters on, so the two
// modules share nothing but the DOM. One small request every 10 s while the tab is visible
// (the alerts firing now; events of the last second only).
import { h, setText, setHidden } from "./dom.js";
import { POLL_MS, poll, worse } from "./alerts.js";

function start() {
  const grid = document.getElementById("ov-grid");
  const tools = document.querySelector(".ov-tools");
  if (!grid || !tools) return;
  const toggle = h("input", { type: "checkbox", id: "ov-alerts-only", "data-testid": "ov-alerts-only" });
  const summary = h("span", { class: "muted small", "data-testid": "ov-alerts-summary" });
  tools.append(h("label", { class: "ov-alerts-filter" }, toggle, " firing alerts only "), summary);
  toggle.addEventListener("change", () => document.body.classList.toggle("ov-alerts-only", toggle.checked));

  let byHost = new Map(); // host -> {count, worst}

  function apply(card) {
    const info = byHost.get(card.dataset.host);
    let badge = card.querySelector(".ov-alerts");
    if (!info && !badge) return;
    if (!badge) {
      badge = h("span", { class: "ov-alerts", "data-testid": "ov-alerts" });
      (card.querySelector(".ov-head") || card).append(badge);
    }
    setHidden(badge, !info);
    if (info) {
      setText(badge, `${info.count} alert${info.count === 1 ? "" : "s"}`);
      badge.dataset.severity = info.worst;
      card.dataset.alerts = info.worst;
    } else delete card.dataset.alerts;
  }

  function applyAll() {
    for (const card of grid.querySelectorAll('[data-testid="ov-card"]')) apply(card);
  }

  // Cards come and go with hosts: a new one gets its badge at once, not at the next poll.
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) if (node.dataset && node.dataset.host !== undefined && !node.querySelector(".ov-alerts")) apply(node);
  }).observe(grid, { childList: true });

  poll(() => "/api/v1/alerts?since=-1", POLL_MS, ({ firing }) => {
    byHost = new Map();
    for (const a of firing || []) {
      const info = byHost.get(a.host) || { count: 0, worst: undefined };
      info.count += 1;
      info.worst = worse(info.worst, a.severity);
      byHost.set(a.host, info);
    }
    applyAll();
    const n = byHost.size;
    setText(summary, n ? `${n} host${n === 1 ? "" : "s"} with alerts` : "no alerts firing");
  });
}

start();

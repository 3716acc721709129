// Alerts on the overview: each card shows how many alerts fire on its host and the worst
// severity, and a switch shows only the hosts with firing alerts. Cards are overview.js's;
// this adds a badge and a data-alerts attribute to each, and the switch is a class on the
// body that overview.js's filter reads (so its counts stay right). One small request every
// 10 s while the tab is visible (the alerts firing now; events of the last second only).
import { h, setText, setHidden } from "./dom.js";
import { POLL_MS, poll, worse } from "./alerts.js";

function start() {
  const grid = document.getElementById("ov-grid");
  const tools = document.querySelector(".ov-tools");
  const filterInput = document.getElementById("ov-filter");
  if (!grid || !tools || !filterInput) return;
  const toggle = h("input", { type: "checkbox", id: "ov-alerts-only", "data-testid": "ov-alerts-only" });
  const summary = h("span", { class: "muted small", "data-testid": "ov-alerts-summary" });
  tools.append(h("label", { class: "ov-alerts-filter" }, toggle, " firing alerts only "), summary);
  // overview.js filters (and counts) with the body's class; an input event has it lay out.
  const relayout = () => filterInput.dispatchEvent(new Event("input"));
  toggle.addEventListener("change", () => {
    document.body.classList.toggle("ov-alerts-only", toggle.checked);
    relayout();
  });

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

  // Every card's badge; with "firing alerts only" on, the grid is laid out again when the
  // set of cards with alerts changed.
  function applyAll() {
    const alerting = () => [...grid.querySelectorAll('[data-testid="ov-card"][data-alerts]')].map((c) => c.dataset.host).join();
    const before = alerting();
    for (const card of grid.querySelectorAll('[data-testid="ov-card"]')) apply(card);
    if (toggle.checked && alerting() !== before) relayout();
  }

  // Cards come and go with hosts: a new one gets its badge within a second, not at the next
  // poll. (A count compared once a second: a MutationObserver on the grid, which also sees
  // every re-sort, broke the 300-host overview's sort test, tests/e2e/test_overview_scale.py,
  // for a reason not found.)
  let seen = 0;
  setInterval(() => {
    if (grid.childElementCount === seen || document.visibilityState !== "visible") return;
    seen = grid.childElementCount;
    applyAll();
  }, 1000);

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

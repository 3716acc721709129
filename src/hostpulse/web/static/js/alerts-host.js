// Alerts on the host page: the alerts firing now above the panels, the panel (and the
// filesystem row) each one is about marked, a marker on every chart where an alert fired and
// resolved (setMarkers), and the recent events, each linking to its window.
//
// Cheap by design: the whole event list (30 days, at most 500) is fetched once; then every
// 10 s while the tab is visible one small request brings what fires now and the events of
// the last seconds, merged in. Loaded after main.js (window.hostpulse.setMarkers).
import { h, setText, setHidden } from "./dom.js";
import { dateTime } from "./format.js";
import { POLL_MS, age, mountOf, panelOf, poll, valueText, windowLink, worse } from "./alerts.js";

const HISTORY_SECONDS = 30 * 86400;
const RECENT_SECONDS = 30; // each poll's events: more than one interval, overlaps merged
const EVENTS_SHOWN = 20;

function buildSection() {
  const firing = h("ul", { class: "alerts-firing", "data-testid": "alerts-firing" });
  const count = h("span", { class: "muted small", "data-testid": "alert-events-count" });
  const body = h("tbody", { "data-testid": "alert-events-body" });
  const table = h(
    "table",
    { class: "alert-events" },
    h("thead", {}, h("tr", {}, ...["time", "state", "rule", "what", "value", ""].map((t) => h("th", { text: t })))),
    body,
  );
  const events = h("details", { class: "alerts-events", "data-testid": "alert-events" }, h("summary", {}, h("span", { text: "Alert events " }), count), h("div", { class: "table-wrap" }, table));
  const section = h("section", { class: "alerts-bar", "data-testid": "alerts-bar", "aria-label": "alerts", hidden: true }, firing, events);
  const grid = document.querySelector("main.grid");
  grid.parentNode.insertBefore(section, grid);
  return { section, firing, events, count, body };
}

function eventKey(e) {
  return `${e.ts}\u0000${e.name}\u0000${e.instance}\u0000${e.state}`;
}

function start() {
  const host = document.body.dataset.host;
  if (!host) return;
  const ui = buildSection();
  const events = new Map(); // eventKey -> event, newest first once sorted
  let firingNow = [];
  let marked = [];
  let loaded = false;
  let markersSent = "";

  function renderFiring(now) {
    ui.firing.replaceChildren(
      ...firingNow.map((a) =>
        h(
          "li",
          { class: "alert", "data-severity": a.severity, "data-testid": "alert-firing", "data-rule": a.name },
          h("span", { class: "alert-sev", text: a.severity }),
          h("strong", { text: a.name }),
          h("span", { class: "alert-what", text: a.instance === a.host ? "the host" : a.instance }),
          h("span", { class: "num", text: valueText(a.key, a.value) }),
          h("span", { class: "muted", text: `firing for ${age(now - a.since)}` }),
          a.detail ? h("span", { class: "muted alert-detail", text: a.detail }) : null,
          h("a", { href: windowLink(location.pathname, a.since, now), text: "window" }),
        ),
      ),
    );
  }

  function markPanels() {
    for (const el of marked) delete el.dataset.alert;
    marked = [];
    const worst = new Map(); // element -> severity
    for (const a of firingNow) {
      const panel = panelOf(a.key);
      const targets = [];
      if (panel) targets.push(document.querySelector(`[data-testid="${panel}"]`));
      const mount = mountOf(a.key);
      if (mount !== null) targets.push([...document.querySelectorAll('[data-testid="fs-row"]')].find((r) => r.dataset.mount === mount));
      for (const el of targets) if (el) worst.set(el, worse(worst.get(el), a.severity));
    }
    for (const [el, severity] of worst) {
      el.dataset.alert = severity;
      marked.push(el);
    }
  }

  function renderEvents() {
    const list = [...events.values()].sort((a, b) => b.ts - a.ts);
    setText(ui.count, `(${list.length})`);
    ui.body.replaceChildren(
      ...list.slice(0, EVENTS_SHOWN).map((e) =>
        h(
          "tr",
          { "data-testid": "alert-event", "data-state": e.state, "data-severity": e.severity },
          h("td", { class: "num", text: dateTime(e.ts) }),
          h("td", {}, h("span", { class: "alert-state", text: e.state })),
          h("td", { text: e.name }),
          h("td", { text: e.instance === e.host ? "the host" : e.instance }),
          h("td", { class: "num", text: valueText(e.key, e.value) }),
          h("td", {}, h("a", { href: windowLink(location.pathname, e.since, e.ts), "data-testid": "alert-event-link", text: "window" })),
        ),
      ),
    );
    const markers = list
      .filter((e) => e.state === "firing" || e.state === "resolved")
      .map((e) => ({ ts: e.ts, kind: e.state, label: e.name }));
    const signature = JSON.stringify(markers);
    if (signature !== markersSent && window.hostpulse && typeof window.hostpulse.setMarkers === "function") {
      markersSent = signature; // redrawn only when they change
      window.hostpulse.setMarkers(markers);
    }
  }

  function take({ firing, events: fresh }) {
    for (const e of fresh || []) events.set(eventKey(e), e);
    firingNow = (firing || []).filter((a) => a.host === host);
    const now = Date.now() / 1000;
    renderFiring(now);
    markPanels();
    renderEvents();
    setHidden(ui.section, firingNow.length === 0 && events.size === 0);
    document.body.dataset.alerts = String(firingNow.length);
  }

  // Filesystem rows appear with the first full sample (and come and go with mounts).
  const fsList = document.getElementById("fs-list");
  if (fsList) new MutationObserver(() => firingNow.length && markPanels()).observe(fsList, { childList: true });

  const q = encodeURIComponent(host);
  // The whole history until one answer came; then the last seconds only.
  poll(() => `/api/v1/alerts?host=${q}&since=-${loaded ? RECENT_SECONDS : HISTORY_SECONDS}`, POLL_MS, (data) => {
    take(data);
    loaded = true;
  });
}

start();

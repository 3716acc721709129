// What the host page and the overview share about alerts: GET /api/v1/alerts polled while
// the tab is visible (docs/API.md), severities, values as people read them, the window
// link of an episode (/host/<id>?from=&to=) and which panel a metric key belongs to.

const VISIBLE = () => document.visibilityState === "visible";
export const POLL_MS = 10000;
//: The window link shows this much before an episode began and after its moment.
const LINK_MARGIN = 900;
const SEVERITY_RANK = { warning: 1, critical: 2 };

/** Fetch ``url()`` now, every ``every`` ms while the tab is visible, and on return to it;
 * ``onData(json)`` for each answer. One request at a time; a failure waits for the next. */
export function poll(url, every, onData) {
  let busy = false;
  async function tick() {
    if (busy || !VISIBLE()) return;
    busy = true;
    try {
      const answer = await fetch(url(), { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (answer.ok) onData(await answer.json());
    } catch (err) {
      console.debug("hostpulse: alerts not fetched", err);
    } finally {
      busy = false;
    }
  }
  tick();
  setInterval(tick, every);
  document.addEventListener("visibilitychange", tick);
  return tick;
}

/** The worse of two severities (either may be undefined). */
export function worse(a, b) {
  return (SEVERITY_RANK[b] || 0) > (SEVERITY_RANK[a] || 0) ? b : a;
}

/** A value of ``key`` as the panels show it: "97.5 %", "81 °C", "0.42". */
export function valueText(key, value) {
  if (value === null || value === undefined) return "–";
  const field = key.slice(key.lastIndexOf(".") + 1);
  if (key.startsWith("cpu.") || field === "percent" || field === "busy") return `${value.toFixed(1)} %`;
  if (key.startsWith("temp.")) return `${value.toFixed(1)} °C`;
  if (key.startsWith("fan.")) return `${value.toFixed(0)} rpm`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** The host page pinned to an episode: 15 min before it began to 15 min after ``ts``. */
export function windowLink(path, since, ts) {
  return `${path}?from=${Math.floor(since - LINK_MARGIN)}&to=${Math.ceil(ts + LINK_MARGIN)}`;
}

/** "5 min", "2 h 10 min", "3 d 4 h" since ``since``. */
export function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

const PANELS = [
  [/^(cpu|load)\./, "panel-cpu"],
  [/^(mem|swap)\./, "panel-memory"],
  [/^fs\./, "panel-filesystems"],
  [/^disk\./, "panel-disk"],
  [/^net\./, "panel-net"],
  [/^(temp|fan)\./, "panel-sensors"],
  [/^gpu\./, "panel-gpu"],
  [/^container\./, "panel-containers"],
];

/** The data-testid of the host page's panel that shows ``key`` (null: none, e.g. offline). */
export function panelOf(key) {
  for (const [pattern, panel] of PANELS) if (pattern.test(key || "")) return panel;
  return null;
}

/** The mount of a filesystem key ("fs./home.percent" -> "/home"), else null. */
export function mountOf(key) {
  if (!key || !key.startsWith("fs.")) return null;
  return key.slice(3, key.lastIndexOf("."));
}

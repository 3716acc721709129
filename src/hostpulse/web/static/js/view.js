// The time window a host page shows, and the URL that pins it:
//   no parameter          live: the last 5 minutes, appended to as samples arrive
//   ?range=1h|6h|24h|7d|30d   the last hour … 30 days, as of when it was chosen
//   ?from=<s>&to=<s>      a fixed window in epoch seconds (a zoom, a custom range, a link)
// Every change is a history entry (pushState), so back and forward move between views.

export const LIVE_SECONDS = 300;
export const RANGES = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

/** The view a query string names; anything malformed reads as live. */
export function parseView(search) {
  const p = new URLSearchParams(search);
  const from = Number(p.get("from"));
  const to = Number(p.get("to"));
  if (p.has("from") && p.has("to") && Number.isInteger(from) && Number.isInteger(to) && from > 0 && to > from) {
    return { kind: "fixed", from, to };
  }
  const range = p.get("range");
  if (range && Object.hasOwn(RANGES, range)) return { kind: "range", range };
  return { kind: "live" };
}

/** The query string of a view ("" for live). */
export function viewSearch(view) {
  if (view.kind === "fixed") return `?from=${view.from}&to=${view.to}`;
  if (view.kind === "range") return `?range=${view.range}`;
  return "";
}

export function sameView(a, b) {
  return viewSearch(a) === viewSearch(b);
}

export class View {
  /** @param now () => server epoch seconds */
  constructor(now) {
    this.now = now;
    this.current = parseView(location.search);
    // What a zoom started from, so one action returns to it (kept in the history entry).
    this.base = history.state && history.state.base ? history.state.base : null;
    this.listeners = [];
    window.addEventListener("popstate", (ev) => {
      this.current = parseView(location.search);
      this.base = ev.state && ev.state.base ? ev.state.base : null;
      this.emit();
    });
    history.replaceState({ base: this.base }, "", location.pathname + viewSearch(this.current) + location.hash);
  }

  get live() {
    return this.current.kind === "live";
  }

  get zoomed() {
    return this.base !== null;
  }

  on(fn) {
    this.listeners.push(fn);
  }

  emit() {
    for (const fn of this.listeners) fn(this.current);
  }

  /** Show ``view``; a zoom remembers the view it came from (``base``). */
  set(view, { base = null } = {}) {
    if (sameView(view, this.current) && base === this.base) return;
    this.current = view;
    this.base = base;
    history.pushState({ base }, "", location.pathname + viewSearch(view) + location.hash);
    this.emit();
  }

  /** Zoom into [from, to] (epoch seconds), from whatever is shown now. */
  zoom(from, to) {
    const a = Math.floor(from);
    const b = Math.ceil(to);
    if (b - a < 2) return;
    this.set({ kind: "fixed", from: a, to: b }, { base: this.base || this.current });
  }

  resetZoom() {
    this.set(this.base || { kind: "live" });
  }

  /** [since, until] in epoch seconds of the current view, as of now. */
  window() {
    const now = this.now();
    const v = this.current;
    if (v.kind === "fixed") return [v.from, v.to];
    const span = v.kind === "range" ? RANGES[v.range] : LIVE_SECONDS;
    return [now - span, now];
  }
}

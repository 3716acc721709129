// The host page's charts as one board: they share a cursor (uPlot's cursor sync), a zoom
// (a drag on any chart sets the view of every chart), markers (contract C3: setMarkers) and
// one redraw per animation frame. requestAnimationFrame does not run in a hidden tab, so a
// tab in the background draws nothing; what arrived meanwhile is drawn once on return.

export const SYNC_KEY = "hostpulse-host";

export class Board {
  constructor() {
    this.charts = new Map(); // name -> chart
    this.dirty = new Set();
    this.frame = null;
    this.markers = [];
    this.listeners = new Map();
    this.live = true; // whether the view is live (main.js keeps it so)
    // A chart drawn while the tab was hidden would be wasted work: drawn on return instead.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.dirty.size) this.schedule();
    });
    // Colours come from CSS custom properties: a new colour scheme rebuilds every chart.
    window.matchMedia?.("(prefers-color-scheme: dark)")?.addEventListener?.("change", () => {
      for (const c of this.charts.values()) {
        if (c.rebuild) c.rebuild();
        this.invalidate(c);
      }
    });
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
  }

  emit(event, ...args) {
    for (const fn of this.listeners.get(event) || []) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`hostpulse: ${event} handler failed`, err);
      }
    }
  }

  add(chart) {
    this.charts.set(chart.name, chart);
  }

  remove(chart) {
    this.charts.delete(chart.name);
    this.dirty.delete(chart);
  }

  /** Every key some chart shows now (what one history request set must cover). */
  keys() {
    const keys = new Set();
    for (const c of this.charts.values()) for (const k of c.keys) keys.add(k);
    return [...keys];
  }

  /** Redraw ``chart`` on the next frame (once, however often it is asked). */
  invalidate(chart) {
    this.dirty.add(chart);
    this.schedule();
  }

  schedule() {
    if (this.frame !== null || document.visibilityState === "hidden") return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      const charts = [...this.dirty];
      this.dirty.clear();
      for (const c of charts) c.draw();
    });
  }

  /** Contract C3: vertical markers on every chart, [{ts, kind: "firing"|"resolved", label}]. */
  setMarkers(list) {
    this.markers = (Array.isArray(list) ? list : [])
      .filter((m) => m && typeof m.ts === "number" && Number.isFinite(m.ts))
      .map((m) => ({ ts: m.ts, kind: m.kind === "resolved" ? "resolved" : "firing", label: typeof m.label === "string" ? m.label : "" }));
    for (const c of this.charts.values()) c.redrawOverlay();
    this.emit("markers", this.markers);
  }
}

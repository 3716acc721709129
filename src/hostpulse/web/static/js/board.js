// The host page's charts as one board: they share a cursor (uPlot's cursor sync), a zoom
// (a drag on any chart sets the view of every chart), markers (setMarkers) and
// one redraw per animation frame. requestAnimationFrame does not run in a hidden tab, so a
// tab in the background draws nothing; what arrived meanwhile is drawn once on return. A
// chart scrolled out of sight is not drawn either, until it comes into view.

export const SYNC_KEY = "hostpulse-host";

export class Board {
  constructor() {
    this.charts = new Map(); // name -> chart
    this.dirty = new Set();
    this.inView = new Set();
    this.byEl = new Map();
    this.sight = new IntersectionObserver((entries) => this.onSight(entries), { rootMargin: "200px 0px" });
    this.frame = null;
    this.markers = [];
    this.listeners = new Map();
    this.live = true; // whether the view is live (main.js keeps it so)
    this.draws = 0; // charts drawn so far (tests: a hidden tab draws none)
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
    this.byEl.set(chart.el, chart);
    this.sight.observe(chart.el);
  }

  remove(chart) {
    this.charts.delete(chart.name);
    this.dirty.delete(chart);
    this.inView.delete(chart);
    this.byEl.delete(chart.el);
    this.sight.unobserve(chart.el);
  }

  onSight(entries) {
    for (const e of entries) {
      const chart = this.byEl.get(e.target);
      if (!chart) continue;
      if (e.isIntersecting) this.inView.add(chart);
      else this.inView.delete(chart);
    }
    if ([...this.dirty].some((c) => this.inView.has(c))) this.schedule();
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
      // Out of sight stays dirty: drawn when it comes into view.
      const charts = [...this.dirty].filter((c) => this.inView.has(c));
      for (const c of charts) this.dirty.delete(c);
      for (const c of charts) c.draw();
      this.draws += charts.length;
    });
  }

  /** Vertical markers on every chart, [{ts, kind: "firing"|"resolved", label}]. */
  setMarkers(list) {
    this.markers = (Array.isArray(list) ? list : [])
      .filter((m) => m && typeof m.ts === "number" && Number.isFinite(m.ts))
      .map((m) => ({ ts: m.ts, kind: m.kind === "resolved" ? "resolved" : "firing", label: typeof m.label === "string" ? m.label : "" }));
    for (const c of this.charts.values()) c.redrawOverlay();
    this.emit("markers", this.markers);
  }
}

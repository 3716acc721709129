// Fills the board's charts from GET /api/v1/hosts/<id>/history for the view's window: all
// the keys the charts show, in as few requests as the API allows (MAX_KEYS per request),
// on one time grid so every chart's points line up. Live, it asks for the last 5 minutes
// at 1 s and then replays what arrived while the request was out.

export const MAX_KEYS = 64; // web/api.py MAX_KEYS
const TARGET_POINTS = 1500; // about a point per pixel of a wide chart
// Steps that line up with what the history keeps (1 s, 10 s, 1 min and its 5 and 30 min
// rollups): a step off that ladder (2,640 s) makes the server fold 1 min points itself,
// ~80× the work of reading the 30 min rollup for 30 days of 64 keys.
const STEPS = [1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
const REPLAY = 30; // samples kept for the replay

export class Loader {
  constructor({ host, board, view, current }) {
    this.host = host;
    this.board = board;
    this.view = view;
    this.current = current; // () => the keys of the live sample
    this.held = new Set(); // keys with history (GET /keys); a key asked outside both is a 404
    this.recent = [];
    this.serial = 0;
    this.last = null; // figures of the last full load (tests, the report)
  }

  /** The keys the host has now or has history of. */
  known() {
    const keys = new Set(this.current());
    for (const k of this.held) keys.add(k);
    return keys;
  }

  /** Ask which keys the host has history of (GET /api/v1/hosts/<id>/keys). */
  async fetchKeys() {
    try {
      const resp = await fetch(`/api/v1/hosts/${encodeURIComponent(this.host)}/keys`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) return this.held;
      const body = await resp.json();
      if (body && Array.isArray(body.keys)) this.held = new Set(body.keys.map((k) => k && k.key).filter((k) => typeof k === "string"));
    } catch (err) {
      console.warn("hostpulse: keys request failed", err);
    }
    return this.held;
  }

  /** Remember a live sample, for the replay after a load. */
  note(ts, values) {
    this.recent.push({ ts, values: new Map(values) });
    if (this.recent.length > REPLAY) this.recent.shift();
  }

  /** The request parameters of the current window (also the CSV link's). */
  params() {
    const [since, until] = this.view.window();
    if (this.view.live) return { since: -300, until: null, step: 1, window: [since, until] };
    const wanted = (until - since) / TARGET_POINTS;
    const step = STEPS.find((s) => s >= wanted) || STEPS[STEPS.length - 1];
    return { since: Math.floor(since), until: Math.ceil(until), step, window: [since, until] };
  }

  url(keys, p, format = null) {
    const q = [`keys=${keys.map(encodeURIComponent).join(",")}`, `since=${p.since}`];
    if (p.until !== null) q.push(`until=${p.until}`);
    q.push(`step=${p.step}`);
    if (format) q.push(`format=${format}`);
    return `/api/v1/hosts/${encodeURIComponent(this.host)}/history?${q.join("&")}`;
  }

  async fetchChunk(keys, p) {
    const resp = await fetch(this.url(keys, p), { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!resp.ok) {
      console.warn(`hostpulse: history ${resp.status} for ${keys.length} keys`);
      return null;
    }
    return resp.json();
  }

  /** Load ``charts`` (default: all) for the current view; a later load of a chart wins. */
  async load(charts = [...this.board.charts.values()]) {
    const started = performance.now();
    const serial = ++this.serial;
    for (const c of charts) c.loadSerial = serial;
    const p = this.params();
    const known = this.known();
    const keys = [...new Set(charts.flatMap((c) => c.keys))].filter((k) => known.has(k));
    const chunks = [];
    for (let i = 0; i < keys.length; i += MAX_KEYS) chunks.push(keys.slice(i, i + MAX_KEYS));
    let bodies = [];
    try {
      bodies = await Promise.all(chunks.map((chunk) => this.fetchChunk(chunk, p)));
    } catch (err) {
      console.warn("hostpulse: history request failed", err);
    }
    const fetched = performance.now();
    const merged = { ts: [], tier: "1s", step: p.step, series: {} };
    for (const body of bodies) {
      if (!body || !Array.isArray(body.ts)) continue;
      if (body.ts.length > merged.ts.length) merged.ts = body.ts;
      merged.tier = body.tier || merged.tier;
      merged.step = body.step || merged.step;
      Object.assign(merged.series, body.series || {});
    }
    const mine = charts.filter((c) => c.loadSerial === serial);
    for (const c of mine) {
      c.setMode(this.view.live, p.window);
      c.setHistory(merged);
    }
    if (this.view.live) {
      const lastTs = merged.ts.length ? merged.ts[merged.ts.length - 1] : -Infinity;
      for (const s of this.recent) if (s.ts > lastTs) for (const c of mine) c.push(s.ts, s.values);
    }
    // Drawn in the board's next frame; this one runs right after it.
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    // ms: asked to drawn; fetchMs of it waiting for the server; drawMs the page's own part
    const done = performance.now();
    const figures = { ms: done - started, fetchMs: fetched - started, drawMs: done - fetched, span: p.window[1] - p.window[0], charts: mine.length, keys: keys.length, requests: chunks.length, points: merged.ts.length, tier: merged.tier, step: merged.step };
    if (charts.length === this.board.charts.size) this.last = figures;
    this.board.emit("loaded", figures);
    return figures;
  }
}

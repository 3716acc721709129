// One chart of the host page on uPlot (the global `uPlot` from vendor/): a few metric keys
// of one unit over the board's window. Live, it is appended to; a past window is set whole
// from the REST history. Coarse tiers (10 s, 1 min) draw each line's min/max band; stacked
// series are drawn as areas on top of each other (the legend shows each one's own value).
// Drawing happens in the board's animation frame, never per call.
import { SYNC_KEY } from "./board.js";
import { AXIS_WIDTH, axisText, niceMax, tickSteps, valueText } from "./units.js";
import { momentText, tickText } from "./timefmt.js";

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function lastValue(arr) {
  for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null && arr[i] !== undefined) return arr[i];
  return null;
}

const nulls = (n) => new Array(n).fill(null);
const DOUBLE_CLICK_MS = 250;

export class TimeChart {
  /**
   * @param board the page's Board
   * @param el container
   * @param opts {name, unit, series: [{key, label, color: "--css-var", stack?, band?}],
   *              height?, yMax? (a fixed top, e.g. 100 for %), liveSpan? (s)}
   */
  constructor(board, el, opts) {
    this.board = board;
    this.el = el;
    this.name = opts.name;
    this.opts = { height: 140, yMax: null, liveSpan: 300, ...opts };
    this.live = true;
    this.xWindow = null;
    this.tier = "1s";
    this.clear();
    el.classList.add("tc");
    el.tabIndex = 0;
    el.dataset.chart = this.name;
    el.setAttribute("aria-label", `${opts.label || this.name} chart: arrows move the cursor, Enter shows the processes of that moment`);
    this.empty = document.createElement("div");
    this.empty.className = "tc-empty muted small";
    this.empty.textContent = "no data in this window";
    this.empty.hidden = true; // until drawn: a chart out of sight has not looked yet
    this.build();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(el);
    el.addEventListener("keydown", (ev) => this.onKey(ev));
    board.add(this);
  }

  get keys() {
    return this.opts.series.map((s) => s.key);
  }

  clear() {
    this.ts = [];
    this.cols = this.opts.series.map(() => ({ avg: [], min: [], max: [] }));
    this.shown = this.cols;
  }

  banded(s) {
    return !s.stack && s.band !== false;
  }

  build() {
    const { series, unit, height, yMax } = this.opts;
    const text = cssVar("--fg-muted", "#666");
    const grid = cssVar("--grid", "#ddd");
    const span = (u) => (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
    const useries = [{ value: (u, v) => (v === null || v === undefined ? (this.live ? "now" : "latest") : momentText(v, span(u))) }];
    const bands = [];
    let below = null;
    series.forEach((s, i) => {
      const color = cssVar(s.color, "#3b82f6");
      useries.push({
        label: s.label,
        stroke: color,
        width: s.stack ? 1 : 1.5,
        fill: s.stack ? `${color}55` : s.fill ? `${color}1f` : undefined,
        points: { show: false },
        spanGaps: false,
        value: (u, v, si, idx) => this.legendValue(i, idx),
      });
      if (s.stack) {
        if (below !== null) bands.push({ series: [i + 1, below], fill: `${color}55` });
        below = i + 1;
      }
    });
    // Two hidden series per banded line: its max and min, filled between.
    this.bandSeries = [];
    series.forEach((s, i) => {
      if (!this.banded(s)) return;
      const color = cssVar(s.color, "#3b82f6");
      const hidden = { class: "u-band", stroke: "rgba(0,0,0,0)", width: 0, points: { show: false }, spanGaps: false, value: () => "" };
      const hi = useries.push({ ...hidden, label: `${s.label} max` }) - 1;
      const lo = useries.push({ ...hidden, label: `${s.label} min` }) - 1;
      bands.push({ series: [hi, lo], fill: `${color}30` });
      this.bandSeries.push(i);
    });
    const yAxis = {
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      values: (u, splits) => splits.map((v) => axisText(unit, v)),
      size: AXIS_WIDTH,
      space: 28,
    };
    const steps = tickSteps(unit);
    if (steps) yAxis.incrs = steps;
    const opts = {
      width: Math.max(160, this.el.clientWidth || 300),
      height,
      legend: { show: true, live: true },
      cursor: {
        sync: { key: SYNC_KEY, scales: ["x", null] },
        drag: { x: true, y: false, setScale: false },
        points: { size: 5 },
      },
      select: { show: true },
      scales: {
        x: { time: true, range: (u, min, max) => this.xWindow || [min, max] },
        y: { range: (u, min, max) => [0, yMax !== null && max <= yMax ? yMax : niceMax(unit, max)] },
      },
      axes: [
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (u, splits, ax, space, incr) => splits.map((t) => tickText(t, incr)),
          space: 64,
          size: 26,
        },
        yAxis,
      ],
      series: useries,
      bands,
      hooks: {
        setSelect: [(u) => this.onSelect(u)],
        setCursor: [(u) => this.board.emit("cursor", u.cursor.idx === null || u.cursor.idx === undefined ? null : u.data[0][u.cursor.idx])],
        draw: [(u) => this.drawMarkers(u)],
      },
    };
    this.plot = new window.uPlot(opts, this.data(), this.el);
    this.plot.over.append(this.empty);
    this.bindClicks();
  }

  rebuild() {
    this.plot.destroy();
    this.build();
  }

  resize() {
    const width = Math.max(160, Math.floor(this.el.clientWidth));
    if (width !== this.plot.width) this.plot.setSize({ width, height: this.opts.height });
  }

  // --- data --------------------------------------------------------------------------

  /** What uPlot draws: stacked series summed bottom-up, then each band's max and min. */
  data() {
    const n = this.ts.length;
    const cols = this.shown;
    const lines = [];
    let sum = null;
    this.opts.series.forEach((s, i) => {
      const avg = cols[i].avg;
      if (!s.stack) {
        lines.push(avg);
        return;
      }
      sum = sum === null ? avg.slice() : sum.map((v, j) => (avg[j] === null ? v : (v ?? 0) + avg[j]));
      lines.push(sum);
    });
    const bands = [];
    for (const i of this.bandSeries) {
      const useBand = this.tier !== "1s";
      bands.push(useBand ? cols[i].max : nulls(n), useBand ? cols[i].min : nulls(n));
    }
    return [this.ts, ...lines, ...bands];
  }

  legendValue(i, idx) {
    const col = this.shown[i] ? this.shown[i].avg : [];
    const v = idx === null || idx === undefined ? lastValue(col) : col[idx];
    return valueText(this.opts.unit, v ?? null);
  }

  /** Replace all points from a history answer {ts, tier, series: {key: {avg, min, max} | [..]}}. */
  setHistory(body) {
    const ts = body && Array.isArray(body.ts) ? body.ts : [];
    this.tier = (body && body.tier) || "1s";
    this.ts = ts.slice();
    this.cols = this.keys.map((k) => {
      const s = body && body.series ? body.series[k] : null;
      const avg = Array.isArray(s) ? s : s && Array.isArray(s.avg) ? s.avg : null;
      if (!avg) return { avg: nulls(ts.length), min: nulls(ts.length), max: nulls(ts.length) };
      const pad = (a) => (Array.isArray(a) ? a.slice(0, ts.length) : avg.slice(0, ts.length));
      return { avg: avg.slice(0, ts.length), min: pad(s.min), max: pad(s.max) };
    });
    this.invalidate();
  }

  /** Append one live sample (ignored outside live mode, and when not newer). */
  push(ts, values) {
    if (!this.live) return;
    const last = this.ts[this.ts.length - 1];
    if (last !== undefined && ts <= last) return;
    this.ts.push(ts);
    this.keys.forEach((k, i) => {
      const v = values.has(k) ? values.get(k) : null;
      const c = this.cols[i];
      c.avg.push(v);
      c.min.push(v);
      c.max.push(v);
    });
    let drop = 0;
    while (drop < this.ts.length && this.ts[drop] < ts - this.opts.liveSpan) drop += 1;
    if (drop) {
      this.ts.splice(0, drop);
      for (const c of this.cols) for (const a of [c.avg, c.min, c.max]) a.splice(0, drop);
    }
    this.invalidate();
  }

  /** Show other keys (same count), without data until the next load. */
  setKeys(keys) {
    this.opts.series.forEach((s, i) => {
      s.key = keys[i];
    });
    this.clear();
    this.invalidate();
  }

  /** Live (appending, x follows the data) or a fixed window [since, until]. */
  setMode(live, window) {
    this.live = live;
    this.xWindow = live ? null : window;
  }

  invalidate() {
    this.board.invalidate(this);
  }

  draw() {
    this.shown = this.cols;
    const data = this.data();
    this.plot.setData(data);
    const any = this.cols.some((c) => c.avg.some((v) => v !== null && v !== undefined));
    this.empty.hidden = any;
  }

  redrawOverlay() {
    this.plot.redraw(false, false);
  }

  /** For tests and debugging: what the chart holds and shows. */
  summary() {
    const x = this.plot.scales.x;
    const first = this.ts[0] ?? null;
    const last = this.ts[this.ts.length - 1] ?? null;
    const [xmin, xmax] = this.xWindow || [first, last];
    // xmin/xmax: the window it shows when drawn; drawn: what it showed when last drawn
    return { name: this.name, keys: this.keys, points: this.ts.length, first, last, xmin, xmax, drawn: [x.min ?? null, x.max ?? null], shown: this.el.offsetParent !== null, tier: this.tier, live: this.live, markers: this.markersDrawn || 0 };
  }

  // --- interaction -------------------------------------------------------------------

  onSelect(u) {
    const { left, width } = u.select;
    if (width > 3) this.board.emit("zoom", u.posToVal(left, "x"), u.posToVal(left + width, "x"));
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  }

  bindClicks() {
    const over = this.plot.over;
    let down = null;
    over.addEventListener("mousedown", (ev) => {
      down = ev.clientX;
    });
    // A double click undoes a zoom (so does the range bar's "reset zoom"); its two clicks
    // must not ask for processes, so a click waits a moment for a second one.
    let pending = null;
    over.addEventListener("dblclick", () => {
      clearTimeout(pending);
      this.board.emit("reset");
    });
    over.addEventListener("click", (ev) => {
      if (down === null || Math.abs(ev.clientX - down) > 3) return; // a drag, not a click
      const idx = this.plot.cursor.idx;
      if (idx === null || idx === undefined) return;
      const ts = this.plot.data[0][idx];
      clearTimeout(pending);
      pending = ev.detail > 1 ? null : setTimeout(() => this.board.emit("moment", ts), DOUBLE_CLICK_MS);
    });
  }

  onKey(ev) {
    const u = this.plot;
    const ts = u.data[0];
    if (!ts.length) return;
    let idx = u.cursor.idx ?? ts.length - 1;
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
    if (ev.key in moves) {
      const by = moves[ev.key] * (ev.shiftKey ? 10 : 1);
      idx = Math.max(0, Math.min(ts.length - 1, idx + by));
      u.setCursor({ left: u.valToPos(ts[idx], "x"), top: u.over.clientHeight / 2 }, true, true);
    } else if (ev.key === "Enter" || ev.key === " ") {
      this.board.emit("moment", ts[idx]);
    } else if (ev.key === "Escape") {
      this.board.emit("moment", null);
    } else {
      return;
    }
    ev.preventDefault();
  }

  /** The board's markers, a vertical line each, redrawn with every draw. */
  drawMarkers(u) {
    const markers = this.board.markers;
    this.markersDrawn = 0;
    if (!markers.length) return;
    const { ctx } = u;
    const { top, height } = u.bbox;
    const colors = { firing: cssVar("--crit", "#dc2626"), resolved: cssVar("--ok", "#16a34a") };
    ctx.save();
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.font = `${Math.round(10 * devicePixelRatio)}px system-ui, sans-serif`;
    for (const m of markers) {
      if (m.ts < u.scales.x.min || m.ts > u.scales.x.max) continue;
      const x = Math.round(u.valToPos(m.ts, "x", true));
      ctx.strokeStyle = colors[m.kind];
      ctx.fillStyle = colors[m.kind];
      ctx.setLineDash(m.kind === "resolved" ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      if (m.label) ctx.fillText(m.label, x + 3 * devicePixelRatio, top + 11 * devicePixelRatio);
      this.markersDrawn += 1;
    }
    ctx.restore();
  }

  destroy() {
    this.ro.disconnect();
    this.plot.destroy();
    this.board.remove(this);
  }
}

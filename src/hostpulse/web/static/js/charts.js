// Rolling time-series charts on uPlot (loaded as the global `uPlot` from vendor/).
// A chart is seeded from history (hello.history or the REST endpoint), then one point is
// appended per sample; it keeps at most `maxPoints`, follows its container's width and
// re-reads its colours from CSS custom properties when the colour scheme changes.

const charts = new Set();
const darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
darkQuery?.addEventListener?.("change", () => {
  for (const c of charts) c.rebuild();
});

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function lastOf(arr) {
  for (let i = (arr ? arr.length : 0) - 1; i >= 0; i--) if (arr[i] !== null && arr[i] !== undefined) return arr[i];
  return null;
}

function timeLabel(epoch) {
  const d = new Date(epoch * 1000);
  return d.toTimeString().slice(0, 8);
}

export class RollingChart {
  /**
   * @param {HTMLElement} el container
   * @param {object} opts
   *   series: [{key, label, color: "--css-var", fill?: boolean}]
   *   maxPoints: number (default 300)
   *   height: px (default 140)
   *   yMax: fixed upper bound (e.g. 100 for percentages) or null for auto
   *   fmt: value -> string (legend and axis)
   *   axisFmt: value -> short string for the y axis
   */
  constructor(el, opts) {
    this.el = el;
    this.opts = { maxPoints: 300, height: 140, yMax: null, fmt: String, axisFmt: null, ...opts };
    this.ts = [];
    this.cols = this.opts.series.map(() => []);
    this.plot = null;
    this.build();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(el);
    charts.add(this);
  }

  get keys() {
    return this.opts.series.map((s) => s.key);
  }

  build() {
    const { series, height, yMax, fmt, axisFmt } = this.opts;
    const text = cssVar("--fg-muted", "#666");
    const grid = cssVar("--grid", "#ddd");
    const yAxisFmt = axisFmt || fmt;
    const opts = {
      width: Math.max(120, this.el.clientWidth || 300),
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      legend: { show: true, live: true },
      scales: {
        x: { time: true },
        y: yMax === null ? { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } : { range: [0, yMax] },
      },
      axes: [
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          // whole minutes read "10:25", anything finer "10:25:30"
          values: (u, splits) => splits.map((t) => (t % 60 === 0 ? timeLabel(t).slice(0, 5) : timeLabel(t))),
          space: 48,
          size: 28,
        },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (u, splits) => splits.map((v) => yAxisFmt(v)),
          size: 52,
          space: 30,
        },
      ],
      series: [
        { value: (u, v) => (v === null || v === undefined ? "–" : timeLabel(v)) },
        ...series.map((s) => {
          const color = cssVar(s.color, "#3b82f6");
          return {
            label: s.label,
            stroke: color,
            width: 1.5,
            fill: s.fill ? color + "22" : undefined,
            points: { show: false },
            spanGaps: false,
            // hovering: the value under the cursor; otherwise the latest point
            value: (u, v, si, idx) => (idx === null || idx === undefined ? fmt(lastOf(u.data[si])) : fmt(v)),
          };
        }),
      ],
    };
    this.plot = new window.uPlot(opts, this.data(), this.el);
  }

  rebuild() {
    if (this.plot) this.plot.destroy();
    this.build();
  }

  data() {
    return [this.ts, ...this.cols];
  }

  resize() {
    const width = Math.max(120, Math.floor(this.el.clientWidth));
    if (this.plot && width !== this.plot.width) this.plot.setSize({ width, height: this.opts.height });
  }

  /** Replace all points: ts[] and one array per series (same order as opts.series). */
  setData(ts, columns) {
    const start = Math.max(0, ts.length - this.opts.maxPoints);
    this.ts = ts.slice(start);
    this.cols = columns.map((c) => (c || []).slice(start));
    while (this.cols.length < this.opts.series.length) this.cols.push(new Array(this.ts.length).fill(null));
    this.plot.setData(this.data());
  }

  /** Seed from a history object {ts, series: {key: [..] | {avg: [..]}}}. */
  setHistory(history) {
    if (!history || !Array.isArray(history.ts)) {
      this.setData([], []);
      return;
    }
    const cols = this.keys.map((k) => {
      const s = history.series ? history.series[k] : null;
      const arr = Array.isArray(s) ? s : s && Array.isArray(s.avg) ? s.avg : null;
      return arr ? arr.slice(0, history.ts.length) : new Array(history.ts.length).fill(null);
    });
    this.setData(history.ts.slice(), cols);
  }

  /** Append one point; values: array in series order (null for unknown). */
  push(ts, values) {
    const last = this.ts[this.ts.length - 1];
    if (last !== undefined && ts <= last) return; // history and live overlap
    this.ts.push(ts);
    values.forEach((v, i) => this.cols[i].push(v === undefined ? null : v));
    if (this.ts.length > this.opts.maxPoints) {
      const drop = this.ts.length - this.opts.maxPoints;
      this.ts.splice(0, drop);
      for (const c of this.cols) c.splice(0, drop);
    }
    this.plot.setData(this.data());
  }

  /** Append from a Map of current values, picking this chart's keys. */
  pushFrom(ts, valuesMap) {
    this.push(ts, this.keys.map((k) => (valuesMap.has(k) ? valuesMap.get(k) : null)));
  }

  /** Change which keys this chart shows (same number of series), clearing the data. */
  setKeys(keys) {
    this.opts.series.forEach((s, i) => {
      s.key = keys[i];
    });
    this.setData([], []);
  }

  destroy() {
    this.ro.disconnect();
    this.plot.destroy();
    charts.delete(this);
  }
}

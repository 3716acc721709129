// Per-core CPU history as a heatmap: a row per core, a column per point, darker = busier.
// It stays readable at 64 cores where 64 lines would not. One pixel per (point, core) in an
// offscreen image, scaled onto the canvas: a redraw is one drawImage, whatever the count.
// It joins the board like a chart (keys, setHistory, push, draw) and follows its cursor.
import { momentText } from "./timefmt.js";
import { AXIS_WIDTH } from "./units.js";

const CORE = /^cpu\.core\.(\d+)$/;
const GUTTER = AXIS_WIDTH; // time lines up with the charts above

function rgb(color) {
  const m = /^#([0-9a-f]{6})$/i.exec(color.trim());
  const n = m ? parseInt(m[1], 16) : 0x2563eb;
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export class CoreHeatmap {
  constructor(board, el, { name = "cores", liveSpan = 300 } = {}) {
    this.board = board;
    this.el = el;
    this.name = name;
    this.liveSpan = liveSpan;
    this.cores = [];
    this.live = true;
    this.xWindow = null;
    this.tier = "1s";
    this.ts = [];
    this.rows = [];
    this.canvas = document.createElement("canvas");
    this.canvas.className = "heatmap-canvas";
    this.cursor = document.createElement("div");
    this.cursor.className = "heatmap-cursor";
    this.cursor.hidden = true;
    this.info = document.createElement("div");
    this.info.className = "heatmap-info muted small";
    this.info.textContent = "per core: hover for a value";
    el.append(this.canvas, this.cursor, this.info);
    el.tabIndex = 0;
    el.hidden = true;
    el.dataset.chart = name;
    this.canvas.addEventListener("mousemove", (ev) => this.hover(ev));
    this.canvas.addEventListener("mouseleave", () => this.hover(null));
    this.canvas.addEventListener("click", (ev) => {
      const at = this.at(ev);
      if (at) this.board.emit("moment", at.ts);
    });
    board.on("cursor", (ts) => this.follow(ts));
    board.on("keys", (keys) => this.setCores(keys));
    this.ro = new ResizeObserver(() => this.invalidate());
    this.ro.observe(el);
    board.add(this);
  }

  /** The cores the host has (from a sample's keys); the row order. */
  setCores(keys) {
    const cores = [...keys].map((k) => CORE.exec(k)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
    if (cores.join() === this.cores.join()) return false;
    this.cores = cores;
    // Hidden without cores; not in draw(): a hidden element never comes into view to be drawn.
    this.el.hidden = cores.length === 0;
    this.ts = [];
    this.rows = cores.map(() => []);
    this.invalidate();
    return true;
  }

  get keys() {
    return this.cores.map((c) => `cpu.core.${c}`);
  }

  setMode(live, window) {
    this.live = live;
    this.xWindow = live ? null : window;
  }

  setHistory(body) {
    const ts = body && Array.isArray(body.ts) ? body.ts : [];
    this.tier = (body && body.tier) || "1s";
    this.ts = ts.slice();
    this.rows = this.keys.map((k) => {
      const s = body && body.series ? body.series[k] : null;
      const avg = Array.isArray(s) ? s : s && s.avg;
      return Array.isArray(avg) ? avg.slice(0, ts.length) : new Array(ts.length).fill(null);
    });
    this.invalidate();
  }

  push(ts, values) {
    if (!this.live || !this.cores.length) return;
    const last = this.ts[this.ts.length - 1];
    if (last !== undefined && ts <= last) return;
    this.ts.push(ts);
    this.keys.forEach((k, i) => this.rows[i].push(values.has(k) ? values.get(k) : null));
    while (this.ts.length && this.ts[0] < ts - this.liveSpan) {
      this.ts.shift();
      for (const r of this.rows) r.shift();
    }
    this.invalidate();
  }

  invalidate() {
    this.board.invalidate(this);
  }

  range() {
    if (this.xWindow) return this.xWindow;
    return this.ts.length ? [this.ts[0], this.ts[this.ts.length - 1]] : [0, 1];
  }

  draw() {
    const n = this.cores.length;
    if (!n) return;
    const width = Math.max(160, this.el.clientWidth);
    const rowPx = n > 32 ? 3 : n > 8 ? 6 : 12;
    const height = n * rowPx;
    const dpr = devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const styles = getComputedStyle(document.documentElement);
    ctx.fillStyle = styles.getPropertyValue("--track").trim() || "#eee";
    ctx.fillRect(GUTTER, 0, width - GUTTER, height);
    ctx.fillStyle = styles.getPropertyValue("--fg-muted").trim() || "#666";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const every = Math.ceil(n / Math.max(1, Math.floor(height / 12)));
    this.cores.forEach((c, i) => {
      const y = i * rowPx + rowPx / 2;
      if (i % every === 0 && (y >= 5 || n <= 8)) ctx.fillText(`core ${c}`, 8, Math.max(5, y));
    });
    const m = this.ts.length;
    if (!m) return;
    const [a, b] = this.range();
    const plotW = width - GUTTER;
    const x0 = GUTTER + ((this.ts[0] - a) / (b - a || 1)) * plotW;
    const x1 = GUTTER + ((this.ts[m - 1] + (this.ts[1] - this.ts[0] || 1) - a) / (b - a || 1)) * plotW;
    const img = new ImageData(m, n);
    const [r, g, bl] = rgb(styles.getPropertyValue("--c-cpu"));
    for (let row = 0; row < n; row++) {
      const vals = this.rows[row];
      for (let j = 0; j < m; j++) {
        const v = vals[j];
        const o = 4 * (row * m + j);
        if (v === null || v === undefined) continue; // a gap stays the track's colour
        img.data[o] = r;
        img.data[o + 1] = g;
        img.data[o + 2] = bl;
        img.data[o + 3] = Math.round(40 + 215 * Math.max(0, Math.min(100, v)) / 100);
      }
    }
    const off = this.offscreen && this.offscreen.width === m && this.offscreen.height === n ? this.offscreen : new OffscreenCanvas(m, n);
    this.offscreen = off;
    off.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, plotW, height);
    ctx.clip();
    ctx.drawImage(off, x0, 0, Math.max(1, x1 - x0), height);
    ctx.restore();
  }

  redrawOverlay() {}

  /** The core and moment under the mouse. */
  at(ev) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left;
    const y = ev.clientY - rect.top;
    if (x < GUTTER || !this.ts.length || !this.cores.length) return null;
    const [a, b] = this.range();
    const t = a + ((x - GUTTER) / (rect.width - GUTTER)) * (b - a);
    let j = 0;
    while (j < this.ts.length - 1 && this.ts[j + 1] <= t) j += 1;
    const row = Math.min(this.cores.length - 1, Math.floor((y / rect.height) * this.cores.length));
    return { ts: this.ts[j], core: this.cores[row], value: this.rows[row][j] };
  }

  hover(ev) {
    const at = ev && this.at(ev);
    const [a, b] = this.range();
    this.info.textContent = at ? `core ${at.core} · ${momentText(at.ts, b - a)} · ${at.value === null || at.value === undefined ? "–" : `${at.value.toFixed(1)} %`}` : "per core: hover for a value";
  }

  follow(ts) {
    if (ts === null || ts === undefined || !this.ts.length) {
      this.cursor.hidden = true;
      return;
    }
    const [a, b] = this.range();
    const width = this.el.clientWidth;
    const left = GUTTER + ((ts - a) / (b - a || 1)) * (width - GUTTER);
    this.cursor.hidden = left < GUTTER || left > width;
    this.cursor.style.left = `${left.toFixed(0)}px`;
    this.cursor.style.height = this.canvas.style.height;
  }

  summary() {
    const [a, b] = this.range();
    return { name: this.name, keys: this.keys, points: this.ts.length, first: this.ts[0] ?? null, last: this.ts[this.ts.length - 1] ?? null, xmin: a, xmax: b, drawn: [a, b], tier: this.tier, live: this.live, markers: 0 };
  }
}

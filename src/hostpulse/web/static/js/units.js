// One style for every chart's axis and legend: the unit of a metric key (metrics.py's
// unit_of) decides how a value reads and which tick steps an axis takes.
import { bytes, DASH } from "./format.js";

/** Pixels of every chart's y axis (the per-core heatmap leaves the same gutter). */
export const AXIS_WIDTH = 80;

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function missing(v) {
  return v === null || v === undefined || Number.isNaN(v);
}

/** The unit of a key: "%", "B", "B/s", "/s", "°C", "rpm" or "" (load). */
export function unitOf(key) {
  const family = key.slice(0, key.indexOf("."));
  const field = key.slice(key.lastIndexOf(".") + 1);
  if (family === "cpu" || field === "percent" || field === "busy") return "%";
  if (family === "load") return "";
  if (family === "temp") return "°C";
  if (family === "fan") return "rpm";
  if (field.endsWith("_bps")) return "B/s";
  if (/_(ops|pps|ps)$/.test(field)) return "/s";
  if (["total", "used", "free", "available", "cached", "buffers"].includes(field)) return "B";
  return "";
}

function scaled(v, digits) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** A value as the legend and tooltips show it: "12.5 %", "3.2 MiB/s", "48 °C". */
export function valueText(unit, v) {
  if (missing(v)) return DASH;
  switch (unit) {
    case "B":
      return bytes(v);
    case "B/s":
      return bytes(v, "/s");
    case "%":
      return `${v.toFixed(1)} %`;
    case "°C":
      return `${v.toFixed(1)} °C`;
    case "rpm":
      return `${Math.round(v)} rpm`;
    case "/s":
      return `${scaled(Math.round(v * 10) / 10, 1)} /s`;
    default:
      return v.toFixed(2);
  }
}

/** A tick label: the same style, short ("512 MiB", "1.5 GiB/s", "40 %"). */
export function axisText(unit, v) {
  if (missing(v)) return "";
  if (unit === "B" || unit === "B/s") {
    let x = v;
    let i = 0;
    while (Math.abs(x) >= 1024 && i < BINARY.length - 1) {
      x /= 1024;
      i += 1;
    }
    const n = Number.isInteger(x) ? String(x) : x.toFixed(x >= 10 ? 0 : 1);
    return `${n} ${BINARY[i]}${unit === "B/s" ? "/s" : ""}`;
  }
  const n = scaled(v, Math.abs(v) < 1 ? 2 : 1);
  return unit ? `${n} ${unit}` : n;
}

// Byte axes step in powers of two of binary units (256 MiB, 512 MiB, 1 GiB), not 0.98 GiB.
const BYTE_STEPS = [];
for (let p = 0; p < 6; p++) for (const m of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) BYTE_STEPS.push(m * 1024 ** p);

/** uPlot axis increments for a unit, or undefined for its decimal defaults. */
export function tickSteps(unit) {
  return unit === "B" || unit === "B/s" ? BYTE_STEPS : undefined;
}

/** A round upper bound for a y axis holding ``max`` (0 → a small default per unit). */
export function niceMax(unit, max) {
  if (!(max > 0)) return unit === "%" ? 1 : unit === "B" || unit === "B/s" ? 1024 : 1;
  if (unit === "B" || unit === "B/s") {
    let step = 1;
    while (step < max) step *= 2;
    return step;
  }
  const mag = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * mag >= max) return m * mag;
  return 10 * mag;
}

// Numbers as people read them. Every function returns "–" for null/undefined/NaN
// (the protocol sends null when a value is unknown, e.g. rates on the first tick).

export const DASH = "–";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function missing(n) {
  return n === null || n === undefined || Number.isNaN(n);
}

/** 1536 -> "1.5 KiB"; binary units, one decimal above bytes. */
export function bytes(n, suffix = "") {
  if (missing(n)) return DASH;
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  const text = i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : 1);
  return `${text} ${UNITS[i]}${suffix}`;
}

/** Bytes per second: "3.2 MiB/s". */
export function rate(n) {
  return bytes(n, "/s");
}

/** 12.345 -> "12.3 %". */
export function pct(n, digits = 1) {
  if (missing(n)) return DASH;
  return `${Number(n).toFixed(digits)} %`;
}

/** A plain number with fixed decimals ("0.42" for a load average). */
export function fixed(n, digits = 2) {
  if (missing(n)) return DASH;
  return Number(n).toFixed(digits);
}

/** Per-second count: "12.0 /s". */
export function perSecond(n) {
  if (missing(n)) return DASH;
  return `${Number(n).toFixed(1)} /s`;
}

/** Seconds as an uptime: "3d 04:12:09", "4:12:09", "12:09". */
export function duration(seconds) {
  if (missing(seconds) || seconds < 0) return DASH;
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const two = (x) => String(x).padStart(2, "0");
  if (d > 0) return `${d}d ${two(h)}:${two(m)}:${two(s)}`;
  if (h > 0) return `${h}:${two(m)}:${two(s)}`;
  return `${m}:${two(s)}`;
}

/** Milliseconds of a round trip: "3 ms", "0.4 ms". */
export function ms(n) {
  if (missing(n)) return DASH;
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

/** Epoch seconds as a local date-time. */
export function dateTime(epoch) {
  if (missing(epoch)) return DASH;
  return new Date(epoch * 1000).toLocaleString();
}

/** Split a metric key (see metrics.py): family before the first dot, field after the last. */
export function parseKey(key) {
  const first = key.indexOf(".");
  const last = key.lastIndexOf(".");
  if (first <= 0 || last === key.length - 1) return null;
  if (first === last) return { family: key.slice(0, first), instance: null, field: key.slice(first + 1) };
  return { family: key.slice(0, first), instance: key.slice(first + 1, last), field: key.slice(last + 1) };
}

// The range bar above the charts: live, 1 h … 30 d, a custom from/to, "reset zoom", what
// window is shown, and the CSV of the visible range (the history endpoint's format=csv
// with the same parameters as the charts' requests).
import { RANGES } from "./view.js";
import { setHidden, setText } from "./dom.js";
import { windowText } from "./timefmt.js";
import { MAX_KEYS } from "./loader.js";

const two = (n) => String(n).padStart(2, "0");

/** Epoch seconds as the value of an <input type="datetime-local"> (local time). */
function localInput(epoch) {
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

export function createRangebar({ view, board, loader }) {
  const buttons = [...document.querySelectorAll("[data-range]")];
  const form = document.getElementById("custom-range");
  const from = document.getElementById("range-from");
  const to = document.getElementById("range-to");
  const label = document.getElementById("range-label");
  const reset = document.getElementById("zoom-reset");
  const csv = document.getElementById("csv-link");

  function show() {
    const v = view.current;
    const pressed = v.kind === "live" ? "live" : v.kind === "range" ? v.range : null;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.range === pressed));
    const [since, until] = view.window();
    setText(label, v.kind === "live" ? "last 5 minutes, live" : windowText(since, until));
    setHidden(reset, !view.zoomed);
    from.value = localInput(since);
    to.value = localInput(until);
    updateCsv();
  }

  // The charts' keys, per-core ones last: one CSV holds at most MAX_KEYS of them.
  function updateCsv() {
    const keys = board.keys().filter((k) => loader.known().has(k));
    keys.sort((a, b) => a.startsWith("cpu.core.") - b.startsWith("cpu.core."));
    const p = loader.params();
    if (!view.live) {
      csv.href = loader.url(keys.slice(0, MAX_KEYS), p, "csv");
    } else {
      const [since, until] = view.window();
      csv.href = loader.url(keys.slice(0, MAX_KEYS), { since: Math.floor(since), until: Math.ceil(until), step: 1 }, "csv");
    }
    csv.title = keys.length > MAX_KEYS ? `the first ${MAX_KEYS} of ${keys.length} series (per-core ones left out)` : `${keys.length} series`;
  }

  for (const b of buttons) {
    b.addEventListener("click", () => view.set(b.dataset.range === "live" ? { kind: "live" } : { kind: "range", range: b.dataset.range }));
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const a = Math.floor(new Date(from.value).getTime() / 1000);
    const b = Math.ceil(new Date(to.value).getTime() / 1000);
    if (!Number.isFinite(a) || !Number.isFinite(b) || b <= a) {
      setText(label, "the custom range needs a from before its to");
      return;
    }
    view.set({ kind: "fixed", from: a, to: b });
  });
  reset.addEventListener("click", () => view.resetZoom());
  // Recomputed when clicked too: "live" and relative ranges move with the clock.
  csv.addEventListener("click", updateCsv);
  view.on(show);
  board.on("loaded", show);
  show();
  return { show, ranges: Object.keys(RANGES) };
}

// CPU panel: total gauge, per-core bars and load 1/5/15 now; over the board's window the
// CPU stacked by kind (user, system, iowait, steal, with the total's min/max band), the load
// and a per-core heatmap.
import { TimeChart } from "./timechart.js";
import { CoreHeatmap } from "./heatmap.js";
import { h, setText, setBar } from "./dom.js";
import { fixed, pct } from "./format.js";

const CORE_KEY = /^cpu\.core\.(\d+)$/;
const RING = 2 * Math.PI * 42; // circumference of the gauge ring (r = 42 in the SVG)

export function createCpu(live, board) {
  const total = document.getElementById("cpu-total");
  const ring = document.getElementById("cpu-gauge-value");
  const cores = document.getElementById("cpu-cores");
  const coreCount = document.getElementById("cpu-core-count");
  const load = {
    1: document.getElementById("load-1"),
    5: document.getElementById("load-5"),
    15: document.getElementById("load-15"),
  };
  const rows = new Map(); // core index -> {row, fill, value}
  new TimeChart(board, document.getElementById("cpu-chart"), {
    name: "cpu",
    label: "CPU",
    unit: "%",
    yMax: 100,
    series: [
      { key: "cpu.user", label: "user", color: "--c-user", stack: true },
      { key: "cpu.system", label: "system", color: "--c-system", stack: true },
      { key: "cpu.iowait", label: "iowait", color: "--c-iowait", stack: true },
      { key: "cpu.steal", label: "steal", color: "--c-steal", stack: true },
      { key: "cpu.total", label: "total", color: "--c-cpu" },
    ],
  });
  new TimeChart(board, document.getElementById("load-chart"), {
    name: "load",
    label: "Load",
    unit: "",
    series: [
      { key: "load.1", label: "load 1", color: "--c-cpu" },
      { key: "load.5", label: "load 5", color: "--c-mem", band: false },
      { key: "load.15", label: "load 15", color: "--c-swap", band: false },
    ],
  });
  const heatmap = new CoreHeatmap(board, document.getElementById("cores-heatmap"));
  ring.setAttribute("stroke-dasharray", `0 ${RING}`);

  function addCore(idx) {
    const fill = h("div", { class: "bar-fill" });
    const value = h("span", { class: "core-value num" });
    const row = h(
      "div",
      { class: "core", "data-testid": `cpu-core-${idx}`, "data-core": idx },
      h("span", { class: "core-label" }, String(idx)),
      h("div", { class: "bar" }, fill),
      value,
    );
    // keep rows ordered by core number
    const after = [...rows.keys()].filter((i) => i > idx).sort((a, b) => a - b)[0];
    cores.insertBefore(row, after === undefined ? null : rows.get(after).row);
    rows.set(idx, { row, fill, value });
    setText(coreCount, `${rows.size} core${rows.size === 1 ? "" : "s"}`);
  }

  function render(values, changed) {
    const all = changed === null;
    if (all || changed.has("cpu.total")) {
      const v = values.get("cpu.total");
      setText(total, v === null || v === undefined ? "–" : `${v.toFixed(1)}`);
      const p = Math.max(0, Math.min(100, v || 0));
      const dash = `${((p / 100) * RING).toFixed(1)} ${RING.toFixed(1)}`;
      if (ring.getAttribute("stroke-dasharray") !== dash) ring.setAttribute("stroke-dasharray", dash);
      const level = p >= 90 ? "crit" : p >= 75 ? "warn" : "ok";
      if (ring.dataset.level !== level) ring.dataset.level = level;
    }
    for (const n of [1, 5, 15]) {
      const k = `load.${n}`;
      if (all || changed.has(k)) setText(load[n], fixed(values.get(k)));
    }
    const keys = all ? values.keys() : changed;
    for (const k of keys) {
      const m = CORE_KEY.exec(k);
      if (!m) continue;
      const idx = Number(m[1]);
      if (!rows.has(idx)) addCore(idx);
      const r = rows.get(idx);
      const v = values.get(k);
      setBar(r.fill, v);
      setText(r.value, pct(v, 0));
    }
  }

  function removeGone(gone) {
    for (const k of gone) {
      const m = CORE_KEY.exec(k);
      if (m && rows.has(Number(m[1]))) {
        rows.get(Number(m[1])).row.remove();
        rows.delete(Number(m[1]));
      }
    }
  }

  live.on("hello", ({ values }) => {
    for (const { row } of rows.values()) row.remove();
    rows.clear();
    render(values, null);
    if (board.live) heatmap.setCores(values.keys());
  });
  live.on("sample", ({ values, changed, gone, full }) => {
    removeGone(gone);
    render(values, full ? null : changed);
    // live, a core that came or went changes the heatmap's rows (its history is asked again)
    if (board.live && (full || gone.length) && heatmap.setCores(values.keys())) board.emit("reload", [heatmap]);
  });
}

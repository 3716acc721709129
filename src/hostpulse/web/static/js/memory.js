// Memory panel: memory and swap used/total with bars now; over the board's window memory
// used, cached, buffers and available, and swap used (or "no swap" when there is none).
import { TimeChart } from "./timechart.js";
import { setHidden, setText, setBar } from "./dom.js";
import { bytes, pct } from "./format.js";

export function createMemory(live, board) {
  const el = (id) => document.getElementById(id);
  const parts = {
    mem: { used: el("mem-used"), total: el("mem-total"), pct: el("mem-percent"), fill: el("mem-bar"), extra: el("mem-available") },
    swap: { used: el("swap-used"), total: el("swap-total"), pct: el("swap-percent"), fill: el("swap-bar"), extra: null },
  };
  new TimeChart(board, el("mem-chart"), {
    name: "memory",
    label: "Memory",
    unit: "B",
    series: [
      { key: "mem.used", label: "used", color: "--c-mem", fill: true },
      { key: "mem.cached", label: "cached", color: "--c-read", band: false },
      { key: "mem.buffers", label: "buffers", color: "--c-write", band: false },
      { key: "mem.available", label: "available", color: "--c-rx", band: false },
    ],
  });
  const swapChart = new TimeChart(board, el("swap-chart"), {
    name: "swap",
    label: "Swap",
    unit: "B",
    height: 90,
    series: [{ key: "swap.used", label: "swap used", color: "--c-swap", fill: true }],
  });
  let hasSwap = null;

  function render(values, changed) {
    const touched = (k) => changed === null || changed.has(k);
    for (const [fam, p] of Object.entries(parts)) {
      if (touched(`${fam}.used`)) setText(p.used, bytes(values.get(`${fam}.used`)));
      if (touched(`${fam}.total`) || changed === null) {
        let total = values.get(`${fam}.total`);
        if ((total === undefined || total === null) && fam === "mem") total = live.facts.mem_total;
        setText(p.total, bytes(total));
      }
      if (touched(`${fam}.percent`)) {
        const v = values.get(`${fam}.percent`);
        setText(p.pct, pct(v));
        setBar(p.fill, v);
      }
      if (p.extra && touched(`${fam}.available`)) setText(p.extra, bytes(values.get(`${fam}.available`)));
    }
    // A host without swap says so, instead of "0 B / 0 B" and an empty chart.
    const swapTotal = values.get("swap.total");
    const swap = !(swapTotal === 0 || swapTotal === undefined);
    if (swap !== hasSwap) {
      hasSwap = swap;
      el("swap-row").classList.toggle("is-empty", !swap);
      setHidden(el("swap-numbers"), !swap);
      setHidden(el("swap-none"), swap);
      setHidden(el("swap-percent"), !swap); // no "0.0 %" and no empty bar beside "no swap"
      setHidden(el("swap-bar").parentElement, !swap);
      setHidden(swapChart.el, !swap);
    }
  }

  live.on("hello", ({ values }) => render(values, null));
  live.on("sample", ({ values, changed, full }) => render(values, full ? null : changed));
}

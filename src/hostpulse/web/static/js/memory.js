// Memory panel: memory and swap used/total with bars and a percent history chart.
import { RollingChart } from "./charts.js";
import { setText, setBar } from "./dom.js";
import { bytes, pct } from "./format.js";

export function createMemory(live) {
  const el = (id) => document.getElementById(id);
  const parts = {
    mem: { used: el("mem-used"), total: el("mem-total"), pct: el("mem-percent"), fill: el("mem-bar"), extra: el("mem-available") },
    swap: { used: el("swap-used"), total: el("swap-total"), pct: el("swap-percent"), fill: el("swap-bar"), extra: null },
  };
  const chart = new RollingChart(el("mem-chart"), {
    series: [
      { key: "mem.percent", label: "Memory", color: "--c-mem", fill: true },
      { key: "swap.percent", label: "Swap", color: "--c-swap" },
    ],
    yMax: 100,
    fmt: (v) => pct(v),
    axisFmt: (v) => `${v}%`,
  });

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
    const swapTotal = values.get("swap.total");
    document.getElementById("swap-row").classList.toggle("is-empty", swapTotal === 0);
  }

  live.on("hello", ({ values, history }) => {
    render(values, null);
    chart.setHistory(history);
    if (live.ready) chart.pushFrom(live.ts, values);
  });
  live.on("sample", ({ ts, values, changed, full }) => {
    render(values, full ? null : changed);
    chart.pushFrom(ts, values);
  });
}

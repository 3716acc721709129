// GPU panel: a card per GPU (keys gpu.<index>.*, facts.gpus[<index>] for its model, driver
// and bus): a utilization gauge, a memory bar, temperature / power / fan / clocks, and a
// chart of utilization and memory % over the board's window (its zoom, cursor, markers and
// moments, like every other chart). A card appears with its GPU's first key and goes when
// all its keys are gone; the panel is hidden while the host has no GPU.
import { TimeChart } from "./timechart.js";
import { h, setBar, setHidden, setText } from "./dom.js";
import { bytes, DASH, pct } from "./format.js";

const GPU_KEY = /^gpu\.(\d+)\.([a-z_]+)$/;
const RING = 2 * Math.PI * 42; // the gauge ring's circumference (r = 42), as the CPU's
const SVG = "http://www.w3.org/2000/svg";

function num(v, digits, unit) {
  return v === null || v === undefined ? DASH : `${Number(v).toFixed(digits)} ${unit}`;
}

function gauge(testid) {
  const circle = (cls) => {
    const c = document.createElementNS(SVG, "circle");
    for (const [k, v] of Object.entries({ class: cls, cx: 50, cy: 50, r: 42 })) c.setAttribute(k, v);
    return c;
  };
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("aria-hidden", "true");
  const value = circle("gauge-value");
  value.setAttribute("transform", "rotate(-90 50 50)");
  value.setAttribute("stroke-dasharray", `0 ${RING}`);
  svg.append(circle("gauge-track"), value);
  const text = h("span", { class: "num", "data-testid": `${testid}-util` }, DASH);
  const el = h("div", { class: "gauge gauge-small" }, svg, h("div", { class: "gauge-label" }, text, h("span", { class: "unit" }, "%")));
  return { el, value, text };
}

function setGauge(g, v) {
  setText(g.text, v === null || v === undefined ? DASH : v.toFixed(1));
  const p = Math.max(0, Math.min(100, v || 0));
  const dash = `${((p / 100) * RING).toFixed(1)} ${RING.toFixed(1)}`;
  if (g.value.getAttribute("stroke-dasharray") !== dash) g.value.setAttribute("stroke-dasharray", dash);
  const level = p >= 90 ? "crit" : p >= 75 ? "warn" : "ok";
  if (g.value.dataset.level !== level) g.value.dataset.level = level;
}

export function createGpus(live, board) {
  const panel = document.getElementById("gpu-panel");
  const list = document.getElementById("gpu-cards");
  const cards = new Map(); // index -> card parts

  function describe(index) {
    const f = (live.facts.gpus || {})[index] || {};
    return {
      model: f.model || `GPU ${index}`,
      detail: [f.driver && f.driver_version ? `${f.driver} ${f.driver_version}` : f.driver, f.bus_id].filter(Boolean).join(" · "),
    };
  }

  function build(index) {
    const id = `gpu-${index}`;
    const g = gauge(id);
    const field = (label, testid) => {
      const dd = h("dd", { class: "num", "data-testid": `${id}-${testid}` }, DASH);
      return { dd, row: h("div", {}, h("dt", {}, label), dd) };
    };
    const parts = {
      temp: field("temp", "temp"),
      power: field("power", "power"),
      fan: field("fan", "fan"),
      clocks: field("clocks", "clocks"),
    };
    const mem = { used: h("span", { "data-testid": `${id}-mem` }, DASH), pct: h("span", { class: "num meter-pct" }, DASH), fill: h("div", { class: "bar-fill" }) };
    mem.row = h(
      "div",
      { class: "meter", "data-testid": `${id}-mem-meter` },
      h("div", { class: "meter-head" }, h("span", {}, "memory"), h("span", { class: "num" }, mem.used), mem.pct),
      h("div", { class: "bar" }, mem.fill),
    );
    const { model, detail } = describe(index);
    const title = h("span", { class: "gpu-model", "data-testid": `${id}-model` }, model);
    const sub = h("span", { class: "muted small gpu-detail" }, detail);
    const chartEl = h("div", { class: "chart", "data-testid": `${id}-chart` });
    const el = h(
      "article",
      { class: "gpu", "data-testid": "gpu-card", "data-gpu": index },
      h("div", { class: "gpu-head" }, h("span", { class: "gpu-index muted" }, `#${index}`), title, sub),
      h(
        "div",
        { class: "gpu-top" },
        g.el,
        h("dl", { class: "gpu-facts" }, ...Object.values(parts).map((p) => p.row)),
      ),
      mem.row,
      chartEl,
    );
    const after = [...cards.keys()].filter((i) => i > index).sort((a, b) => a - b)[0];
    list.insertBefore(el, after === undefined ? null : cards.get(after).el);
    setHidden(panel, false); // before the chart: it takes its width from a shown card
    const chart = new TimeChart(board, chartEl, {
      name: id,
      label: `GPU ${index}`,
      unit: "%",
      yMax: 100,
      height: 110,
      series: [
        { key: `gpu.${index}.util`, label: "GPU", color: "--c-gpu", fill: true },
        { key: `gpu.${index}.mem_percent`, label: "Memory", color: "--c-gpu-mem" },
      ],
    });
    const card = { el, gauge: g, parts, mem, title, sub, chart, chartEl };
    cards.set(index, card);
    board.emit("reload", [chart]); // its past, for the board's window
    return card;
  }

  function render(index, values) {
    const card = cards.get(index) || build(index);
    const get = (f) => values.get(`gpu.${index}.${f}`);
    setGauge(card.gauge, get("util"));
    const used = get("mem_used");
    const total = get("mem_total");
    setText(card.mem.used, used === undefined && total === undefined ? DASH : `${bytes(used)} / ${bytes(total)}`);
    const mp = get("mem_percent"); // the collector's used of total
    setText(card.mem.pct, pct(mp));
    setBar(card.mem.fill, mp);
    setText(card.parts.temp.dd, num(get("temp"), 0, "°C"));
    const power = get("power");
    const limit = get("power_limit");
    setText(card.parts.power.dd, limit ? `${num(power, 0, "W")} / ${num(limit, 0, "W")}` : num(power, 1, "W"));
    setText(card.parts.fan.dd, num(get("fan"), 0, "%"));
    const core = get("clock_core");
    const memClock = get("clock_mem");
    const clocks = [core, memClock].filter((v) => v !== undefined && v !== null).map((v) => v.toFixed(0));
    setText(card.parts.clocks.dd, clocks.length ? `${clocks.join(" / ")} MHz` : DASH);
    // What this GPU's driver does not tell (an Intel iGPU: utilization, memory) is not shown.
    setHidden(card.gauge.el, get("util") === undefined);
    setHidden(card.mem.row, total === undefined);
    setHidden(card.chartEl, get("util") === undefined && total === undefined);
    for (const [name, p] of Object.entries(card.parts)) {
      const absent = name === "clocks" ? core === undefined && memClock === undefined : name === "power" ? power === undefined : get(name) === undefined;
      setHidden(p.row, absent);
    }
  }

  function indices(values, keys) {
    const found = new Set();
    for (const k of keys) {
      const m = GPU_KEY.exec(k);
      if (m) found.add(Number(m[1]));
    }
    return found;
  }

  function removeGone(values, gone) {
    for (const index of indices(values, gone)) {
      const card = cards.get(index);
      if (!card || [...values.keys()].some((k) => k.startsWith(`gpu.${index}.`))) continue;
      card.chart.destroy();
      card.el.remove();
      cards.delete(index);
    }
    setHidden(panel, cards.size === 0);
  }

  function relabel() {
    for (const [index, card] of cards) {
      const { model, detail } = describe(index);
      setText(card.title, model);
      setText(card.sub, detail);
    }
  }

  live.on("hello", ({ values }) => {
    for (const card of cards.values()) {
      card.chart.destroy();
      card.el.remove();
    }
    cards.clear();
    setHidden(panel, true);
    for (const index of indices(values, values.keys())) render(index, values);
  });
  live.on("sample", ({ values, changed, gone, full }) => {
    removeGone(values, gone);
    const touched = indices(values, full ? values.keys() : changed);
    for (const index of touched) render(index, values);
  });
  live.on("facts", relabel);
}

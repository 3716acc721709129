// Temperatures and fans over the board's window: one line per sensor (temp.*.celsius,
// fan.*.rpm). The card is absent on a host without sensors; a chart is rebuilt only when
// the set of sensors changes (hardware plugged in).
import { TimeChart } from "./timechart.js";
import { setHidden } from "./dom.js";

const PALETTE = ["--c-cpu", "--c-mem", "--c-swap", "--c-read", "--c-write", "--c-rx", "--c-tx", "--warn"];
const MAX_LINES = 16;

function sensorKeys(keys, family, field) {
  return [...keys].filter((k) => k.startsWith(`${family}.`) && k.endsWith(`.${field}`)).sort().slice(0, MAX_LINES);
}

export function createSensors(live, board) {
  const card = document.getElementById("sensors-panel");
  const kinds = [
    { family: "temp", field: "celsius", unit: "°C", el: document.getElementById("temp-chart"), chart: null, keys: "" },
    { family: "fan", field: "rpm", unit: "rpm", el: document.getElementById("fan-chart"), chart: null, keys: "" },
  ];

  function sync(values) {
    const rebuilt = [];
    for (const kind of kinds) {
      const keys = sensorKeys(values.keys(), kind.family, kind.field);
      if (keys.join() === kind.keys) continue;
      kind.keys = keys.join();
      if (kind.chart) kind.chart.destroy();
      kind.chart = null;
      kind.el.replaceChildren();
      setHidden(kind.el, keys.length === 0);
      if (!keys.length) continue;
      const label = (k) => k.slice(kind.family.length + 1, -kind.field.length - 1);
      kind.chart = new TimeChart(board, kind.el, {
        name: kind.family,
        label: kind.family === "temp" ? "Temperatures" : "Fans",
        unit: kind.unit,
        series: keys.map((k, i) => ({ key: k, label: label(k), color: PALETTE[i % PALETTE.length], band: i === 0 })),
      });
      rebuilt.push(kind.chart);
    }
    setHidden(card, kinds.every((k) => !k.chart));
    if (rebuilt.length) board.emit("reload", rebuilt);
  }

  live.on("hello", ({ values }) => sync(values));
  live.on("sample", ({ values, full, gone }) => {
    if (full || gone.length) sync(values);
  });
}

// Disks and network: a chooser of the host total or one device each, and over the board's
// window its throughput, operations (disks) or packets (network), and busy % (disks) or
// errors and drops (network). Interfaces that are down (facts.interfaces) are left out of
// the chooser unless "show down" is ticked.
import { TimeChart } from "./timechart.js";
import { Chooser, offeredKeys } from "./choosers.js";
import { setText } from "./dom.js";
import { rate } from "./format.js";

const PANELS = {
  disk: {
    field: "read_bps",
    now: { read: "read_bps", write: "write_bps" },
    charts: [
      { name: "disk", unit: "B/s", series: [["read_bps", "read", "--c-read", true], ["write_bps", "write", "--c-write"]] },
      { name: "disk-ops", unit: "/s", height: 100, series: [["read_ops", "reads", "--c-read"], ["write_ops", "writes", "--c-write"]] },
      { name: "disk-busy", unit: "%", height: 90, series: [["busy", "busy", "--c-cpu", true]] },
    ],
  },
  net: {
    field: "rx_bps",
    now: { rx: "rx_bps", tx: "tx_bps" },
    charts: [
      { name: "net", unit: "B/s", series: [["rx_bps", "receive", "--c-rx", true], ["tx_bps", "send", "--c-tx"]] },
      { name: "net-pps", unit: "/s", height: 100, series: [["rx_pps", "packets in", "--c-rx"], ["tx_pps", "packets out", "--c-tx"]] },
      { name: "net-err", unit: "/s", height: 100, series: [["errin_ps", "errors in", "--crit"], ["errout_ps", "errors out", "--c-write"], ["dropin_ps", "drops in", "--warn"], ["dropout_ps", "drops out", "--c-swap"]] },
    ],
  },
};

function panel(live, board, family) {
  const cfg = PANELS[family];
  const showDown = document.getElementById(`${family}-show-down`);
  const isDown = (inst) => {
    if (family !== "net" || (showDown && showDown.checked)) return false;
    const nic = (live.facts.interfaces || {})[inst];
    return !!nic && nic.up === false;
  };
  let selected = "total";
  const chooser = new Chooser(document.getElementById(`${family}-select`), {
    family,
    field: cfg.field,
    hide: isDown,
    onChange: (inst) => choose(inst),
  });
  const keyOf = (inst, field) => `${family}.${inst}.${field}`;
  const charts = cfg.charts.map(
    (c) =>
      new TimeChart(board, document.getElementById(`${c.name}-chart`), {
        name: c.name,
        label: c.name,
        unit: c.unit,
        yMax: c.yMax ?? null,
        height: c.height ?? 140,
        series: c.series.map(([field, label, color, fill]) => ({ key: keyOf("total", field), field, label, color, fill: !!fill })),
      }),
  );
  const nowEls = Object.fromEntries(Object.keys(cfg.now).map((id) => [id, document.getElementById(`${family}-${id}`)]));

  function showNow(values) {
    for (const [id, field] of Object.entries(cfg.now)) setText(nowEls[id], rate(values.get(keyOf(selected, field))));
  }

  function choose(inst) {
    selected = inst;
    for (const c of charts) c.setKeys(c.opts.series.map((s) => keyOf(inst, s.field)));
    showNow(live.values);
    board.emit("reload", charts);
  }

  function sync() {
    chooser.sync(offered());
    if (!chooser.has(selected)) {
      chooser.value = "total";
      choose("total");
    }
  }
  const offered = offeredKeys(live, board, sync);

  showDown?.addEventListener("change", sync);
  live.on("facts", sync);
  live.on("hello", ({ values }) => {
    sync();
    showNow(values);
  });
  live.on("sample", ({ values, changed, gone, full }) => {
    if (full || gone.length || [...changed].some((k) => k.startsWith(`${family}.`) && k.endsWith(cfg.field) && !chooser.has(k.slice(family.length + 1, -cfg.field.length - 1)))) {
      sync();
    }
    showNow(values);
  });
}

// Element ids follow the family: `${family}-select`, `${chart name}-chart`, and one
// `${family}-${id}` for each current value (disk-read, disk-write, net-rx, net-tx).
export function createIo(live, board) {
  panel(live, board, "disk");
  panel(live, board, "net");
}

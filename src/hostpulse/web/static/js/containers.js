// Containers panel: one row per running container, from container.<name>.* keys (live
// values) and facts.containers (state, health, image, start time: sent on change only).
// Hidden when the host reports no containers table (no engine socket). Rows come and go
// with their keys; the table sorts by CPU, memory, network or I/O. Clicking a row shows that
// container's charts, on the board like every chart: the page's range, zoom and cursor.
import { h, setText, setHidden } from "./dom.js";
import { bytes, duration, pct, rate, parseKey, DASH } from "./format.js";
import { TimeChart } from "./timechart.js";

// CPU is % of one core, as for a process: past 100 % on a busy multi-threaded container.
const CHARTS = [
  { id: "cpu", label: "CPU", unit: "%", yMax: 100, series: [{ field: "cpu", label: "CPU", color: "--c-cpu", fill: true }] },
  { id: "mem", label: "Memory", unit: "B", series: [{ field: "mem_used", label: "Memory", color: "--c-mem", fill: true }] },
  {
    id: "net",
    label: "Network",
    unit: "B/s",
    series: [
      { field: "rx_bps", label: "Receive", color: "--c-rx" },
      { field: "tx_bps", label: "Send", color: "--c-tx" },
    ],
  },
  {
    id: "io",
    label: "Disk I/O",
    unit: "B/s",
    series: [
      { field: "read_bps", label: "Read", color: "--c-read" },
      { field: "write_bps", label: "Write", color: "--c-write" },
    ],
  },
];

const SORTS = {
  name: null,
  cpu: (v) => v("cpu"),
  mem: (v) => v("mem_used"),
  net: (v) => (v("rx_bps") ?? 0) + (v("tx_bps") ?? 0),
  io: (v) => (v("read_bps") ?? 0) + (v("write_bps") ?? 0),
};

export function createContainers(live, board) {
  const panel = document.getElementById("containers-panel");
  const tbody = document.getElementById("containers-body");
  const count = document.getElementById("containers-count");
  const empty = document.getElementById("containers-empty");
  const buttons = [...panel.querySelectorAll("[data-csort]")];
  const rows = new Map(); // instance -> {tr, cells}
  let sortBy = "cpu";
  let values = new Map();
  const detail = document.getElementById("container-detail");
  const detailName = document.getElementById("container-detail-name");
  let selected = null;
  let charts = [];

  const facts = () => live.facts.containers;

  function cell(name) {
    return h("td", { class: `col-${name}` });
  }

  function addRow(name) {
    const cells = {
      name: cell("name"),
      state: h("span", { class: "badge", "data-testid": "container-state" }),
      health: h("span", { class: "badge", "data-testid": "container-health" }),
      cpu: cell("cpu"),
      mem: cell("mem"),
      net: cell("net"),
      io: cell("io"),
      pids: cell("pids"),
      uptime: cell("uptime"),
    };
    const tr = h(
      "tr",
      { "data-testid": "container-row", "data-container": name, class: "clickable", tabindex: "0" },
      cells.name,
      h("td", { class: "col-badges" }, cells.state, " ", cells.health),
      cells.cpu,
      cells.mem,
      cells.net,
      cells.io,
      cells.pids,
      cells.uptime,
    );
    rows.set(name, { tr, cells });
    const pick = () => select(selected === name ? null : name);
    tr.addEventListener("click", pick);
    tr.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        pick();
      }
    });
  }

  // The selected container's charts: built on select, then filled by the board's loader
  // (the history of the page's window) and, live, by each sample.
  function select(name) {
    for (const c of charts) c.destroy();
    charts = [];
    selected = name;
    for (const [n, r] of rows) r.tr.setAttribute("aria-selected", String(n === name));
    setHidden(detail, name === null);
    if (name === null) return;
    setText(detailName, ((facts() || {})[name] || {}).name || name);
    for (const spec of CHARTS) {
      const el = document.getElementById(`container-chart-${spec.id}`);
      el.replaceChildren();
      const series = spec.series.map((s) => ({ key: `container.${name}.${s.field}`, label: s.label, color: s.color, fill: s.fill }));
      charts.push(new TimeChart(board, el, { name: `container-${spec.id}`, label: `${spec.label} of ${name}`, unit: spec.unit, yMax: spec.yMax ?? null, height: 110, series }));
    }
    board.emit("reload", charts);
  }

  function fill(name, r) {
    const v = (f) => values.get(`container.${name}.${f}`);
    const f = (facts() || {})[name] || {};
    setText(r.cells.name, f.name || name);
    if (r.cells.name.title !== (f.image || "")) r.cells.name.title = f.image || "";
    setText(r.cells.state, f.state || "running");
    if (r.cells.state.dataset.state !== (f.state || "running")) r.cells.state.dataset.state = f.state || "running";
    setText(r.cells.health, f.health || "");
    setHidden(r.cells.health, !f.health);
    if (r.cells.health.dataset.health !== (f.health || "")) r.cells.health.dataset.health = f.health || "";
    setText(r.cells.cpu, pct(v("cpu")));
    const used = v("mem_used");
    setText(r.cells.mem, used === undefined ? DASH : `${bytes(used)} / ${bytes(v("mem_limit"))}`);
    setText(r.cells.net, `↓ ${rate(v("rx_bps"))} ↑ ${rate(v("tx_bps"))}`);
    setText(r.cells.io, `r ${rate(v("read_bps"))} w ${rate(v("write_bps"))}`);
    const pids = v("pids");
    setText(r.cells.pids, pids === undefined || pids === null ? DASH : String(pids));
    setText(r.cells.uptime, f.started_at ? duration(Date.now() / 1000 - f.started_at) : DASH);
  }

  function render() {
    const table = facts();
    setHidden(panel, table === undefined || table === null);
    // a container is shown while it has keys (the live truth); facts add its name and health
    const names = new Set();
    for (const k of values.keys()) {
      const pk = parseKey(k);
      if (pk && pk.family === "container" && pk.instance) names.add(pk.instance);
    }
    for (const [name, r] of rows) {
      if (!names.has(name)) {
        r.tr.remove();
        rows.delete(name);
        if (selected === name) select(null);
      }
    }
    for (const name of names) if (!rows.has(name)) addRow(name);
    for (const [name, r] of rows) fill(name, r);
    const key = SORTS[sortBy];
    const ordered = [...rows.keys()].sort((a, b) => {
      if (!key) return a.localeCompare(b);
      const va = key((f) => values.get(`container.${a}.${f}`)) ?? -1;
      const vb = key((f) => values.get(`container.${b}.${f}`)) ?? -1;
      return vb - va || a.localeCompare(b);
    });
    ordered.forEach((name, i) => {
      const tr = rows.get(name).tr;
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    const all = Object.values(table || {});
    const paused = all.filter((c) => c.state === "paused").length;
    const unhealthy = all.filter((c) => c.health === "unhealthy").length;
    const parts = [`${rows.size - paused} running`, paused && `${paused} paused`, unhealthy && `${unhealthy} unhealthy`];
    setText(count, rows.size ? parts.filter(Boolean).join(" · ") : "");
    setHidden(empty, rows.size > 0);
  }

  for (const b of buttons) {
    b.addEventListener("click", (ev) => {
      ev.preventDefault();
      sortBy = b.dataset.csort;
      for (const other of buttons) other.setAttribute("aria-pressed", String(other === b));
      render();
    });
  }
  live.on("hello", (msg) => {
    values = msg.values;
    render();
    if (selected !== null) select(selected);
  });
  live.on("sample", (msg) => {
    values = msg.values;
    render();
  });
  live.on("facts", render);
  setHidden(panel, true);
}

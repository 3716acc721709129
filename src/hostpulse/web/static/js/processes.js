// Top processes: a <details> panel. While it is open and the page visible, the page sends
// watch {panels: ["processes"]}; closed or hidden, watch {panels: []}. The table keeps a
// fixed pool of rows and rewrites only cells whose text changed.
import { h, setHidden, setText } from "./dom.js";
import { bytes, DASH } from "./format.js";

const COLUMNS = [
  ["pid", "PID"],
  ["name", "Name"],
  ["user", "User"],
  ["cpu", "CPU %"],
  ["mem", "Mem %"],
  ["rss", "RSS"],
  ["gpu", "GPU mem"], // shown only where rows carry gpu_mem (NVIDIA, through NVML)
  ["state", "State"],
  ["cmd", "Command"],
];

export function createProcesses(live) {
  const details = document.getElementById("processes-panel");
  const tbody = document.getElementById("processes-body");
  const count = document.getElementById("processes-count");
  const status = document.getElementById("processes-status");
  const gpuHead = document.getElementById("processes-gpu-head");
  const sortButtons = [...document.querySelectorAll("[data-sort]")];
  let sortBy = "cpu";
  let last = null;
  let watching = null;
  const pool = [];

  function rowAt(i) {
    while (pool.length <= i) {
      const cells = {};
      const tr = h("tr", { "data-testid": "process-row" });
      for (const [name] of COLUMNS) {
        cells[name] = h("td", { class: `col-${name}` });
        tr.append(cells[name]);
      }
      tbody.append(tr);
      pool.push({ tr, cells });
    }
    return pool[i];
  }

  // A cell's text from a field of a row: numbers fixed, strings as they are, others blank.
  const str = (v) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  const num = (v, digits) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : DASH);

  function renderRow(i, p, gpu) {
    const { tr, cells } = rowAt(i);
    setText(cells.pid, str(p.pid));
    setText(cells.name, str(p.name));
    setText(cells.user, str(p.user));
    setText(cells.cpu, num(p.cpu, 1));
    setText(cells.mem, num(p.mem_percent, 1));
    setText(cells.rss, typeof p.rss === "number" ? bytes(p.rss) : DASH);
    setHidden(cells.gpu, !gpu);
    setText(cells.gpu, typeof p.gpu_mem === "number" ? bytes(p.gpu_mem) : DASH);
    setText(cells.state, str(p.state));
    setText(cells.cmd, str(p.cmd));
    if (cells.cmd.title !== str(p.cmd)) cells.cmd.title = str(p.cmd);
    tr.hidden = false;
  }

  function render() {
    if (!last) return;
    const table = sortBy === "cpu" ? last.by_cpu : last.by_memory;
    const rows = Array.isArray(table) ? table : [];
    setText(count, typeof last.count === "number" ? `${last.count} processes` : "");
    const gpu = rows.some((p) => p !== null && typeof p === "object" && "gpu_mem" in p);
    setHidden(gpuHead, !gpu);
    // One bad row is skipped; the others are shown.
    let shown = 0;
    for (const p of rows) {
      if (p === null || typeof p !== "object") continue;
      try {
        renderRow(shown, p, gpu);
        shown += 1;
      } catch (err) {
        console.warn("hostpulse: process row skipped", err);
      }
    }
    for (let i = shown; i < pool.length; i++) pool[i].tr.hidden = true;
  }

  function updateWatch() {
    const want = details.open && document.visibilityState === "visible";
    if (want === watching) return;
    watching = want;
    live.watch(want ? ["processes"] : []);
    setText(status, want ? "waiting for data…" : "");
    if (!want) {
      last = null;
      for (const r of pool) r.tr.hidden = true;
      setText(count, "");
    }
  }

  for (const b of sortButtons) {
    b.addEventListener("click", (ev) => {
      ev.preventDefault();
      sortBy = b.dataset.sort;
      for (const other of sortButtons) other.setAttribute("aria-pressed", String(other === b));
      render();
    });
  }
  details.addEventListener("toggle", updateWatch);
  document.addEventListener("visibilitychange", updateWatch);
  live.on("processes", (msg) => {
    if (!watching || msg === null || typeof msg !== "object") return;
    last = msg;
    setText(status, "");
    render();
  });
  updateWatch();
}

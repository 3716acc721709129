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

  function render() {
    if (!last) return;
    const rows = (sortBy === "cpu" ? last.by_cpu : last.by_memory) || [];
    setText(count, typeof last.count === "number" ? `${last.count} processes` : "");
    const gpu = rows.some((p) => "gpu_mem" in p);
    setHidden(gpuHead, !gpu);
    rows.forEach((p, i) => {
      const { tr, cells } = rowAt(i);
      tr.hidden = false;
      setText(cells.pid, String(p.pid ?? ""));
      setText(cells.name, p.name ?? "");
      setText(cells.user, p.user ?? "");
      setText(cells.cpu, p.cpu === null || p.cpu === undefined ? DASH : p.cpu.toFixed(1));
      setText(cells.mem, p.mem_percent === null || p.mem_percent === undefined ? DASH : p.mem_percent.toFixed(1));
      setText(cells.rss, bytes(p.rss));
      setHidden(cells.gpu, !gpu);
      setText(cells.gpu, p.gpu_mem === null || p.gpu_mem === undefined ? DASH : bytes(p.gpu_mem));
      setText(cells.state, p.state ?? "");
      setText(cells.cmd, p.cmd ?? "");
      if (cells.cmd.title !== (p.cmd ?? "")) cells.cmd.title = p.cmd ?? "";
    });
    for (let i = rows.length; i < pool.length; i++) pool[i].tr.hidden = true;
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
    if (!watching) return;
    last = msg;
    setText(status, "");
    render();
  });
  updateWatch();
}

// Top processes: a <details> panel that remembers whether it is open (localStorage). While
// it is open and the page visible, the page sends watch {panels: ["processes"]}; closed or
// hidden, watch {panels: []}. Any column sorts (click its header; again to reverse), and a
// filter keeps the rows whose name or user holds the text. The table keeps a fixed pool of
// rows and rewrites only cells whose text changed, and only while it is in view (scrolled
// out of sight, the newest table is kept and shown when it comes back).
import { h, setHidden, setText } from "./dom.js";
import { bytes, DASH } from "./format.js";
import { filterRows, sortRows, unionRows } from "./sorting.js";

const OPEN_KEY = "hostpulse.processes.open";
const COLUMNS = ["pid", "name", "user", "cpu", "mem", "rss", "gpu", "state", "cmd"];
// The field of a row each column sorts by; text columns sort A–Z first.
const FIELD = { mem: "mem_percent", gpu: "gpu_mem" };
const TEXT = new Set(["name", "user", "state", "cmd"]);
const MAX_ROWS = 25; // of the union of the two top tables, after sorting and filtering

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage refused (a private window): the panel starts closed
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // not kept: nothing else depends on it
  }
}

export function createProcesses(live) {
  const details = document.getElementById("processes-panel");
  const tbody = document.getElementById("processes-body");
  const count = document.getElementById("processes-count");
  const status = document.getElementById("processes-status");
  const gpuHead = document.getElementById("processes-gpu-head");
  const filter = document.getElementById("processes-filter");
  const quick = [...document.querySelectorAll("[data-sort]")];
  const heads = [...document.querySelectorAll("[data-column]")];
  let sortBy = "cpu";
  let descending = true;
  let last = null;
  let watching = null;
  let inView = false;
  const pool = [];
  new IntersectionObserver((entries) => {
    inView = entries[entries.length - 1].isIntersecting;
    if (inView) render();
  }).observe(details);

  function rowAt(i) {
    while (pool.length <= i) {
      const cells = {};
      const tr = h("tr", { "data-testid": "process-row" });
      for (const name of COLUMNS) {
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
    if (!last || !inView) return;
    const all = unionRows(last.by_cpu, last.by_memory);
    const rows = sortRows(filterRows(all, filter.value), FIELD[sortBy] || sortBy, descending).slice(0, MAX_ROWS);
    setText(count, typeof last.count === "number" ? `${last.count} processes` : "");
    const gpu = all.some((p) => "gpu_mem" in p);
    setHidden(gpuHead, !gpu);
    // One bad row is skipped; the others are shown.
    let shown = 0;
    for (const p of rows) {
      try {
        renderRow(shown, p, gpu);
        shown += 1;
      } catch (err) {
        console.warn("hostpulse: process row skipped", err);
      }
    }
    for (let i = shown; i < pool.length; i++) pool[i].tr.hidden = true;
    setText(status, rows.length || !all.length ? "" : "no process matches the filter");
  }

  function sortOn(column, desc) {
    sortBy = column;
    descending = desc;
    for (const th of heads) th.setAttribute("aria-sort", th.dataset.column === column ? (desc ? "descending" : "ascending") : "none");
    const quickOf = { cpu: "cpu", rss: "memory" };
    for (const b of quick) b.setAttribute("aria-pressed", String(quickOf[column] === b.dataset.sort));
    render();
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

  for (const b of quick) {
    b.addEventListener("click", (ev) => {
      ev.preventDefault();
      sortOn(b.dataset.sort === "memory" ? "rss" : "cpu", true);
    });
  }
  for (const th of heads) {
    th.querySelector("button").addEventListener("click", () => {
      const column = th.dataset.column;
      sortOn(column, column === sortBy ? !descending : !TEXT.has(column));
    });
  }
  filter.addEventListener("input", render);
  details.open = stored(OPEN_KEY) === "1";
  details.addEventListener("toggle", () => {
    store(OPEN_KEY, details.open ? "1" : "0");
    updateWatch();
  });
  document.addEventListener("visibilitychange", updateWatch);
  live.on("processes", (msg) => {
    if (!watching || msg === null || typeof msg !== "object") return;
    last = msg;
    setText(status, "");
    render();
  });
  updateWatch();
}

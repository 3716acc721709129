// Wires the live connection, the view (time window, URL) and the board of charts to the
// panels and the header's connection indicator.
import { Live } from "./live.js";
import { Board } from "./board.js";
import { View } from "./view.js";
import { Loader } from "./loader.js";
import { createRangebar } from "./rangebar.js";
import { createCpu } from "./cpu.js";
import { createMemory } from "./memory.js";
import { createFilesystems } from "./filesystems.js";
import { createIo } from "./io.js";
import { createSensors } from "./sensors.js";
import { createSysinfo } from "./sysinfo.js";
import { createProcesses } from "./processes.js";
import { createMoment } from "./moment.js";
import { createGpus } from "./gpu.js";
import { createContainers } from "./containers.js";
import { setText } from "./dom.js";
import { ms } from "./format.js";

const LABELS = { connecting: "connecting…", connected: "connected", disconnected: "disconnected, retrying" };
const RANGE_REFRESH_MS = 60000; // a relative range (the last 24 h) moves on once a minute

function header(live) {
  const conn = document.getElementById("conn-state");
  const rtt = document.getElementById("rtt");
  const transport = document.getElementById("transport");
  const updated = document.getElementById("last-update");
  const banner = document.getElementById("server-error");

  live.on("conn", ({ state, rtt: r, transport: t }) => {
    if (conn.dataset.state !== state) conn.dataset.state = state;
    setText(conn, LABELS[state] || state);
    setText(rtt, state === "connected" && r !== null && r !== undefined ? ms(r) : "–");
    setText(transport, state === "connected" && t ? t : "");
    document.body.classList.toggle("is-offline", state !== "connected");
  });
  const stamp = (ts) => setText(updated, ts ? new Date(ts * 1000).toLocaleTimeString() : "–");
  live.on("hello", () => stamp(live.ts));
  live.on("sample", ({ ts }) => stamp(ts));

  let bannerTimer = null;
  live.on("error", (msg) => {
    setText(banner, `server: ${msg && msg.message ? msg.message : "error"}`);
    banner.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => {
      banner.hidden = true;
    }, 8000);
  });
}

/** The board follows the view: live appends samples; any other window is loaded whole. */
function wire(live, board, view, loader) {
  let started = false;
  // Live shows the keys of the sample; a past window also those the host had then.
  const loadAll = () => {
    board.live = view.live;
    board.emit("keys", view.live ? new Set(live.values.keys()) : loader.known());
    return loader.load();
  };
  board.on("zoom", (a, b) => view.zoom(a, b));
  board.on("reset", () => {
    if (view.zoomed) view.resetZoom();
  });
  board.on("reload", (charts) => {
    if (started) loader.load(charts);
  });
  view.on(() => {
    if (started) loadAll();
  });
  live.on("hello", async ({ history }) => {
    // First paint from the hello's history (the overview keys), then every chart's keys.
    if (view.live && history) for (const c of board.charts.values()) if (c.keys.some((k) => history.series && k in history.series)) c.setHistory(history);
    await loader.fetchKeys();
    started = true;
    loadAll();
  });
  live.on("sample", ({ ts, values }) => {
    loader.note(ts, values);
    if (view.live) for (const c of board.charts.values()) c.push(ts, values);
  });
  setInterval(() => {
    if (started && view.current.kind === "range" && document.visibilityState === "visible") loadAll();
  }, RANGE_REFRESH_MS);
}

function start() {
  if (typeof window.io !== "function" || typeof window.uPlot !== "function") {
    const el = document.getElementById("conn-state");
    el.dataset.state = "error";
    // The server names the missing files and the fix in a banner (web/assets.py).
    setText(el, "cannot run: browser files missing");
    return;
  }
  const host = document.body.dataset.host;
  // A multi-host server names the host in the page (/host/<id>); one host needs no name.
  const live = new Live({ host: document.body.dataset.fleet ? host : null });
  const board = new Board();
  const view = new View(() => live.serverNow());
  const loader = new Loader({ host, board, view, current: () => live.values.keys() });
  // For tests, debugging and other parts of the page (the alerts UI draws markers).
  window.hostpulse = {
    live,
    board,
    view,
    loader,
    setMarkers: (list) => board.setMarkers(list),
    charts: () => [...board.charts.values()].map((c) => c.summary()),
  };

  header(live);
  createSysinfo(live);
  createCpu(live, board);
  createMemory(live, board);
  createFilesystems(live, board);
  createIo(live, board);
  createSensors(live, board);
  createProcesses(live);
  createMoment(board, host);
  createGpus(live, board);
  createContainers(live, board);
  createRangebar({ view, board, loader });
  wire(live, board, view, loader);
}

start();

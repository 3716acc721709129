// Wires the live connection to the panels and the header's connection indicator.
import { Live } from "./live.js";
import { createCpu } from "./cpu.js";
import { createMemory } from "./memory.js";
import { createFilesystems } from "./filesystems.js";
import { createIo } from "./io.js";
import { createSysinfo } from "./sysinfo.js";
import { createProcesses } from "./processes.js";
import { createGpus } from "./gpu.js";
import { createContainers } from "./containers.js";
import { setText } from "./dom.js";
import { ms } from "./format.js";

const LABELS = { connecting: "connecting…", connected: "connected", disconnected: "disconnected, retrying" };

function start() {
  if (typeof window.io !== "function" || typeof window.uPlot !== "function") {
    const el = document.getElementById("conn-state");
    el.dataset.state = "error";
    // The server names the missing files and the fix in a banner (web/assets.py).
    setText(el, "cannot run: browser files missing");
    return;
  }
  // A multi-host server names the host in the page (/host/<id>); one host needs no name.
  const live = new Live({ host: document.body.dataset.fleet ? document.body.dataset.host : null });
  // For tests and debugging: the socket (transport: hostpulse.live.socket.io.engine.transport.name).
  window.hostpulse = { live };

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

  createSysinfo(live);
  createCpu(live);
  createMemory(live);
  createFilesystems(live);
  createIo(live);
  createProcesses(live);
  createGpus(live);
  createContainers(live);
}

start();

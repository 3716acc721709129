// The overview of all hosts (docs/PROTOCOL.md, `overview`): one card per host, one update
// message a second for all of them. Cards are built once and updated in place; the small
// charts are SVG polylines of the last 60 points; filter and sort run at most once a tick.
import { h, setText, setBar, setHidden } from "./dom.js";
import { pct, rate } from "./format.js";

const POINTS = 60;
const SVG = "http://www.w3.org/2000/svg";
const STATUS_ORDER = { offline: 0, stale: 1, starting: 2, online: 3 };
const SERIES = { cpu: "cpu.total", mem: "mem.percent", rx: "net.total.rx_bps", tx: "net.total.tx_bps" };

const cards = new Map(); // id -> {el, parts, summary, spark: {cpu: [], ...}, lastSeen}
const grid = document.getElementById("ov-grid");
const filter = document.getElementById("ov-filter");
const statusSel = document.getElementById("ov-status");
const sortSel = document.getElementById("ov-sort");
let layoutDue = true;

function spark(kinds) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "ov-spark");
  svg.setAttribute("viewBox", `0 0 ${POINTS - 1} 100`);
  svg.setAttribute("preserveAspectRatio", "none");
  const lines = {};
  for (const k of kinds) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", k);
    svg.append(line);
    lines[k] = line;
  }
  return { svg, lines };
}

function draw(line, values, max) {
  const pts = [];
  const offset = POINTS - values.length;
  values.forEach((v, i) => {
    if (v !== null && v !== undefined) pts.push(`${offset + i},${(100 - (100 * v) / (max || 1)).toFixed(1)}`);
  });
  line.setAttribute("points", pts.join(" "));
}

function build(id) {
  const name = h("span", { class: "ov-name", text: id });
  const status = h("span", { class: "ov-status", "data-testid": "ov-card-status" });
  const cpuNum = h("span", { class: "num", "data-testid": "ov-cpu" });
  const memNum = h("span", { class: "num", "data-testid": "ov-mem" });
  const netNum = h("span", { class: "num" });
  const gpuNum = h("span", { class: "num", "data-testid": "ov-gpu" });
  const gpuRow = h("div", { class: "ov-row", hidden: true }, h("span", { text: "GPU" }), gpuNum, h("span"));
  const usage = spark(["cpu", "mem"]);
  const net = spark(["rx", "tx"]);
  const fsText = h("span", { class: "ov-fs" });
  const ctr = h("span", { class: "ov-containers muted small", "data-testid": "ov-containers", hidden: true });
  const fsBar = h("div", { class: "bar-fill" });
  const el = h(
    "a",
    { class: "ov-card", href: `/host/${encodeURIComponent(id)}`, "data-testid": "ov-card", "data-host": id },
    h("div", { class: "ov-head" }, name, status),
    h("div", { class: "ov-row" }, h("span", { text: "CPU" }), cpuNum, usage.svg),
    h("div", { class: "ov-row" }, h("span", { text: "mem" }), memNum, h("span")),
    gpuRow,
    h("div", { class: "ov-row" }, h("span", { text: "net" }), netNum, net.svg),
    fsText,
    h("div", { class: "bar" }, fsBar),
    ctr,
  );
  const card = { el, parts: { status, cpuNum, memNum, netNum, gpuNum, gpuRow, usage, net, fsText, fsBar, ctr }, summary: {}, spark: { cpu: [], mem: [], rx: [], tx: [] }, lastSeen: null };
  cards.set(id, card);
  grid.append(el);
  layoutDue = true;
  return card;
}

function push(card, s) {
  if (s.last_seen === card.lastSeen) return;
  card.lastSeen = s.last_seen;
  for (const k of Object.keys(card.spark)) {
    card.spark[k].push(s[k] ?? null);
    if (card.spark[k].length > POINTS) card.spark[k].shift();
  }
}

function render(card) {
  const s = card.summary;
  const p = card.parts;
  if (card.el.dataset.status !== s.status) {
    card.el.dataset.status = s.status;
    layoutDue = true;
  }
  setText(p.status, s.status);
  setText(p.cpuNum, pct(s.cpu));
  setText(p.memNum, pct(s.mem));
  setHidden(p.gpuRow, s.gpu === null || s.gpu === undefined);
  setText(p.gpuNum, pct(s.gpu));
  setText(p.netNum, rate((s.rx ?? 0) + (s.tx ?? 0)));
  setText(p.fsText, s.fs ? `${s.fs[0]} ${pct(s.fs[1])}` : "no filesystem");
  setBar(p.fsBar, s.fs ? s.fs[1] : null);
  // containers: [running, unhealthy], absent without an engine socket
  p.ctr.hidden = !s.containers;
  if (s.containers) setText(p.ctr, `${s.containers[0]} containers running` + (s.containers[1] ? ` · ${s.containers[1]} unhealthy` : ""));
  if (p.ctr.dataset.unhealthy !== String(!!(s.containers && s.containers[1]))) p.ctr.dataset.unhealthy = String(!!(s.containers && s.containers[1]));
  draw(p.usage.lines.cpu, card.spark.cpu, 100);
  draw(p.usage.lines.mem, card.spark.mem, 100);
  const netMax = Math.max(1, ...card.spark.rx.map((v) => v ?? 0), ...card.spark.tx.map((v) => v ?? 0));
  draw(p.net.lines.rx, card.spark.rx, netMax);
  draw(p.net.lines.tx, card.spark.tx, netMax);
}

function layout() {
  const text = filter.value.trim().toLowerCase();
  const wanted = statusSel.value;
  const key = sortSel.value;
  const alertsOnly = document.body.classList.contains("ov-alerts-only"); // alerts-overview.js
  const list = [...cards.entries()];
  let shown = 0;
  const counts = {};
  for (const [id, card] of list) {
    const s = card.summary;
    counts[s.status] = (counts[s.status] || 0) + 1;
    const match = (!text || id.toLowerCase().includes(text) || (s.hostname || "").toLowerCase().includes(text)) && (!wanted || s.status === wanted) && (!alertsOnly || card.el.dataset.alerts !== undefined);
    if (card.el.hidden === match) card.el.hidden = !match;
    if (match) shown += 1;
  }
  list.sort(([a, ca], [b, cb]) => {
    if (key === "status") return (STATUS_ORDER[ca.summary.status] ?? 9) - (STATUS_ORDER[cb.summary.status] ?? 9) || a.localeCompare(b);
    if (key === "cpu" || key === "mem") return (cb.summary[key] ?? -1) - (ca.summary[key] ?? -1) || a.localeCompare(b);
    return a.localeCompare(b);
  });
  list.forEach(([, card], i) => {
    if (grid.children[i] !== card.el) grid.insertBefore(card.el, grid.children[i] || null);
  });
  setText(document.getElementById("host-count"), `(${cards.size})`);
  setText(document.getElementById("ov-counts"), `${shown} shown · ` + Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(" · "));
  layoutDue = false;
}

function onOverview(msg) {
  if (!msg || typeof msg !== "object") return;
  if (msg.full) {
    for (const [id, card] of cards) if (!(id in msg.hosts)) { card.el.remove(); cards.delete(id); }
    for (const [id, hist] of Object.entries(msg.history || {})) {
      const card = cards.get(id) || build(id);
      for (const [k, series] of Object.entries(SERIES)) card.spark[k] = (hist[series] || []).slice(-POINTS);
    }
  }
  for (const [id, s] of Object.entries(msg.hosts || {})) {
    const card = cards.get(id) || build(id);
    if (!msg.full) push(card, s);
    else card.lastSeen = s.last_seen;
    if (card.summary.cpu !== s.cpu || card.summary.mem !== s.mem) layoutDue ||= sortSel.value === "cpu" || sortSel.value === "mem";
    card.summary = s;
    render(card);
  }
  for (const id of msg.gone || []) {
    const card = cards.get(id);
    if (card) { card.el.remove(); cards.delete(id); }
  }
  if (layoutDue) layout();
}

function start() {
  const conn = document.getElementById("conn-state");
  if (typeof window.io !== "function") {
    conn.dataset.state = "error";
    setText(conn, "cannot run: browser files missing");
    return;
  }
  const socket = window.io("/live", { transports: ["websocket", "polling"], tryAllTransports: true, auth: { overview: true }, reconnectionDelayMax: 5000 });
  window.hostpulse = { socket, cards };
  const state = (s, label) => { conn.dataset.state = s; setText(conn, label); document.body.classList.toggle("is-offline", s !== "connected"); };
  socket.on("connect", () => state("connected", "connected"));
  socket.on("disconnect", (reason) => {
    state("disconnected", "disconnected, retrying");
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
  });
  socket.on("connect_error", () => state("disconnected", "disconnected, retrying"));
  socket.on("overview", onOverview);
  for (const el of [filter, statusSel, sortSel]) el.addEventListener("input", layout);
}

start();

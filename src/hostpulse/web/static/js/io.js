// Disk I/O and network throughput: one chart each, the host total by default and a <select>
// to pick one disk or interface. A picked instance's recent past comes from the REST history
// endpoint; when that is absent, from what this page has seen since it loaded.
import { RollingChart } from "./charts.js";
import { h, setText } from "./dom.js";
import { rate, bytesShort, parseKey } from "./format.js";

const MAX_POINTS = 300;

/** A small local ring of every *_bps series of one family, aligned on sample timestamps. */
class LocalHistory {
  constructor() {
    this.reset();
  }
  reset() {
    this.ts = [];
    this.series = new Map();
  }
  seed(history) {
    this.reset();
    if (!history || !Array.isArray(history.ts)) return;
    this.ts = history.ts.slice(-MAX_POINTS);
    const n = this.ts.length;
    for (const [k, arr] of Object.entries(history.series || {})) {
      if (Array.isArray(arr)) this.series.set(k, arr.slice(-n));
    }
  }
  push(ts, values, match) {
    if (this.ts.length && ts <= this.ts[this.ts.length - 1]) return;
    this.ts.push(ts);
    const n = this.ts.length;
    for (const [k, v] of values) {
      if (!match(k)) continue;
      if (!this.series.has(k)) this.series.set(k, new Array(n - 1).fill(null));
    }
    for (const [k, arr] of this.series) arr.push(values.has(k) ? values.get(k) : null);
    if (n > MAX_POINTS) {
      this.ts.shift();
      for (const arr of this.series.values()) arr.shift();
    }
  }
  view(keys) {
    return { ts: this.ts, series: Object.fromEntries(keys.map((k) => [k, this.series.get(k) || []])) };
  }
}

function panel(live, cfg) {
  const select = document.getElementById(`${cfg.family}-select`);
  const [nowA, nowB] = cfg.fields.map((f) => document.getElementById(`${cfg.family}-${f.replace(/_bps$/, "")}`));
  const local = new LocalHistory();
  const options = new Map(); // instance -> <option>
  let selected = "total";
  let fetchToken = 0;

  const keysFor = (inst) => cfg.fields.map((f) => `${cfg.family}.${inst}.${f}`);
  const isMine = (k) => k.startsWith(`${cfg.family}.`) && k.endsWith("_bps");

  const chart = new RollingChart(document.getElementById(`${cfg.family}-chart`), {
    series: cfg.fields.map((f, i) => ({ key: keysFor("total")[i], label: cfg.labels[i], color: cfg.colors[i], fill: i === 0 })),
    maxPoints: MAX_POINTS,
    fmt: rate,
    axisFmt: bytesShort,
  });

  function syncOptions(values, keys) {
    for (const k of keys) {
      const pk = parseKey(k);
      if (!pk || pk.family !== cfg.family || !pk.instance || pk.instance === "total") continue;
      if (!cfg.fields.includes(pk.field) || options.has(pk.instance)) continue;
      const opt = h("option", { value: pk.instance }, pk.instance);
      const after = [...options.keys()].filter((i) => i > pk.instance).sort()[0];
      select.insertBefore(opt, after === undefined ? null : options.get(after));
      options.set(pk.instance, opt);
    }
  }

  function removeGone(values, gone) {
    for (const k of gone) {
      const pk = parseKey(k);
      if (!pk || pk.family !== cfg.family || !options.has(pk.instance)) continue;
      if (keysFor(pk.instance).some((key) => values.has(key))) continue;
      options.get(pk.instance).remove();
      options.delete(pk.instance);
      local.series.delete(k);
      if (selected === pk.instance) {
        select.value = "total";
        choose("total");
      }
    }
  }

  function showNow(values) {
    const [a, b] = keysFor(selected);
    setText(nowA, rate(values.get(a)));
    setText(nowB, rate(values.get(b)));
  }

  async function choose(inst) {
    selected = inst;
    const keys = keysFor(inst);
    chart.setKeys(keys);
    chart.setHistory(local.view(keys));
    showNow(live.values);
    if (inst === "total" || !live.host) return;
    const token = ++fetchToken;
    try {
      const url = `/api/v1/hosts/${encodeURIComponent(live.host)}/history?keys=${keys.map(encodeURIComponent).join(",")}&since=-300&step=1`;
      const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) return; // endpoint absent or refused: keep the local history
      const body = await resp.json();
      if (token !== fetchToken || !body || !Array.isArray(body.ts) || body.ts.length === 0) return;
      // REST history up to now, then whatever arrived live after its last point
      chart.setHistory(body);
      const lastTs = body.ts[body.ts.length - 1];
      local.ts.forEach((t, i) => {
        if (t > lastTs) chart.push(t, keys.map((k) => (local.series.get(k) || [])[i] ?? null));
      });
    } catch (err) {
      // network error or not JSON: the local history stays
    }
  }

  select.addEventListener("change", () => choose(select.value));

  live.on("hello", ({ values, history }) => {
    for (const opt of options.values()) opt.remove();
    options.clear();
    local.seed(history);
    if (live.ready) local.push(live.ts, values, isMine);
    syncOptions(values, values.keys());
    if (selected !== "total" && !options.has(selected)) select.value = "total";
    choose(select.value || "total");
  });
  live.on("sample", ({ ts, values, changed, gone, full }) => {
    removeGone(values, gone);
    syncOptions(values, full ? values.keys() : changed);
    local.push(ts, values, isMine);
    chart.pushFrom(ts, values);
    showNow(values);
  });
}

// Element ids follow the family: `${family}-select`, `${family}-chart`, and one
// `${family}-${field without _bps}` for each current value (e.g. disk-read, net-rx).
export function createIo(live) {
  panel(live, { family: "disk", fields: ["read_bps", "write_bps"], labels: ["Read", "Write"], colors: ["--c-read", "--c-write"] });
  panel(live, { family: "net", fields: ["rx_bps", "tx_bps"], labels: ["Receive", "Send"], colors: ["--c-rx", "--c-tx"] });
}

// System information: the host's facts (hello / host events) and a live uptime.
import { h, setText } from "./dom.js";
import { bytes, dateTime, duration, DASH } from "./format.js";

export function createSysinfo(live) {
  const el = (id) => document.getElementById(id);
  const uptime = el("uptime");
  const addresses = el("addresses");
  let bootEpoch = null;

  function show(facts) {
    const f = facts || {};
    const text = (id, v) => setText(el(id), v === undefined || v === null || v === "" ? DASH : String(v));
    text("hostname", f.hostname);
    text("fqdn", f.fqdn);
    text("os", f.os_pretty);
    text("kernel", [f.kernel, f.arch].filter(Boolean).join(" · "));
    text("virt", f.virtualization || "none");
    text("cpu-model", f.cpu_model);
    const cores = [
      f.cores_physical != null ? `${f.cores_physical} physical` : null,
      f.cores_logical != null ? `${f.cores_logical} logical` : null,
    ].filter(Boolean);
    text("cpu-cores-info", cores.join(" / "));
    text("mem-total-info", f.mem_total != null ? bytes(f.mem_total) : null);
    bootEpoch = typeof f.boot_time_epoch === "number" ? f.boot_time_epoch : f.boot_time ? Date.parse(f.boot_time) / 1000 : null;
    text("boot-time", bootEpoch ? dateTime(bootEpoch) : f.boot_time);
    text("python-version", f.python_version);
    text("hostpulse-version", f.hostpulse_version);

    // Addresses change rarely (only with a `host` event): rebuild that small list then.
    const items = (f.addresses || [])
      .filter((a) => a && a.address)
      .map((a) => h("li", { class: "addr" }, h("span", { class: "addr-if muted" }, a.interface || ""), h("span", { class: "addr-ip" }, a.address)));
    addresses.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, DASH)]));
    tick();

    const host = live.host || f.hostname; // the id the host is shown under (default: hostname)
    if (host) {
      setText(el("host-title"), host);
      document.title = `${host} · hostpulse`;
    }
  }

  function tick() {
    setText(uptime, bootEpoch ? duration(live.serverNow() - bootEpoch) : DASH);
  }

  live.on("hello", ({ facts }) => show(facts));
  live.on("facts", (facts) => show(facts));
  setInterval(tick, 1000);
}

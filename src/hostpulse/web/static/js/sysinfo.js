// System information: the host's facts (hello / host events) and a live uptime.
import { h, setText } from "./dom.js";
import { bytes, dateTime, duration, DASH } from "./format.js";
import { objectOr } from "./live.js";

export function createSysinfo(live) {
  const el = (id) => document.getElementById(id);
  const uptime = el("uptime");
  const addresses = el("addresses");
  let bootEpoch = null;

  function show(facts) {
    const f = objectOr(facts);
    // The title first: whatever the facts hold, the page says which host it shows.
    const host = live.host || (typeof f.hostname === "string" ? f.hostname : null);
    if (host) {
      setText(el("host-title"), host);
      document.title = `${host} · hostpulse`;
    }
    // Only strings and numbers are shown; a fact of another type shows as missing.
    const shown = (v) => (typeof v === "string" && v !== "") || (typeof v === "number" && Number.isFinite(v));
    const text = (id, v) => setText(el(id), shown(v) ? String(v) : DASH);
    const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
    text("hostname", f.hostname);
    text("fqdn", f.fqdn);
    text("os", f.os_pretty);
    text("kernel", [f.kernel, f.arch].filter(shown).join(" · "));
    text("virt", shown(f.virtualization) ? f.virtualization : "none");
    text("cpu-model", f.cpu_model);
    const cores = [
      num(f.cores_physical) != null ? `${f.cores_physical} physical` : null,
      num(f.cores_logical) != null ? `${f.cores_logical} logical` : null,
    ].filter(Boolean);
    text("cpu-cores-info", cores.join(" / "));
    text("mem-total-info", num(f.mem_total) != null ? bytes(f.mem_total) : null);
    const parsed = typeof f.boot_time === "string" ? Date.parse(f.boot_time) / 1000 : NaN;
    bootEpoch = num(f.boot_time_epoch) ?? (Number.isFinite(parsed) ? parsed : null);
    text("boot-time", bootEpoch ? dateTime(bootEpoch) : f.boot_time);
    text("python-version", f.python_version);
    text("hostpulse-version", f.hostpulse_version);

    // Addresses change rarely (only with a `host` event): rebuild that small list then.
    const items = (Array.isArray(f.addresses) ? f.addresses : [])
      .filter((a) => a && shown(a.address))
      .map((a) => h("li", { class: "addr" }, h("span", { class: "addr-if muted" }, shown(a.interface) ? a.interface : ""), h("span", { class: "addr-ip" }, a.address)));
    addresses.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, DASH)]));
    tick();
  }

  function tick() {
    setText(uptime, bootEpoch ? duration(live.serverNow() - bootEpoch) : DASH);
  }

  live.on("hello", ({ facts }) => show(facts));
  live.on("facts", (facts) => show(facts));
  // With each sample, not on a timer of its own: one page update a second, not two.
  live.on("sample", tick);
}

// Filesystems panel: one usage bar per mount (fs.<mount>.{used,total,percent}), with the
// device and type from facts.filesystems. Rows are added when a mount appears and removed
// when its keys are gone. Over the board's window: the chosen mount's used and free space
// (stacked: together they are its size); clicking a row chooses it.
import { TimeChart } from "./timechart.js";
import { Chooser, offeredKeys } from "./choosers.js";
import { h, setText, setBar } from "./dom.js";
import { bytes, pct, parseKey } from "./format.js";

export function createFilesystems(live, board) {
  const list = document.getElementById("fs-list");
  const empty = document.getElementById("fs-empty");
  const rows = new Map(); // mount -> {row, fill, used, total, pct, device}
  const chart = new TimeChart(board, document.getElementById("fs-chart"), {
    name: "fs",
    label: "Filesystem",
    unit: "B",
    series: [
      { key: "fs./.used", field: "used", label: "used", color: "--c-mem", stack: true },
      { key: "fs./.free", field: "free", label: "free", color: "--c-rx", stack: true },
    ],
  });
  const chooser = new Chooser(document.getElementById("fs-select"), { family: "fs", field: "used", onChange: (m) => choose(m) });
  let chosen = null;

  function choose(mount) {
    if (mount === chosen) return;
    chosen = mount;
    chooser.value = mount;
    chart.setKeys(["used", "free"].map((f) => `fs.${mount}.${f}`));
    for (const [m, r] of rows) r.row.setAttribute("aria-selected", String(m === mount));
    board.emit("reload", [chart]);
  }

  function syncChooser() {
    chooser.sync(offered());
    if (chosen === null || !chooser.has(chosen) || chosen === "total") {
      const first = chooser.options.has("/") ? "/" : [...chooser.options.keys()][0];
      if (first !== undefined) choose(first);
    }
  }

  const offered = offeredKeys(live, board, syncChooser);

  function describe(mount) {
    const f = (live.facts.filesystems || {})[mount];
    if (!f) return "";
    return [f.device, f.fstype].filter(Boolean).join(" · ");
  }

  function addRow(mount) {
    const fill = h("div", { class: "bar-fill" });
    const r = {
      fill,
      used: h("span", { class: "num" }),
      total: h("span", { class: "num" }),
      pct: h("span", { class: "fs-pct num" }),
      device: h("span", { class: "fs-device muted" }, describe(mount)),
    };
    r.row = h(
      "li",
      { class: "fs", "data-testid": "fs-row", "data-mount": mount, "aria-selected": String(mount === chosen) },
      h("div", { class: "fs-head" }, h("span", { class: "fs-mount", title: mount }, mount), r.device, r.pct),
      h("div", { class: "bar" }, fill),
      h("div", { class: "fs-foot muted" }, r.used, " of ", r.total),
    );
    const after = [...rows.keys()].filter((m) => m > mount).sort()[0];
    list.insertBefore(r.row, after === undefined ? null : rows.get(after).row);
    r.row.addEventListener("click", () => choose(mount));
    rows.set(mount, r);
    empty.hidden = true;
  }

  function update(mount, values) {
    const r = rows.get(mount);
    const get = (f) => values.get(`fs.${mount}.${f}`);
    let p = get("percent");
    const used = get("used");
    const total = get("total");
    if ((p === undefined || p === null) && used != null && total) p = (100 * used) / total;
    setBar(r.fill, p);
    setText(r.pct, pct(p));
    setText(r.used, bytes(used));
    setText(r.total, bytes(total));
  }

  function apply(values, keys) {
    const mounts = new Set();
    for (const k of keys) {
      const pk = parseKey(k);
      if (pk && pk.family === "fs" && pk.instance) mounts.add(pk.instance);
    }
    for (const m of mounts) {
      if (!rows.has(m)) {
        // a row exists only while the mount has at least one key
        if (!["used", "total", "percent"].some((f) => values.has(`fs.${m}.${f}`))) continue;
        addRow(m);
      }
      update(m, values);
    }
  }

  function removeGone(values, gone) {
    for (const k of gone) {
      const pk = parseKey(k);
      if (!pk || pk.family !== "fs" || !rows.has(pk.instance)) continue;
      const m = pk.instance;
      if (!["used", "total", "percent"].some((f) => values.has(`fs.${m}.${f}`))) {
        rows.get(m).row.remove();
        rows.delete(m);
      }
    }
    empty.hidden = rows.size > 0;
  }

  live.on("hello", ({ values }) => {
    for (const r of rows.values()) r.row.remove();
    rows.clear();
    apply(values, values.keys());
    empty.hidden = rows.size > 0;
    syncChooser();
  });
  live.on("sample", ({ values, changed, gone, full }) => {
    removeGone(values, gone);
    apply(values, full ? values.keys() : changed);
    if (full || gone.length) syncChooser();
  });
  live.on("facts", () => {
    for (const [m, r] of rows) setText(r.device, describe(m));
  });
}

// "Which process did it": a click on any chart (or Enter on a focused one) asks
// GET /api/v1/hosts/<id>/processes?at=<ts> (docs/API.md) and shows the stored top processes
// of that moment in a panel beside the charts, sortable and filterable like the live table.
import { h, setHidden, setText } from "./dom.js";
import { bytes, DASH } from "./format.js";
import { filterRows, sortRows } from "./sorting.js";
import { clock, day } from "./timefmt.js";

// The columns; each process's command gets a line of its own under them: the panel is too
// narrow for a column that would show more than its first letters.
const COLUMNS = ["pid", "name", "user", "cpu", "rss"];

function cell(p, c) {
  const v = p[c];
  if (c === "rss") return typeof v === "number" ? bytes(v) : DASH;
  if (c === "cpu") return typeof v === "number" ? v.toFixed(1) : DASH;
  return typeof v === "string" || typeof v === "number" ? String(v) : "";
}

const when = (ts) => `${day(ts)} ${clock(ts)}`;

export function createMoment(board, host) {
  const panel = document.getElementById("moment-panel");
  const title = document.getElementById("moment-title");
  const status = document.getElementById("moment-status");
  const tbody = document.getElementById("moment-body");
  const filter = document.getElementById("moment-filter");
  const heads = [...panel.querySelectorAll("[data-mcolumn]")];
  let rows = [];
  let sortBy = "cpu";
  let descending = true;
  let serial = 0;

  function render() {
    const shown = sortRows(filterRows(rows, filter.value), sortBy, descending);
    tbody.replaceChildren(
      ...shown.flatMap((p) => [
        h("tr", { class: "moment-proc", "data-testid": "moment-row" }, ...COLUMNS.map((c) => h("td", { class: `col-${c}` }, cell(p, c)))),
        h("tr", { class: "moment-cmd" }, h("td", { colspan: COLUMNS.length, class: "col-cmd", "data-testid": "moment-cmd" }, cell(p, "cmd"))),
      ]),
    );
  }

  async function show(ts) {
    const mine = ++serial;
    if (ts === null || ts === undefined) {
      panel.hidden = true;
      document.body.classList.remove("has-moment");
      return;
    }
    panel.hidden = false;
    document.body.classList.add("has-moment");
    panel.dataset.at = String(Math.round(ts));
    setText(title, `Processes at ${when(ts)}`);
    setText(status, "loading…");
    rows = [];
    render();
    let answer = null;
    try {
      const resp = await fetch(`/api/v1/hosts/${encodeURIComponent(host)}/processes?at=${Math.round(ts)}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      answer = { ok: resp.ok, status: resp.status, body: await resp.json().catch(() => null) };
    } catch (err) {
      answer = { ok: false, status: 0, body: { error: String(err) } };
    }
    if (mine !== serial) return; // another moment was asked meanwhile
    const body = answer.body || {};
    if (!answer.ok) {
      const why = answer.status === 404 ? "no process table stored at or before this moment" : body.error || `the server answered ${answer.status}`;
      setText(status, why);
      return;
    }
    rows = (Array.isArray(body.rows) ? body.rows : []).filter((p) => p && typeof p === "object");
    panel.dataset.tableTs = String(body.ts);
    setText(status, typeof body.ts === "number" ? `table read at ${when(body.ts)} · ${rows.length} processes` : "");
    render();
  }

  for (const th of heads) {
    th.querySelector("button").addEventListener("click", () => {
      const column = th.dataset.mcolumn;
      descending = column === sortBy ? !descending : !["name", "user", "cmd"].includes(column);
      sortBy = column;
      for (const other of heads) other.setAttribute("aria-sort", other === th ? (descending ? "descending" : "ascending") : "none");
      render();
    });
  }
  filter.addEventListener("input", render);
  document.getElementById("moment-close").addEventListener("click", () => show(null));
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !panel.hidden) show(null);
  });
  board.on("moment", (ts) => show(ts));
  setHidden(panel, true);
  return { show };
}

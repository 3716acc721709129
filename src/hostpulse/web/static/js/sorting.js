// Sorting and filtering process rows, shared by the live table and the one of a moment.

/** A copy of ``rows`` sorted by ``column``; missing values last, and in a column of numbers
 * anything that is not one (a bad row) last too. */
export function sortRows(rows, column, descending) {
  const numeric = (v) => typeof v === "number" && Number.isFinite(v);
  const numbers = rows.some((p) => numeric(p[column]));
  const absent = (v) => v === null || v === undefined || (numbers && !numeric(v));
  return [...rows].sort((a, b) => {
    const x = a[column];
    const y = b[column];
    const mx = absent(x);
    const my = absent(y);
    if (mx || my) return mx && my ? 0 : mx ? 1 : -1;
    const order = numeric(x) && numeric(y) ? x - y : String(x).localeCompare(String(y));
    return descending ? -order : order;
  });
}

/** Rows whose name or user holds ``text`` (case-insensitive); all of them for "". */
export function filterRows(rows, text) {
  const needle = text.trim().toLowerCase();
  if (!needle) return rows;
  const has = (v) => typeof v === "string" && v.toLowerCase().includes(needle);
  return rows.filter((p) => has(p.name) || has(p.user));
}

/** The rows of two top tables (by CPU, by memory) once each, by pid. */
export function unionRows(...tables) {
  const seen = new Map();
  for (const table of tables) {
    for (const p of Array.isArray(table) ? table : []) {
      if (p === null || typeof p !== "object") continue;
      const id = typeof p.pid === "number" ? p.pid : `row${seen.size}`;
      if (!seen.has(id)) seen.set(id, p);
    }
  }
  return [...seen.values()];
}

// Tiny DOM helpers. Updates write only when the value differs, so a tick touches
// only what changed; nothing here uses innerHTML or inline style attributes.

/** Create an element: h("div", {class: "x", "data-testid": "y"}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Set textContent only when it changes. */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** Set a bar's fill (0..100 %) through the CSSOM (allowed under a strict CSP). A scale,
 * not a width: it moves without laying the page out again, every tick, for every bar. */
export function setBar(el, percent) {
  if (!el) return;
  const p = percent === null || percent === undefined || Number.isNaN(percent) ? 0 : Math.max(0, Math.min(100, percent));
  const scale = `scaleX(${(p / 100).toFixed(3)})`;
  if (el.style.transform !== scale) el.style.transform = scale;
  const level = p >= 90 ? "crit" : p >= 75 ? "warn" : "ok";
  if (el.dataset.level !== level) el.dataset.level = level;
}

/** A horizontal usage bar: <div class="bar"><div class="bar-fill"></div></div>. */
export function bar(testid) {
  const fill = h("div", { class: "bar-fill" });
  const track = h("div", { class: "bar", "data-testid": testid }, fill);
  return { track, fill };
}

/** Toggle an element's hidden state only when it changes. */
export function setHidden(el, hidden) {
  if (el && el.hidden !== hidden) el.hidden = hidden;
}

// A <select> of a family's instances (disks, interfaces, mounts), kept in step with the
// keys the host has: sorted, "total" first where the family has one.
import { h } from "./dom.js";
import { parseKey } from "./format.js";

export class Chooser {
  /**
   * @param select the <select>
   * @param family "disk" | "net" | "fs"
   * @param field a field every instance has (e.g. "read_bps")
   * @param hide (instance) => true to leave it out (an interface that is down)
   */
  constructor(select, { family, field, hide = () => false, onChange }) {
    this.select = select;
    this.family = family;
    this.field = field;
    this.hide = hide;
    this.options = new Map(); // instance -> <option>
    select.addEventListener("change", () => onChange(select.value));
  }

  get value() {
    return this.select.value;
  }

  set value(v) {
    this.select.value = v;
  }

  /** Offer exactly the instances of ``keys`` (that are not hidden); true when that changed. */
  sync(keys) {
    const want = new Set();
    for (const k of keys) {
      const pk = parseKey(k);
      if (!pk || pk.family !== this.family || !pk.instance || pk.instance === "total" || pk.field !== this.field) continue;
      if (!this.hide(pk.instance)) want.add(pk.instance);
    }
    let changed = false;
    for (const [inst, opt] of this.options) {
      if (!want.has(inst)) {
        opt.remove();
        this.options.delete(inst);
        changed = true;
      }
    }
    for (const inst of [...want].sort()) {
      if (this.options.has(inst)) continue;
      const opt = h("option", { value: inst }, inst);
      const after = [...this.options.keys()].filter((i) => i > inst).sort()[0];
      this.select.insertBefore(opt, after === undefined ? null : this.options.get(after));
      this.options.set(inst, opt);
      changed = true;
    }
    return changed;
  }

  has(inst) {
    return inst === "total" || this.options.has(inst);
  }
}

/** What a panel's chooser offers: the live sample's keys, and in a past window also those the
 * host had then (the board's "keys": what it has now or has history of), so a disk unplugged
 * yesterday can still be chosen for yesterday. Calls ``resync`` when the window changes. */
export function offeredKeys(live, board, resync) {
  let past = [];
  board.on("keys", (keys) => {
    past = board.live ? [] : [...keys];
    resync();
  });
  return () => (past.length ? new Set([...live.values.keys(), ...past]) : live.values.keys());
}

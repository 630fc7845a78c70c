// The blocks an order is shown in: cards with a title, and labelled fields in them.
import { append, el } from "./dom.js";

// A <dt>/<dd> pair in its own <div>. opts: {wide: true, ddClass: "..."}.
export function field(label, value, opts) {
  opts = opts || {};
  var dd = el("dd", { class: opts.ddClass || null });
  append(dd, value);
  return el("div", { class: "field" + (opts.wide ? " field-wide" : "") },
    el("dt", null, label), dd);
}

export function card(title, id, children, extraClass) {
  var h = el("h3", { id: id, class: "card-title" }, title);
  return el("section", { class: "card" + (extraClass ? " " + extraClass : ""), "aria-labelledby": id },
    h, children);
}

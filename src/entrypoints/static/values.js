// Values for display: text, money, counts.
import { append, el } from "./dom.js";

function isText(v) {
  return typeof v === "string" || typeof v === "number";
}

// A value for display; empty strings and missing values become a muted dash.
export function val(v, cls) {
  if (v === null || v === undefined || (typeof v === "string" && v === "")) {
    return el("span", { class: "empty", title: "empty" }, "—");
  }
  if (!isText(v)) v = JSON.stringify(v);
  return el("span", { class: cls || null }, String(v));
}

// Minor units (integer) -> "18.17" (string arithmetic: no floating point rounding).
function majorUnits(minor) {
  if (typeof minor !== "number" || !Number.isInteger(minor)) return null;
  var negative = minor < 0;
  var digits = String(Math.abs(minor));
  if (!/^\d+$/.test(digits)) return null; // e.g. 1e+21
  digits = digits.padStart(3, "0");
  var text = digits.slice(0, -2) + "." + digits.slice(-2);
  return (negative ? "-" : "") + text;
}

// "18.17 USD" as plain text, for sentences.
export function moneyText(minor, currency) {
  var major = majorUnits(minor);
  if (major === null) return minor === undefined ? "—" : String(minor);
  return currency ? major + " " + currency : major;
}

// "18.17 USD" as a node, with the minor units in its tooltip.
export function money(minor, currency, extraClass) {
  var node = el("span", { class: "money" + (extraClass ? " " + extraClass : "") });
  var major = majorUnits(minor);
  if (major === null) {
    node.appendChild(val(minor));
    return node;
  }
  node.title = String(minor) + " (minor units)";
  append(node, major);
  if (currency) {
    append(node, " ");
    append(node, el("span", { class: "currency" }, currency));
  }
  return node;
}

export function plural(n, word) {
  return n + " " + word + (n === 1 ? "" : "s");
}

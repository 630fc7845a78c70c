// A whole order in the result section: summary, delivery and payment, items, raw JSON.
import { copyButton } from "./copy.js";
import { append, clear, el } from "./dom.js";
import { renderDelivery, renderPayment } from "./order_details.js";
import { renderItems } from "./order_items.js";
import { renderSummary } from "./order_summary.js";

function renderRaw(text) {
  var pre = el("pre", { class: "raw", id: "raw-json" }, text);
  var details = el("details", { class: "raw-details" },
    el("summary", null, "Raw JSON"),
    el("div", { class: "raw-actions" }, copyButton(function () { return text; }, "Copy JSON")),
    pre);
  return el("section", { class: "card card-raw", "aria-label": "Raw JSON" }, details);
}

// Replaces what `result` shows with the order (parsed) and shows it; rawText is the
// body as it came, shown when the order cannot be pretty-printed.
export function renderOrder(result, order, rawText) {
  clear(result);
  var pretty = rawText;
  try { pretty = JSON.stringify(order, null, 2); } catch (e) { /* keep raw */ }
  append(result, [
    renderSummary(order),
    el("div", { class: "grid-2" }, renderDelivery(order.delivery), renderPayment(order.payment)),
    renderItems(order.items, order.payment),
    renderRaw(pretty),
  ]);
  result.hidden = false;
}

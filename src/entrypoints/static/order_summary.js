// The head of an order: its id, track number, amount and the facts about it.
import { field } from "./cards.js";
import { copyButton } from "./copy.js";
import { dateNode, fromIso } from "./dates.js";
import { el } from "./dom.js";
import { money, val } from "./values.js";

// The customer id, linking to the customer's orders (/?customer=ID, customer.js).
function customerLink(id) {
  if (typeof id !== "string" || id === "") return val(id, "mono");
  return el("a", {
    id: "customer-link", class: "mono", href: "/?customer=" + encodeURIComponent(id),
    title: "All orders of this customer",
  }, id);
}

export function renderSummary(order) {
  var payment = order.payment || {};
  var created = fromIso(order.date_created);

  var idLine = el("div", { class: "summary-id" },
    el("span", { class: "eyebrow" }, "Order"),
    el("h2", { id: "order-heading", class: "order-id mono" }, String(order.order_uid || "")),
    copyButton(function () { return String(order.order_uid || ""); }, "Copy order id"));

  var track = el("div", { class: "summary-track" },
    el("span", { class: "eyebrow" }, "Track number"),
    el("span", { class: "track mono", id: "track-number" }, val(order.track_number)),
    copyButton(function () { return String(order.track_number || ""); }, "Copy track number"));

  var total = el("div", { class: "summary-total" },
    el("span", { class: "eyebrow" }, "Amount"),
    el("span", { id: "summary-amount" }, money(payment.amount, payment.currency, "money-big")));

  var facts = el("dl", { class: "facts" },
    field("Customer", customerLink(order.customer_id)),
    field("Entry", val(order.entry)),
    field("Locale", val(order.locale)),
    field("Delivery service", val(order.delivery_service)),
    field("Created", dateNode(created, order.date_created), { wide: true }));

  var shards = el("p", { class: "shards" },
    el("span", null, "shardkey ", el("b", null, val(order.shardkey))),
    el("span", null, "oof_shard ", el("b", null, val(order.oof_shard))),
    el("span", null, "sm_id ", el("b", null, val(order.sm_id))),
    order.internal_signature
      ? el("span", null, "signature ", el("b", null, val(order.internal_signature)))
      : null);

  return el("header", { class: "summary card" },
    el("div", { class: "summary-top" }, idLine, total),
    track, facts, shards);
}

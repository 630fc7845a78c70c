// An order's delivery and payment cards.
import { card, field } from "./cards.js";
import { dateNode, fromUnixSeconds } from "./dates.js";
import { el } from "./dom.js";
import { money, moneyText, val } from "./values.js";

export function renderDelivery(d) {
  d = d || {};
  var phone = d.phone
    ? el("a", { href: "tel:" + String(d.phone).replace(/[^0-9+]/g, "") }, String(d.phone))
    : val(d.phone);
  var email = d.email
    ? el("a", { href: "mailto:" + encodeURIComponent(String(d.email)).replace(/%40/g, "@") },
      String(d.email))
    : val(d.email);
  return card("Delivery", "delivery-heading", el("dl", { class: "kv" },
    field("Name", val(d.name, "strong")),
    field("Phone", phone),
    field("Email", email),
    field("Address", val(d.address)),
    field("City", val(d.city)),
    field("Region", val(d.region)),
    field("ZIP", val(d.zip, "mono"))), "card-delivery");
}

export function renderPayment(p) {
  p = p || {};
  var cur = p.currency;
  var paidAt = fromUnixSeconds(p.payment_dt);
  var list = el("dl", { class: "kv" },
    field("Amount", money(p.amount, cur, "strong")),
    field("Currency", val(cur, "mono")),
    field("Provider", val(p.provider)),
    field("Bank", val(p.bank)),
    field("Goods total", money(p.goods_total, cur)),
    field("Delivery cost", money(p.delivery_cost, cur)),
    field("Custom fee", money(p.custom_fee, cur)),
    field("Paid at", dateNode(paidAt, p.payment_dt)),
    field("Transaction", val(p.transaction, "mono break")),
    field("Request ID", val(p.request_id, "mono break")));
  var children = [list];
  var parts = [p.goods_total, p.delivery_cost, p.custom_fee];
  if (Number.isInteger(p.amount) && parts.every(Number.isInteger)) {
    var sum = parts[0] + parts[1] + parts[2];
    if (sum !== p.amount) {
      children.push(el("p", { class: "note note-warn", id: "amount-mismatch" },
        "⚠ Amount differs from goods total + delivery cost + custom fee = " +
        moneyText(sum, cur) + "."));
    }
  }
  children.push(el("p", { class: "money-note" },
    "Amounts arrive in minor units (cents) and are shown divided by 100: 1250 → 12.50."));
  return card("Payment", "payment-heading", children, "card-payment");
}

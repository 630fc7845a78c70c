// The order lookup view: one order's summary, delivery and payment, items and raw JSON
// (the fields the page knows by name in their own layout, any other scalar field of the
// order, its delivery, its payment and each item by its name, see otherFields in
// page.js), and the lookup that fetches it. Every value goes into the page as text
// (page.js), never as markup. Loading it reads the page's elements; app.js drives it.
import {
  append, card, clear, copyButton, dateNode, el, errorMessage, fetchText, field,
  fromIso, fromUnixSeconds, idProblem, money, moneyText, otherFieldNodes, otherFields,
  plural, statusBox, val,
} from "./page.js";

// ============================================================ order_summary

// The head of an order: its id, track number, amount and the facts about it.

// The customer id, linking to the customer's orders (/?customer=ID, lists.js).
function customerLink(id) {
  if (typeof id !== "string" || id === "") return val(id, "mono");
  return el("a", {
    id: "customer-link", class: "mono", href: "/?customer=" + encodeURIComponent(id),
    title: "All orders of this customer",
  }, id);
}

// The order's own fields the summary shows by name (delivery, payment and items: below).
var ORDER_FIELDS = [
  "order_uid", "track_number", "entry", "delivery", "payment", "items", "locale",
  "internal_signature", "customer_id", "delivery_service", "shardkey", "sm_id",
  "date_created", "oof_shard",
];

function renderSummary(order) {
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
    field("Created", dateNode(created, order.date_created), { wide: true }),
    otherFieldNodes(order, ORDER_FIELDS));

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

// ============================================================ order_details

// An order's delivery and payment cards.

var DELIVERY_FIELDS = ["name", "phone", "email", "address", "city", "region", "zip"];
var PAYMENT_FIELDS = [
  "amount", "currency", "provider", "bank", "goods_total", "delivery_cost", "custom_fee",
  "payment_dt", "transaction", "request_id",
];

function renderDelivery(d) {
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
    field("ZIP", val(d.zip, "mono")),
    otherFieldNodes(d, DELIVERY_FIELDS)), "card-delivery");
}

function renderPayment(p) {
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
    field("Request ID", val(p.request_id, "mono break")),
    otherFieldNodes(p, PAYMENT_FIELDS));
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

// ============================================================ order_items

// An order's items: a table with a totals row that checks the payment's goods total.

var ITEM_COLUMNS = [
  ["Name", ""], ["Brand", ""], ["Size", ""], ["Price", "num"], ["Sale", "num"],
  ["Total price", "num"], ["Status", "num"], ["nm_id", "num mono"], ["chrt_id", "num mono"],
];
// The item fields the table shows by name; any other scalar one is shown under the name.
var ITEM_FIELDS = [
  "name", "rid", "brand", "size", "price", "sale", "total_price", "status", "nm_id",
  "chrt_id",
];

function renderItems(items, payment) {
  items = Array.isArray(items) ? items : [];
  payment = payment || {};
  var cur = payment.currency;

  var headRow = el("tr");
  ITEM_COLUMNS.forEach(function (c) {
    headRow.appendChild(el("th", { scope: "col", class: c[1] || null }, c[0]));
  });

  var tbody = el("tbody");
  var sum = 0;
  var sumKnown = true;
  items.forEach(function (item) {
    item = item || {};
    if (Number.isInteger(item.total_price)) sum += item.total_price;
    else sumKnown = false;
    tbody.appendChild(itemRow(item, cur));
  });

  var totalCell = el("td", { class: "num", "data-label": "Items total" },
    sumKnown ? money(sum, cur, "strong") : val(""));
  var footRow = el("tr", { class: "totals" },
    el("th", { scope: "row", colspan: 5 }, "Total of " + plural(items.length, "item")),
    totalCell,
    el("td", { colspan: 3, class: "totals-note" }, totalsNote(sum, sumKnown, payment)));
  var table = el("table", { class: "items", id: "items" },
    el("caption", { class: "visually-hidden" }, "Items of the order"),
    el("thead", null, headRow), tbody, el("tfoot", null, footRow));

  var scroller = el("div", {
    class: "table-scroll", role: "region", "aria-labelledby": "items-heading", tabindex: 0,
  }, table);
  var title = el("h3", { id: "items-heading", class: "card-title" },
    "Items ", el("span", { class: "count" }, String(items.length)));
  return el("section", { class: "card card-items", "aria-labelledby": "items-heading" },
    title, scroller);
}

function itemRow(item, cur) {
  var nameCell = el("td", { class: "item-name", "data-label": "Name" },
    el("div", null,
      el("span", { class: "strong" }, val(item.name)),
      item.rid ? el("span", { class: "sub mono" }, "rid " + String(item.rid)) : null,
      otherFields(item, ITEM_FIELDS).map(function (f) {
        return el("span", { class: "sub", "data-field": f[0] }, f[0] + " ", val(f[1]));
      })));
  var sale = Number.isInteger(item.sale) && item.sale > 0
    ? el("span", { class: "badge" }, "−" + item.sale + "%")
    : val(item.sale === 0 ? "0%" : item.sale);
  var cells = [
    nameCell,
    el("td", { "data-label": "Brand" }, val(item.brand)),
    el("td", { "data-label": "Size" }, val(item.size)),
    el("td", { class: "num", "data-label": "Price" }, money(item.price, cur)),
    el("td", { class: "num", "data-label": "Sale" }, sale),
    el("td", { class: "num", "data-label": "Total price" }, money(item.total_price, cur, "strong")),
    el("td", { class: "num", "data-label": "Status" }, val(item.status)),
    el("td", { class: "num mono", "data-label": "nm_id" }, val(item.nm_id)),
    el("td", { class: "num mono", "data-label": "chrt_id" }, val(item.chrt_id)),
  ];
  return el("tr", null, cells);
}

function totalsNote(sum, sumKnown, payment) {
  if (!sumKnown || !Number.isInteger(payment.goods_total)) return null;
  if (sum === payment.goods_total) {
    return el("span", { class: "ok" }, "✓ matches the payment's goods total");
  }
  return el("span", { class: "note-warn-inline", id: "totals-mismatch" },
    "⚠ differs from the payment's goods total (" +
    moneyText(payment.goods_total, payment.currency) + ")");
}

// ============================================================ order_view

// A whole order in the result section: summary, delivery and payment, items, raw JSON.

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
function renderOrder(result, order, rawText) {
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

// ============================================================ lookup

// Looking up one order: the request (one at a time, with a timeout), the status box
// while it runs and after, and the order or nothing in the result section.

var REQUEST_TIMEOUT_MS = 15000;
var START_TITLE = "Order lookup · order-service";

var input = document.getElementById("order-id");
var button = document.getElementById("search-button");
var result = document.getElementById("result");
var intro = document.getElementById("intro");
var setStatus = statusBox(document.getElementById("status"));

var current = null; // {controller, seq}
var seq = 0;

function retryButton(id) {
  var b = el("button", { type: "button", class: "btn btn-secondary" }, "Try again");
  b.addEventListener("click", function () { lookup(id, { push: false }); });
  return b;
}

function hideResult() {
  result.hidden = true;
  clear(result);
}

function setBusy(busy) {
  button.disabled = busy;
  button.textContent = busy ? "Looking up…" : "Look up";
  result.setAttribute("aria-busy", busy ? "true" : "false");
}

function urlFor(id) {
  var url = new URL(window.location.href);
  url.search = id ? "?id=" + encodeURIComponent(id) : "";
  url.hash = "";
  return url.pathname + url.search;
}

// Looks the order up and shows it. opts.push: add the search to the history.
export function lookup(id, opts) {
  opts = opts || {};
  if (current) current.controller.abort();
  current = null;

  intro.hidden = true;
  var problem = idProblem(id);
  if (problem) {
    hideResult();
    setBusy(false);
    document.title = START_TITLE;
    if (!id) {
      setStatus("info", "Type an order id to look it up.", null);
    } else {
      setStatus("error", "That isn’t a valid order id.", problem);
    }
    input.setAttribute("aria-invalid", id ? "true" : "false");
    return;
  }
  input.removeAttribute("aria-invalid");

  if (opts.push) {
    var target = urlFor(id);
    if (window.location.pathname + window.location.search !== target) {
      history.pushState({ id: id }, "", target);
    }
  }
  document.title = id + " · Order lookup";

  var mySeq = ++seq;
  var controller = new AbortController();
  var timedOut = false;
  var timer = setTimeout(function () { timedOut = true; controller.abort(); }, REQUEST_TIMEOUT_MS);
  current = { controller: controller, seq: mySeq };

  // False when a newer lookup (or showStart) has taken over since this one began.
  function finished() {
    if (mySeq !== seq) return false;
    clearTimeout(timer);
    current = null;
    setBusy(false);
    return true;
  }

  setBusy(true);
  // Keep the previous order visible but dimmed while the new one loads.
  setStatus("loading", "Looking up order " + id + "…", null);

  fetchText("/order?id=" + encodeURIComponent(id), {
    signal: controller.signal,
    headers: { Accept: "application/json" },
  }).then(function (r) {
    if (!finished()) return;
    handleResponse(id, r.res, r.text);
  }).catch(function (err) {
    if (!finished()) return;
    if (err && err.name === "AbortError" && !timedOut) return;
    hideResult();
    setStatus("error",
      timedOut ? "The service took too long to answer." : "Couldn’t reach the service.",
      "Check your connection and try again.", retryButton(id));
  });
}

function handleResponse(id, res, text) {
  if (res.ok) {
    var order;
    try {
      order = JSON.parse(text);
    } catch (e) {
      hideResult();
      setStatus("error", "The service sent an answer this page can’t read.",
        "Try again; if it keeps happening, tell the team that runs order-service.",
        retryButton(id));
      return;
    }
    renderOrder(result, order, text);
    setStatus("success", "Order " + id + " loaded.", null);
    return;
  }
  hideResult();
  if (res.status === 404) {
    setStatus("warn", "No order with id " + id + ".",
      "Check the id for typos. A new order may take a few seconds to appear.");
  } else if (res.status === 400) {
    input.setAttribute("aria-invalid", "true");
    setStatus("error", "That isn’t a valid order id.",
      errorMessage(text) || "Order ids may hold only letters, digits, “-”, “_” and “.”.");
  } else if (res.status === 503) {
    setStatus("error", "The service is unavailable right now — try again in a few seconds.",
      "The order store could not be reached. Nothing is wrong with the id.",
      retryButton(id));
  } else {
    setStatus("error", "Something went wrong (HTTP " + res.status + ").",
      errorMessage(text) || "Try again in a moment.", retryButton(id));
  }
}

// Back to the start (no id in the address): drops the lookup under way and its outcome.
export function showStart() {
  if (current) current.controller.abort();
  current = null;
  seq++;
  setBusy(false);
  hideResult();
  intro.hidden = false;
  setStatus("", null);
  input.removeAttribute("aria-invalid");
  document.title = START_TITLE;
}

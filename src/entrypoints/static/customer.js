// The customer view of the page (/?customer=ID): the customer's orders, newest first,
// from GET /orders?customer_id=ID. "More" asks for the next page with the cursor the
// server gave (opaque: sent back as it came). Same safety rule as app.js: every value
// from an order goes into the page as text, never as markup.
import { dateNode, fromIso } from "./dates.js";
import { clear, el } from "./dom.js";
import { errorMessage, fetchText } from "./http.js";
import { statusLine } from "./status.js";
import { money, plural, val } from "./values.js";

var PAGE_SIZE = 20;

var view = document.getElementById("customer-view");
var heading = document.getElementById("customer-name");
var say = statusLine(document.getElementById("customer-status"));
var rows = document.getElementById("customer-orders");
var more = document.getElementById("customer-more");
var intro = document.getElementById("intro");

var shown = { customer: null, cursor: null, count: 0, seq: 0 };

function customerFromLocation() {
  var customer = new URLSearchParams(window.location.search).get("customer");
  return customer === null || customer === "" ? null : customer;
}

function row(order) {
  var payment = order.payment || {};
  var items = Array.isArray(order.items) ? order.items.length : 0;
  var id = String(order.order_uid || "");
  return el("tr", null,
    el("td", { "data-label": "Order" },
      el("a", { class: "mono", href: "/?id=" + encodeURIComponent(id) }, id)),
    el("td", { "data-label": "Created" },
      dateNode(fromIso(order.date_created), order.date_created)),
    el("td", { class: "mono", "data-label": "Track number" }, val(order.track_number)),
    el("td", { class: "num", "data-label": "Items" }, String(items)),
    el("td", { class: "num", "data-label": "Amount" },
      money(payment.amount, payment.currency, "strong")));
}

function load(customer, cursor) {
  var mySeq = ++shown.seq;
  var url = "/orders?customer_id=" + encodeURIComponent(customer) + "&limit=" + PAGE_SIZE;
  if (cursor) url += "&after=" + encodeURIComponent(cursor);
  more.disabled = true;
  say("loading", cursor ? "Loading more orders…" : "Loading the customer’s orders…");
  fetchText(url, { headers: { Accept: "application/json" } }).then(function (r) {
    if (mySeq !== shown.seq) return;
    if (!r.res.ok) {
      more.disabled = false;
      say("error", "Couldn’t list the orders (HTTP " + r.res.status + "). " +
        (errorMessage(r.text) || "Try again in a moment."));
      return;
    }
    var body = JSON.parse(r.text);
    body.orders.forEach(function (order) { rows.appendChild(row(order || {})); });
    shown.count += body.orders.length;
    shown.cursor = body.next;
    more.hidden = !body.next;
    more.disabled = false;
    if (shown.count === 0) {
      say("warn", "No orders for this customer.");
    } else {
      say("success", plural(shown.count, "order") + " shown" +
        (body.next ? ", newest first; there are more." : ", newest first: that is all."));
    }
  }).catch(function () {
    if (mySeq !== shown.seq) return;
    more.disabled = false;
    say("error", "Couldn’t reach the service. Check your connection and try again.");
  });
}

function show(customer) {
  shown = { customer: customer, cursor: null, count: 0, seq: shown.seq + 1 };
  clear(rows);
  heading.textContent = customer;
  more.hidden = true;
  intro.hidden = true;
  view.hidden = false;
  document.title = "Customer " + customer + " · order-service";
  load(customer, null);
}

function hide() {
  shown.seq++;
  view.hidden = true;
}

function route() {
  var customer = customerFromLocation();
  if (customer === null) hide();
  else show(customer);
}

more.addEventListener("click", function () {
  if (shown.customer !== null && shown.cursor) load(shown.customer, shown.cursor);
});
// app.js handles ?id=; a search made from this view replaces it.
document.getElementById("search").addEventListener("submit", hide);
window.addEventListener("popstate", route);
route();

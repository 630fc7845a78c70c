// The page's two list views, each started by app.js once the order lookup is wired (in
// this order: the customer's orders, then the dead letters). Each keeps its state inside
// its start function. Every value from the service goes into the page as text (page.js),
// never as markup.
import {
  clear, dateNode, el, errorMessage, fetchText, fromIso, money, plural, statusLine, val,
} from "./page.js";

// ============================================================ customer

// The customer view of the page (/?customer=ID): the customer's orders, newest first,
// from GET /orders?customer_id=ID. "More" asks for the next page with the cursor the
// server gave (opaque: sent back as it came). Same safety rule as app.js: every value
// from an order goes into the page as text, never as markup.
export function startCustomerView() {
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
}

// ============================================================ dead_letters

// The admin view of the page (/?view=dead-letters): the latest dead letters, read-only,
// from GET /admin/dead-letters with the admin token the operator pastes. The token stays
// in this script's memory (never stored, never in the address). A reason is whatever a
// broken message made the service say: it goes into the page as text only. Every partition
// of the dead-letter topic is listed: a dead letter is named PARTITION:OFFSET, as
// `order-service dlq show` takes it.
export function startDeadLettersView() {
  var view = document.getElementById("dead-letters-view");
  var form = document.getElementById("admin-form");
  var tokenInput = document.getElementById("admin-token");
  var limitInput = document.getElementById("dead-letters-limit");
  var say = statusLine(document.getElementById("dead-letters-status"));
  var table = document.getElementById("dead-letters-table");
  var rows = document.getElementById("dead-letters");
  var intro = document.getElementById("intro");

  var seq = 0;

  function when(iso) {
    return iso ? dateNode(fromIso(iso), iso) : val(null);
  }

  // "2:17"; the offset alone when the partition is not given.
  function letterId(partition, offset) {
    var where = String(offset === null || offset === undefined ? "?" : offset);
    return partition === null || partition === undefined ? where : partition + ":" + where;
  }

  function source(s) {
    s = s || {};
    var where = String(s.topic === null || s.topic === undefined ? "?" : s.topic) +
      " / partition " + (s.partition === null ? "?" : s.partition) +
      " / offset " + (s.offset === null ? "?" : s.offset);
    return el("span", { class: "mono break" }, where);
  }

  function reason(letter) {
    var cell = el("td", { class: "dead-letter-reason", "data-label": "Reason" });
    if (letter.stub) {
      cell.appendChild(el("span", {
        class: "tag", title: "The original was too large to keep: it cannot be replayed",
      }, "stub"));
    }
    if (letter.replay_of !== null && letter.replay_of !== undefined) {
      cell.appendChild(el("span", { class: "tag" },
        "replay of " + letterId(letter.replay_of_partition, letter.replay_of)));
    }
    // textContent: a reason holding markup shows that markup, it never becomes it.
    cell.appendChild(el("span", { class: "reason-text" }, String(letter.reason || "")));
    return cell;
  }

  function row(letter) {
    return el("tr", null,
      el("td", {
        class: "num mono dead-letter-id", "data-label": "Partition:offset",
        title: letter.partition === null || letter.partition === undefined ? null
          : "partition " + letter.partition + ", offset " + letter.offset,
      }, letterId(letter.partition, letter.offset)),
      el("td", { "data-label": "Dead-lettered" }, when(letter.dead_lettered_at)),
      el("td", { "data-label": "Source" }, source(letter.source)),
      reason(letter));
  }

  // How many offsets a partition keeps, from its bounds (none when never written to, or
  // when all of it expired).
  function keptCount(p) {
    return Math.max(0, p.next_offset - p.first_offset) || 0;
  }

  // "offsets 0 to 4", "offset 7" or "none".
  function kept(p) {
    var n = keptCount(p);
    if (n === 0) return "none";
    return n === 1 ? "offset " + p.first_offset
      : "offsets " + p.first_offset + " to " + (p.next_offset - 1);
  }

  // What the topic keeps: one partition as short as ever ("offsets 0 to 4 are kept"),
  // several each in turn ("kept: partition 0: offsets 0 to 4, partition 1: none"). A body
  // without partitions (an older service) has partition 0's bounds only.
  function keptText(body) {
    var partitions = Array.isArray(body.partitions) && body.partitions.length
      ? body.partitions.slice().sort(function (a, b) { return a.partition - b.partition; })
      : [{ partition: 0, first_offset: body.first_offset, next_offset: body.next_offset }];
    if (partitions.length === 1) {
      return kept(partitions[0]) + (keptCount(partitions[0]) === 1 ? " is kept" : " are kept");
    }
    return "kept: " + partitions.map(function (p) {
      return "partition " + p.partition + ": " + kept(p);
    }).join(", ");
  }

  function render(body) {
    clear(rows);
    body.dead_letters.forEach(function (letter) { rows.appendChild(row(letter)); });
    table.hidden = body.dead_letters.length === 0;
    if (body.dead_letters.length === 0) {
      say("warn", "No dead letters in " + body.topic + ".");
    } else {
      say("success", plural(body.dead_letters.length, "dead letter") + " of " +
        body.topic + ", newest first (" + keptText(body) + ").");
    }
  }

  function load() {
    var mySeq = ++seq;
    var token = tokenInput.value.trim();
    if (!token) {
      say("error", "Paste the admin token first.");
      tokenInput.focus();
      return;
    }
    say("loading", "Loading the dead letters…");
    fetchText("/admin/dead-letters?limit=" + encodeURIComponent(limitInput.value), {
      headers: { Accept: "application/json", Authorization: "Bearer " + token },
      cache: "no-store",
    }).then(function (r) {
      if (mySeq !== seq) return;
      if (r.res.ok) {
        render(JSON.parse(r.text));
        return;
      }
      clear(rows);
      table.hidden = true;
      if (r.res.status === 401) {
        say("error", "The service refused that token. Check it and try again.");
      } else if (r.res.status === 404) {
        say("error", "The admin endpoints are off: the service has no admin token set.");
      } else {
        say("error", "Couldn’t list the dead letters (HTTP " + r.res.status + "). " +
          (errorMessage(r.text) || "Try again in a moment."));
      }
    }).catch(function () {
      if (mySeq !== seq) return;
      say("error", "Couldn’t reach the service. Check your connection and try again.");
    });
  }

  function route() {
    var wanted = new URLSearchParams(window.location.search).get("view") === "dead-letters";
    view.hidden = !wanted;
    if (!wanted) return;
    intro.hidden = true;
    document.title = "Dead letters · order-service";
    tokenInput.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    load();
  });
  document.getElementById("search").addEventListener("submit", function () {
    view.hidden = true;
  });
  window.addEventListener("popstate", route);
  route();
}

// Order lookup page for order-service. Plain JavaScript, no dependencies.
//
// Safety rule: every value that comes from an order is put into the page with
// textContent / createElement / text nodes, never with innerHTML, so an order whose
// fields hold HTML shows that HTML as text.
"use strict";

(function () {
  // Same rule as the server (order_core/order_id.py): letters, digits, '-', '_', '.';
  // at most 64 characters.
  var ID_MAX = 64;
  var ID_PATTERN = /^[A-Za-z0-9_.\-]+$/;
  var REQUEST_TIMEOUT_MS = 15000;

  var form = document.getElementById("search");
  var input = document.getElementById("order-id");
  var button = document.getElementById("search-button");
  var statusBox = document.getElementById("status");
  var result = document.getElementById("result");
  var intro = document.getElementById("intro");

  var current = null; // {controller, seq}
  var seq = 0;

  // ------------------------------------------------------------------ DOM helpers

  // el("div", {class: "x", "aria-label": "y"}, child, "text", ...): strings become text
  // nodes; null/undefined/false children are skipped.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else node.setAttribute(key, String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { append(node, c); });
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ------------------------------------------------------------------ formatting

  function isText(v) {
    return typeof v === "string" || typeof v === "number";
  }

  // A value for display; empty strings and missing values become a muted dash.
  function val(v, cls) {
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

  function moneyText(minor, currency) {
    var major = majorUnits(minor);
    if (major === null) return minor === undefined ? "—" : String(minor);
    return currency ? major + " " + currency : major;
  }

  function money(minor, currency, extraClass) {
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

  var utcFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
    hour12: false, timeZone: "UTC",
  });
  var localFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short",
  });
  var relativeFormat = typeof Intl.RelativeTimeFormat === "function"
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
    : null;

  function relative(date) {
    if (!relativeFormat) return "";
    var seconds = (date.getTime() - Date.now()) / 1000;
    var units = [
      ["year", 31536000], ["month", 2592000], ["day", 86400],
      ["hour", 3600], ["minute", 60], ["second", 1],
    ];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
        return relativeFormat.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
    return "";
  }

  // A <time> element: "26 Nov 2021, 06:22:19 UTC", with the local time and the raw
  // value in its tooltip and a relative hint ("3 years ago") below.
  function dateNode(date, raw) {
    if (!(date instanceof Date) || isNaN(date.getTime())) return val(raw);
    var wrap = el("span", { class: "date" });
    var time = el("time", {
      datetime: date.toISOString(),
      title: "Local time: " + localFormat.format(date) + "\nRaw: " + String(raw),
    }, utcFormat.format(date) + " UTC");
    wrap.appendChild(time);
    var rel = relative(date);
    if (rel) wrap.appendChild(el("span", { class: "sub" }, rel));
    return wrap;
  }

  function fromUnixSeconds(s) {
    return typeof s === "number" && isFinite(s) ? new Date(s * 1000) : null;
  }

  function fromIso(s) {
    return typeof s === "string" && s ? new Date(s) : null;
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  // ------------------------------------------------------------------ id check

  // Returns null when the id is fine, else a sentence saying what is wrong.
  function idProblem(id) {
    if (!id) return "Type an order id first.";
    if (id.length > ID_MAX) {
      return "An order id is at most " + ID_MAX + " characters; this one has " + id.length + ".";
    }
    if (!ID_PATTERN.test(id)) {
      return "An order id may hold only letters, digits, “-”, “_” and “.” (no spaces or other signs).";
    }
    return null;
  }

  // ------------------------------------------------------------------ status region

  // kind: info | loading | success | error | warn
  function setStatus(kind, title, detail, action) {
    clear(statusBox);
    statusBox.className = "status" + (kind ? " status-" + kind : "");
    statusBox.dataset.state = kind || "";
    if (!title) return;
    var icon = el("span", { class: "status-icon", "aria-hidden": "true" });
    var body = el("div", { class: "status-body" },
      el("p", { class: "status-title" }, title),
      detail ? el("p", { class: "status-detail" }, detail) : null);
    statusBox.appendChild(icon);
    statusBox.appendChild(body);
    if (action) statusBox.appendChild(action);
  }

  function retryButton(id) {
    var b = el("button", { type: "button", class: "btn btn-secondary" }, "Try again");
    b.addEventListener("click", function () { lookup(id, { push: false }); });
    return b;
  }

  function hideResult() {
    result.hidden = true;
    clear(result);
  }

  // ------------------------------------------------------------------ rendering

  function field(label, value, opts) {
    opts = opts || {};
    var dd = el("dd", { class: opts.ddClass || null });
    append(dd, value);
    return el("div", { class: "field" + (opts.wide ? " field-wide" : "") },
      el("dt", null, label), dd);
  }

  function copyButton(getText, label) {
    var b = el("button", {
      type: "button", class: "btn btn-ghost btn-small copy", "aria-label": label,
    }, "Copy");
    b.addEventListener("click", function () {
      copyText(getText()).then(function (ok) {
        b.textContent = ok ? "Copied" : "Copy failed";
        setTimeout(function () { b.textContent = "Copy"; }, 1500);
      });
    });
    return b;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () { return true; }, function () { return legacyCopy(text); });
    }
    return Promise.resolve(legacyCopy(text));
  }

  function legacyCopy(text) {
    var area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function card(title, id, children, extraClass) {
    var h = el("h3", { id: id, class: "card-title" }, title);
    return el("section", { class: "card" + (extraClass ? " " + extraClass : ""), "aria-labelledby": id },
      h, children);
  }

  // The customer id, linking to the customer's orders (/?customer=ID, customer.js).
  function customerLink(id) {
    if (typeof id !== "string" || id === "") return val(id, "mono");
    return el("a", {
      id: "customer-link", class: "mono", href: "/?customer=" + encodeURIComponent(id),
      title: "All orders of this customer",
    }, id);
  }

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
      field("ZIP", val(d.zip, "mono"))), "card-delivery");
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

  var ITEM_COLUMNS = [
    ["Name", ""], ["Brand", ""], ["Size", ""], ["Price", "num"], ["Sale", "num"],
    ["Total price", "num"], ["Status", "num"], ["nm_id", "num mono"], ["chrt_id", "num mono"],
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
      var nameCell = el("td", { class: "item-name", "data-label": "Name" },
        el("div", null,
          el("span", { class: "strong" }, val(item.name)),
          item.rid ? el("span", { class: "sub mono" }, "rid " + String(item.rid)) : null));
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
      tbody.appendChild(el("tr", null, cells));
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

  function totalsNote(sum, sumKnown, payment) {
    if (!sumKnown || !Number.isInteger(payment.goods_total)) return null;
    if (sum === payment.goods_total) {
      return el("span", { class: "ok" }, "✓ matches the payment's goods total");
    }
    return el("span", { class: "note-warn-inline", id: "totals-mismatch" },
      "⚠ differs from the payment's goods total (" +
      moneyText(payment.goods_total, payment.currency) + ")");
  }

  function renderRaw(text) {
    var pre = el("pre", { class: "raw", id: "raw-json" }, text);
    var details = el("details", { class: "raw-details" },
      el("summary", null, "Raw JSON"),
      el("div", { class: "raw-actions" }, copyButton(function () { return text; }, "Copy JSON")),
      pre);
    return el("section", { class: "card card-raw", "aria-label": "Raw JSON" }, details);
  }

  function renderOrder(order, rawText) {
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

  // ------------------------------------------------------------------ lookup

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

  function lookup(id, opts) {
    opts = opts || {};
    if (current) current.controller.abort();
    current = null;

    intro.hidden = true;
    var problem = idProblem(id);
    if (problem) {
      hideResult();
      setBusy(false);
      document.title = "Order lookup · order-service";
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

    setBusy(true);
    // Keep the previous order visible but dimmed while the new one loads.
    setStatus("loading", "Looking up order " + id + "…", null);

    fetch("/order?id=" + encodeURIComponent(id), {
      signal: controller.signal,
      headers: { Accept: "application/json" },
    }).then(function (res) {
      return res.text().then(function (text) { return { res: res, text: text }; });
    }).then(function (r) {
      if (mySeq !== seq) return;
      clearTimeout(timer);
      current = null;
      setBusy(false);
      handleResponse(id, r.res, r.text);
    }).catch(function (err) {
      if (mySeq !== seq) return;
      clearTimeout(timer);
      current = null;
      setBusy(false);
      if (err && err.name === "AbortError" && !timedOut) return;
      hideResult();
      setStatus("error",
        timedOut ? "The service took too long to answer." : "Couldn’t reach the service.",
        "Check your connection and try again.", retryButton(id));
    });
  }

  function errorMessage(text) {
    try {
      var body = JSON.parse(text);
      if (body && body.error && typeof body.error.message === "string") return body.error.message;
    } catch (e) { /* not JSON */ }
    return null;
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
      renderOrder(order, text);
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

  // The other views of the page (customer.js, dead_letters.js) use the same helpers.
  window.orderPage = {
    el: el, append: append, clear: clear, val: val, money: money, dateNode: dateNode,
    fromIso: fromIso, plural: plural, errorMessage: errorMessage,
  };

  // ------------------------------------------------------------------ wiring

  function idFromLocation() {
    var id = new URLSearchParams(window.location.search).get("id");
    return id === null ? "" : id.trim();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var id = input.value.trim();
    input.value = id;
    lookup(id, { push: true });
  });

  input.addEventListener("input", function () {
    if (input.getAttribute("aria-invalid") === "true" && !idProblem(input.value.trim())) {
      input.removeAttribute("aria-invalid");
    }
  });

  window.addEventListener("popstate", function () {
    var id = idFromLocation();
    input.value = id;
    if (id) {
      lookup(id, { push: false });
    } else {
      if (current) current.controller.abort();
      current = null;
      seq++;
      setBusy(false);
      hideResult();
      intro.hidden = false;
      setStatus("", null);
      input.removeAttribute("aria-invalid");
      document.title = "Order lookup · order-service";
    }
  });

  var initial = idFromLocation();
  if (initial) {
    input.value = initial;
    lookup(initial, { push: false });
  } else {
    input.focus();
  }
})();

// An order's items: a table with a totals row that checks the payment's goods total.
import { el } from "./dom.js";
import { money, moneyText, plural, val } from "./values.js";

var ITEM_COLUMNS = [
  ["Name", ""], ["Brand", ""], ["Size", ""], ["Price", "num"], ["Sale", "num"],
  ["Total price", "num"], ["Status", "num"], ["nm_id", "num mono"], ["chrt_id", "num mono"],
];

export function renderItems(items, payment) {
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

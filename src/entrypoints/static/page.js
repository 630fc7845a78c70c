// The page's shared helpers, used by every view (order.js, lists.js, app.js): building
// nodes (dom), values, dates, copy buttons, status messages, asking the service (http),
// cards and fields, and what an order id may be. No side effects when loaded.

// ============================================================ dom

// Building the page from data. The page's safety rule (see app.js): a value from the
// service goes into the page as text (textContent, text nodes), never as markup
// (innerHTML), so a field that holds HTML shows that HTML as text. These helpers are the
// way every view builds its nodes.

// el("div", {class: "x", "aria-label": "y"}, child, "text", ...): strings become text
// nodes; null/undefined/false children are skipped.
export function el(tag, attrs) {
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

export function append(node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    child.forEach(function (c) { append(node, c); });
  } else if (child instanceof Node) {
    node.appendChild(child);
  } else {
    node.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// ============================================================ values

// Values for display: text, money, counts.

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

// ============================================================ dates

// Dates for display: in UTC, with the local time and a relative hint.

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
export function dateNode(date, raw) {
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

export function fromUnixSeconds(s) {
  return typeof s === "number" && isFinite(s) ? new Date(s * 1000) : null;
}

export function fromIso(s) {
  return typeof s === "string" && s ? new Date(s) : null;
}

// ============================================================ copy

// "Copy" buttons: put a text on the clipboard, and say for a moment whether it worked.

// getText() is asked at the click, so the button copies what is current then.
export function copyButton(getText, label) {
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

// ============================================================ status

// Status messages: the order lookup's status box and the other views' status lines.

// The box (#status): an icon, a title, an optional detail and an optional action (a
// button). Returns setStatus(kind, title, detail, action), kind: info | loading |
// success | error | warn, or "" with no title to empty the box.
export function statusBox(box) {
  return function setStatus(kind, title, detail, action) {
    clear(box);
    box.className = "status" + (kind ? " status-" + kind : "");
    box.dataset.state = kind || "";
    if (!title) return;
    var icon = el("span", { class: "status-icon", "aria-hidden": "true" });
    var body = el("div", { class: "status-body" },
      el("p", { class: "status-title" }, title),
      detail ? el("p", { class: "status-detail" }, detail) : null);
    box.appendChild(icon);
    box.appendChild(body);
    if (action) box.appendChild(action);
  };
}

// A view's one line of status (.view-status). Returns say(kind, text), kind: loading |
// success | warn | error.
export function statusLine(line) {
  return function say(kind, text) {
    line.className = "view-status" + (kind ? " view-status-" + kind : "");
    line.dataset.state = kind || "";
    line.textContent = text || "";
  };
}

// ============================================================ http

// Asking the service: the whole answer as text, and the message of an error answer.

// fetch(url, init), resolved once the body has arrived: {res, text}.
export function fetchText(url, init) {
  return fetch(url, init).then(function (res) {
    return res.text().then(function (text) { return { res: res, text: text }; });
  });
}

// The service's errors are {"error": {"code": ..., "message": ...}}; null if not one.
export function errorMessage(text) {
  try {
    var body = JSON.parse(text);
    if (body && body.error && typeof body.error.message === "string") return body.error.message;
  } catch (e) { /* not JSON */ }
  return null;
}

// ============================================================ cards

// The blocks an order is shown in: cards with a title, and labelled fields in them.

// A <dt>/<dd> pair in its own <div>. opts: {wide: true, ddClass: "...", name: "..."};
// name: the order field shown (data-field), for the fields shown by their name only.
export function field(label, value, opts) {
  opts = opts || {};
  var dd = el("dd", { class: opts.ddClass || null });
  append(dd, value);
  return el("div", {
    class: "field" + (opts.wide ? " field-wide" : ""), "data-field": opts.name || null,
  }, el("dt", null, label), dd);
}

export function card(title, id, children, extraClass) {
  var h = el("h3", { id: id, class: "card-title" }, title);
  return el("section", { class: "card" + (extraClass ? " " + extraClass : ""), "aria-labelledby": id },
    h, children);
}

// The fields of an object (the order, its delivery, its payment, an item) that the page
// does not show by name: the scalar ones (text, number, true/false, null) whose name is
// not in `known`, as [name, value] in the order the service sent them. So a field added
// to the order model shows on the page without a change here; nested objects and lists
// are left to the raw JSON.
export function otherFields(obj, known) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return [];
  return Object.keys(obj).filter(function (name) {
    return known.indexOf(name) === -1 && isScalar(obj[name]);
  }).map(function (name) { return [name, obj[name]]; });
}

// otherFields as labelled fields: the label is the field's name, the value goes in as
// text (val), like every other value.
export function otherFieldNodes(obj, known) {
  return otherFields(obj, known).map(function (f) {
    return field(f[0], val(f[1]), { name: f[0] });
  });
}

function isScalar(v) {
  return v === null || typeof v === "string" || typeof v === "number" ||
    typeof v === "boolean";
}

// ============================================================ order_id

// What an order id may be. Same rule as the server (order_core/order_id.py): letters,
// digits, '-', '_', '.', but not '.' or '..' alone; at most 64 characters.
var ID_MAX = 64;
var ID_PATTERN = /^(?!\.\.?$)[A-Za-z0-9_.\-]+$/;

// Returns null when the id is fine, else a sentence saying what is wrong.
export function idProblem(id) {
  if (!id) return "Type an order id first.";
  if (id.length > ID_MAX) {
    return "An order id is at most " + ID_MAX + " characters; this one has " + id.length + ".";
  }
  if (!ID_PATTERN.test(id)) {
    return "An order id may hold only letters, digits, “-”, “_” and “.” (no spaces or other signs, and not “.” or “..” alone).";
  }
  return null;
}

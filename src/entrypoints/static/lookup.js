// Looking up one order: the request (one at a time, with a timeout), the status box
// while it runs and after, and the order or nothing in the result section.
import { clear, el } from "./dom.js";
import { errorMessage, fetchText } from "./http.js";
import { idProblem } from "./order_id.js";
import { renderOrder } from "./order_view.js";
import { statusBox } from "./status.js";

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

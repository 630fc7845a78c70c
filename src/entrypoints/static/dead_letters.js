// The admin view of the page (/?view=dead-letters): the latest dead letters, read-only,
// from GET /admin/dead-letters with the admin token the operator pastes. The token stays
// in this script's memory (never stored, never in the address). A reason is whatever a
// broken message made the service say: it goes into the page as text only.
import { dateNode, fromIso } from "./dates.js";
import { clear, el } from "./dom.js";
import { errorMessage, fetchText } from "./http.js";
import { statusLine } from "./status.js";
import { plural, val } from "./values.js";

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
    cell.appendChild(el("span", { class: "tag" }, "replay of " + letter.replay_of));
  }
  // textContent: a reason holding markup shows that markup, it never becomes it.
  cell.appendChild(el("span", { class: "reason-text" }, String(letter.reason || "")));
  return cell;
}

function row(letter) {
  return el("tr", null,
    el("td", { class: "num mono", "data-label": "Offset" }, String(letter.offset)),
    el("td", { "data-label": "Dead-lettered" }, when(letter.dead_lettered_at)),
    el("td", { "data-label": "Source" }, source(letter.source)),
    reason(letter));
}

function render(body) {
  clear(rows);
  body.dead_letters.forEach(function (letter) { rows.appendChild(row(letter)); });
  table.hidden = body.dead_letters.length === 0;
  if (body.dead_letters.length === 0) {
    say("warn", "No dead letters in " + body.topic + ".");
  } else {
    say("success", plural(body.dead_letters.length, "dead letter") + " of " +
      body.topic + ", newest first (offsets " + body.first_offset + " to " +
      (body.next_offset - 1) + " are kept).");
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

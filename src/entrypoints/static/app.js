// Order lookup page for order-service. Plain JavaScript modules, no dependencies: this
// one, the page's entry, wires the order lookup view (form, address, Back and Forward)
// and then starts the other views; order.js is the order view and its lookup, lists.js
// the customer and dead-letter views, page.js the helpers they share.
//
// Safety rule: every value that comes from an order is put into the page with
// textContent / createElement / text nodes (page.js), never with innerHTML, so an order
// whose fields hold HTML shows that HTML as text.
import { startCustomerView, startDeadLettersView } from "./lists.js";
import { lookup, showStart } from "./order.js";
import { idProblem } from "./page.js";

var form = document.getElementById("search");
var input = document.getElementById("order-id");

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
    showStart();
  }
});

var initial = idFromLocation();
if (initial) {
  input.value = initial;
  lookup(initial, { push: false });
} else {
  input.focus();
}

// The other views, after this one (as when they were scripts of their own after it).
startCustomerView();
startDeadLettersView();

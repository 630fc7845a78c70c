// Status messages: the order lookup's status box and the other views' status lines.
import { clear, el } from "./dom.js";

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

// "Copy" buttons: put a text on the clipboard, and say for a moment whether it worked.
import { el } from "./dom.js";

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

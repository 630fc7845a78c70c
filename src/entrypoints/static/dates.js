// Dates for display: in UTC, with the local time and a relative hint.
import { el } from "./dom.js";
import { val } from "./values.js";

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

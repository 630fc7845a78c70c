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

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

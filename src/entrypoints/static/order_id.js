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

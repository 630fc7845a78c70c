#!/usr/bin/env bash
# The benchmark command: servers up, wrk installed, then the suite (arguments go to it,
# e.g. --quick). Prints a table; a full run also rewrites docs/benchmarks.md, docs/scaling.md
# and docs/latency.png.
#
#   scripts/bench.sh [--quick] [python -m bench.run options]
#   scripts/bench.sh profile [--docs] [python -m bench.profile options]   # py-spy profile
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"
scripts/services.sh up
scripts/python-env.sh
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
fi
if [[ "${1:-}" == profile ]]; then
  shift
  exec .venv/bin/python -m bench.profile "$@"
fi
exec .venv/bin/python -m bench.run "$@"

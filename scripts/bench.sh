#!/usr/bin/env bash
# The benchmark command: servers up, wrk installed, then the suite (arguments go to it,
# e.g. --quick). Prints a table; a full run also rewrites docs/benchmarks.md.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"
scripts/services.sh up
scripts/python-env.sh
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
fi
exec .venv/bin/python -m bench.run "$@"

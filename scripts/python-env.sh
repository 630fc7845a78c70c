#!/usr/bin/env bash
# Creates .venv with exactly what uv.lock pins (hash-checked): the project, its server and
# tracing extras and the dev group. Idempotent and quick when nothing changed. uv itself is
# pinned by hash in scripts/uv-requirements.txt and kept in .cache/uv-VERSION.
#   scripts/python-env.sh          install from the lock; fails if uv.lock no longer
#                                  matches pyproject.toml (run `make lock`)
#   scripts/python-env.sh --lock   re-resolve uv.lock to the newest versions pyproject.toml
#                                  allows, then install them (run scripts/test.sh after it)
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "python-env: $PYTHON is older than 3.11 (or missing); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

uv_version=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' scripts/uv-requirements.txt)
UV_HOME=.cache/uv-$uv_version
if [[ ! -x $UV_HOME/bin/uv ]]; then
  rm -rf "$UV_HOME"
  if ! "$PYTHON" -m venv "$UV_HOME" 2>/dev/null; then
    echo "python-env: installing python3-venv" >&2
    rm -rf "$UV_HOME"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    "$PYTHON" -m venv "$UV_HOME"
  fi
  "$UV_HOME/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes \
    -r scripts/uv-requirements.txt
fi
UV=$UV_HOME/bin/uv
# The machine's Python, never one uv would download; the environment is the repository's.
export UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$REPO_DIR/.venv"

if [[ "${1:-}" == --lock ]]; then
  "$UV" lock --upgrade --python "$PYTHON"
fi
# --locked: refuse a lock that does not match pyproject.toml instead of quietly re-resolving.
if ! "$UV" sync --locked --all-extras --python "$PYTHON" --quiet; then
  echo "python-env: uv.lock does not match pyproject.toml (or could not be installed):" \
    "run 'make lock' to re-resolve it, then scripts/test.sh" >&2
  exit 1
fi

#!/usr/bin/env bash
# The one test command: starts the local servers, installs the project, runs the static
# checks and every test suite (unit, integration, fault injection, browser).
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x). The cluster suite is a
# second command, scripts/test-cluster.sh (not run here yet: see docs/scaling.md).
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"

scripts/services.sh up all
scripts/python-env.sh

echo "== static checks"
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
.venv/bin/lint-imports
echo "== deploy checks"; scripts/check-deploy.sh

echo "== tests"
.venv/bin/pytest "$@"

#!/usr/bin/env bash
# The one run command: starts the local servers, installs the project, applies the
# migrations and serves HTTP on :8080 while consuming Kafka. Arguments go to `serve`.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"

scripts/services.sh up
scripts/python-env.sh
exec .venv/bin/order-service serve "$@"

#!/usr/bin/env bash
# Local backing servers for order-service (PostgreSQL, Memcached, Redis, Kafka; Chromium
# install only): up [SERVICE...] | down | start|stop|restart SERVICE... | status | install |
# reset-data. Run `scripts/services.sh help` for the details; the code is scripts/local_services/
# (Python 3.11+, standard library only: on a bare Debian, Debian's python3 is installed first).
set -euo pipefail
if ! command -v python3 >/dev/null 2>&1 && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "[services] apt-get install --no-install-recommends python3" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 python3 >/dev/null
fi
exec python3 "$(dirname "${BASH_SOURCE[0]}")/local_services" "$@"

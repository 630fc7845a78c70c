#!/usr/bin/env bash
# Local backing servers for order-service (PostgreSQL, Memcached, Redis, Kafka; Chromium
# install only): up [SERVICE...] | down | start|stop|restart SERVICE... | status | install |
# reset-data. Run `scripts/services.sh help` for the details; the code is scripts/local_services/.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/local_services" "$@"

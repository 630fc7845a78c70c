#!/usr/bin/env bash
# The cluster suite: starts the local cluster (scripts/services.sh up cluster: three Kafka
# brokers, PostgreSQL under Patroni, PgBouncer, a Redis Cluster, two Memcached nodes) and
# runs against it tests/cluster (a node of each lost mid-flood) and the integration modules
# whose servers the cluster replaces, unchanged: tests/cluster/conftest.py points the test
# kit at the cluster. Not yet part of scripts/test.sh: on a cluster started moments before,
# some scenarios have failed (group coordinators still loading); see docs/scaling.md.
# Extra arguments go to pytest (e.g. scripts/test-cluster.sh -k failover).
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"

scripts/services.sh up cluster
scripts/python-env.sh

echo "== cluster tests"
# tests/cluster first: its conftest sets the endpoints before anything reads them.
.venv/bin/pytest tests/cluster \
  tests/integration/test_cache_contract.py \
  tests/integration/test_postgres_repository.py \
  tests/integration/test_topics.py \
  tests/integration/test_kafka_consumer.py \
  tests/integration/test_kafka_sasl.py \
  "$@"

"""The fault-injection harness: servers off and on, service processes, and the audit.

The audit is the point of every fault test. Whatever was injected, at the end:
- every valid order published is in PostgreSQL exactly once, with its child rows once;
- nothing else is in PostgreSQL (no invalid message got through);
- every invalid message is in the dead-letter topic, with its original bytes and headers
  naming the reason and its source topic, partition and offset;
- the group's committed offsets cover the end offset of every partition;
- and, sampled all along by ``CommitWatch``, no committed offset ever ran ahead of the
  database or the dead-letter topic: each message below a committed offset had been saved
  (its row's ``saved_at`` is earlier) or dead-lettered (its record's timestamp is earlier).

Faults are injected by count, not by luck: a test that needs its fault to land in some
state (a session killed mid-transaction, a process frozen between its database commit and
its offset commit, an instance leaving while work remains) waits for that state, or keeps
the work coming until the count it needs is reached, within a time bound; when the bound is
hit it fails saying which count was not reached. A green run therefore means the fault was
injected as described, and a red one that something is wrong.

Every server address comes from tests/integration/conftest.py (environment variables, the
normal local ports by default), and ``scripts/services.sh`` reads the same ORDER_* port
variables, so the whole suite can run against a second set of servers.
"""

from __future__ import annotations

from tests.faults.harness.audit import audit
from tests.faults.harness.backend_killer import BackendKiller
from tests.faults.harness.commit_watch import CommitWatch
from tests.faults.harness.figures import Figures
from tests.faults.harness.http_load import (
    HttpLoad,
    Sample,
    latency_figures,
    percentile,
    write_samples,
)
from tests.faults.harness.kafka_probe import KafkaProbe
from tests.faults.harness.kafka_topics import new_topic, read_topic
from tests.faults.harness.metrics import has_metric, metric
from tests.faults.harness.paths import ARTIFACTS
from tests.faults.harness.publishing import Publishing, publish
from tests.faults.harness.saved_orders import saved_count, saved_uids
from tests.faults.harness.servers import (
    frozen,
    frozen_services,
    memcached_pid,
    outage,
    service_pid,
    services,
    stopped_services,
)
from tests.faults.harness.service_process import ServiceProcess, Spawn, free_port, service_env
from tests.faults.harness.silent_server import SilentServer
from tests.faults.harness.waiting import all_done, http_up, wait_until
from tests.faults.harness.workload import Workload
from tests.integration.conftest import KAFKA, MEMCACHED

# Temporary: the fault tests still import from here.
__all__ = [
    "ARTIFACTS",
    "KAFKA",
    "MEMCACHED",
    "BackendKiller",
    "CommitWatch",
    "Figures",
    "HttpLoad",
    "KafkaProbe",
    "Publishing",
    "Sample",
    "ServiceProcess",
    "SilentServer",
    "Spawn",
    "Workload",
    "all_done",
    "audit",
    "free_port",
    "frozen",
    "frozen_services",
    "has_metric",
    "http_up",
    "latency_figures",
    "memcached_pid",
    "metric",
    "new_topic",
    "outage",
    "percentile",
    "publish",
    "read_topic",
    "saved_count",
    "saved_uids",
    "service_env",
    "service_pid",
    "services",
    "stopped_services",
    "wait_until",
    "write_samples",
]

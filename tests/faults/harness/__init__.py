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

The modules, one concern each (import each name from the module that defines it):
- servers: the real servers down, up and frozen; backend_killer: PostgreSQL sessions
  terminated; silent_server: a cache server that never answers;
- workload: the messages and what must become of them; publishing: sending them;
  kafka_topics: a test's topics, read back whole; kafka_probe: the group seen from outside;
- service_process: ``order-service`` processes; waiting: ``wait_until`` and its conditions;
- commit_watch: commits sampled all along; saved_orders: what PostgreSQL holds now;
  audit: the end-state check above;
- http_load: requests timed under faults; metrics: Prometheus text; figures: a test's
  figures; paths: where the scripts, the command and the artifacts are.
"""

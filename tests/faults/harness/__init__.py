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

The modules, one reason to change each (import each name from the module that defines it):
- servers: the faults injected: the real servers down, up and frozen (``outage``,
  ``frozen``, ``frozen_postgres``), PostgreSQL sessions terminated (``BackendKiller``), a
  cache server that never answers (``SilentServer``), a link gone silent (``TcpProxy``);
- processes: ``order-service`` processes (``service_env``, ``free_port``, ``ServiceProcess``),
  and ``wait_until`` with ``http_up``;
- kafka: a test's topics (``new_topic``), read back whole (``read_topic``), and the group
  seen from outside (``KafkaProbe``, ``all_done``);
- workload: the messages and what must become of them (``Workload``), and sending them
  (``publish``, ``Publishing``);
- audit: the end-state check above (``audit``), the commits sampled all along
  (``CommitWatch``), and what PostgreSQL holds now (``saved_count``, ``saved_uids``);
- measures: a test's figures and where they are written (``Figures``, ``ARTIFACTS``),
  requests timed under faults (``HttpLoad``), and Prometheus text (``metric``).
"""

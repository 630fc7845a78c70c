"""What "ready" and "alive" mean for a running instance, for every server that reports them."""

from __future__ import annotations

import attrs

from entrypoints.container import Probes
from entrypoints.http.bodies import Health, Readiness
from entrypoints.worker import ConsumerThread
from order_core import CacheUnavailable, RepositoryFailed, RepositoryUnavailable


@attrs.frozen
class Report:
    kind: str  # "health" or "readiness"
    ok: bool
    checks: dict[str, str]

    def body(self) -> Health | Readiness:
        if self.kind == "health":
            return Health("ok" if self.ok else "failing", self.checks)
        return Readiness(self.ok, self.checks)


def consumer_check(consumer: ConsumerThread | None, max_stall: float) -> str | None:
    """The consumer's status line ("ok" when ready), or None when this process has none.

    Progress, not reachability: whatever the cause (a save blocked on a lock, a database
    that does not answer, retries, a frozen thread), work that waits longer than
    ``max_stall`` with no batch completed makes the consumer not ready.
    """
    if consumer is None:
        return None
    if consumer.failure is not None:
        return f"stopped: {consumer.failure}"
    if consumer.consumer is not None and not consumer.alive:
        return "stopped"
    state = consumer.state
    if state is None or not state.running:
        waiting = f" ({consumer.waiting_for})" if consumer.waiting_for else ""
        return f"not started yet{waiting}"
    stalled = state.stalled_for()
    if max_stall and stalled > max_stall:
        why = f": {state.last_error}" if state.last_error else ": a save has not returned"
        return (
            f"no batch completed for {stalled:.0f}s while work waits (limit {max_stall:.0f}s){why}"
        )
    # Saved, yet not acknowledged: on a cluster that lost its in-sync replicas (or the
    # group's coordinator) nothing is committed, and the consumer may sit idle meanwhile.
    unacknowledged = state.commits_failing_for()
    if max_stall and unacknowledged > max_stall:
        return (
            f"offsets not committed for {unacknowledged:.0f}s (limit {max_stall:.0f}s):"
            f" {state.commit_error}"
        )
    return "ok"


def liveness(consumer: ConsumerThread | None) -> Report:
    """Alive unless the consumer died: then a restart is the cure."""
    if consumer is not None and consumer.failure is not None:
        return Report("health", False, {"consumer": f"stopped: {consumer.failure}"})
    return Report("health", True, {})


def readiness(probes: Probes, consumer: ConsumerThread | None) -> Report:
    """Blocking: pings the repository and the cache."""
    checks: dict[str, str] = {}
    try:
        probes.repository()
        checks["repository"] = "ok"
    except (RepositoryUnavailable, RepositoryFailed) as exc:
        checks["repository"] = f"unavailable: {exc}"
    try:
        probes.cache()
        checks["cache"] = "ok"
    except CacheUnavailable as exc:
        # Not fatal for lookups (they fall back to the repository), but worth showing.
        checks["cache"] = f"degraded: {exc}"
    consumer_status = consumer_check(consumer, probes.max_stall)
    if consumer_status is not None:
        checks["consumer"] = consumer_status
    ok = checks["repository"] == "ok" and checks.get("consumer", "ok") == "ok"
    return Report("readiness", ok, checks)

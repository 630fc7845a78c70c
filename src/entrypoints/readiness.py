"""What "ready" and "alive" mean for a running instance, for every server that reports them."""

from __future__ import annotations

import attrs

from entrypoints.background import ConsumerThread
from entrypoints.container import Container
from order_core import CacheUnavailable, RepositoryFailed, RepositoryUnavailable


@attrs.frozen
class Report:
    kind: str  # "health" or "readiness"
    ok: bool
    checks: dict[str, str]

    def body(self) -> dict[str, object]:
        if self.kind == "health":
            return {
                "status": "ok" if self.ok else "failing",
                **({"checks": self.checks} if self.checks else {}),
            }
        return {"ready": self.ok, "checks": self.checks}


def consumer_check(consumer: ConsumerThread | None, max_retry: float) -> str | None:
    """The consumer's status line, or None when this process has no consumer."""
    if consumer is None:
        return None
    if consumer.failure is not None:
        return f"stopped: {consumer.failure}"
    state = consumer.state
    if state is not None and max_retry and state.retrying_for() > max_retry:
        return f"retrying one batch for {state.retrying_for():.0f}s (limit {max_retry:.0f}s)"
    if consumer.consumer is not None and not consumer.alive:
        return "stopped"
    return "ok"


def liveness(consumer: ConsumerThread | None) -> Report:
    """Alive unless the consumer died: then a restart is the cure."""
    if consumer is not None and consumer.failure is not None:
        return Report("health", False, {"consumer": f"stopped: {consumer.failure}"})
    return Report("health", True, {})


def readiness(container: Container, consumer: ConsumerThread | None) -> Report:
    """Blocking: pings the repository and the cache."""
    checks: dict[str, str] = {}
    try:
        container.repository().ping()
        checks["repository"] = "ok"
    except (RepositoryUnavailable, RepositoryFailed) as exc:
        checks["repository"] = f"unavailable: {exc}"
    try:
        container.cache().get("readyz-probe")
        checks["cache"] = "ok"
    except CacheUnavailable as exc:
        # Not fatal for lookups (they fall back to the repository), but worth showing.
        checks["cache"] = f"degraded: {exc}"
    consumer_status = consumer_check(consumer, container.settings().ready_max_retry)
    if consumer_status is not None:
        checks["consumer"] = consumer_status
    ok = checks["repository"] == "ok" and checks.get("consumer", "ok") == "ok"
    return Report("readiness", ok, checks)

"""Waiting for a state, within a time bound, and the states the tests wait for."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import httpx
from confluent_kafka import KafkaException

from tests.faults.harness.kafka_probe import KafkaProbe
from tests.faults.harness.service_process import ServiceProcess


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    processes: Iterable[ServiceProcess] = (),
    every: float = 0.2,
) -> float:
    """Wait for ``condition``; fail at once if a watched process died. Returns the seconds."""
    started = time.monotonic()
    watched = list(processes)
    while True:
        if condition():
            return time.monotonic() - started
        for process in watched:
            if not process.alive:
                raise AssertionError(
                    f"{process.log_path.name} exited ({process.proc.returncode}) while waiting "
                    f"for {what}:\n{process.output()[-3000:]}"
                )
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def all_done(probe: KafkaProbe, ends: Mapping[int, int]) -> Callable[[], bool]:
    """True once the group has committed up to ``ends`` on every partition."""

    def check() -> bool:
        try:
            return probe.committed(timeout=5) == dict(ends)
        except KafkaException:
            return False

    return check


def http_up(url: str) -> Callable[[], bool]:
    """True once ``url`` answers at all (any status)."""

    def check() -> bool:
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            return False
        return True

    return check

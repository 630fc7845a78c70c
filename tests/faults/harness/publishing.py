"""Publishing a workload to Kafka: all at once, or in the background while faults land."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from adapters.kafka.publisher import KafkaPublisher
from tests.faults.harness.workload import Workload
from tests.integration.conftest import KAFKA


def _publisher() -> KafkaPublisher:
    return KafkaPublisher(KAFKA, {"log_level": "0"})


def publish(
    topic: str,
    workload: Workload,
    rate: float = 0.0,
    chunk: int = 500,
    start: int = 0,
    stop: int | None = None,
) -> float:
    """Publish the workload, or pairs[start:stop] of it (at ``rate`` messages/s if given);
    return the seconds it took."""
    publisher = _publisher()
    started = time.monotonic()
    stop = len(workload.pairs) if stop is None else stop
    sent = 0
    try:
        for first in range(start, stop, chunk):
            sent += publisher.publish(topic, workload.records(first, min(first + chunk, stop)))
            if rate:
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
    finally:
        publisher.close()
    return time.monotonic() - started


class Publishing:
    """Publishes a workload in a background thread (to inject faults while it runs).

    Without ``until`` it publishes the whole workload. With ``until`` it publishes at least
    ``at_least`` messages and then goes on (into the rest of the workload: the reserve)
    until ``until()`` is true, so that the work never runs out before the fault the test
    waits for has been injected; it fails, saying what was awaited (``awaited()``), when the
    reserve runs out first. ``published`` is the part to audit.
    """

    def __init__(
        self,
        topic: str,
        workload: Workload,
        rate: float,
        chunk: int = 250,
        *,
        until: Callable[[], bool] | None = None,
        at_least: int | None = None,
        awaited: Callable[[], str] = lambda: "the fault",
    ) -> None:
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.sent = 0
        self._workload = workload
        self._until = until
        self._awaited = awaited
        self._at_least = len(workload.pairs) if at_least is None else at_least
        self._thread = threading.Thread(
            target=self._run, args=(topic, workload, rate, chunk), daemon=True
        )
        self._thread.start()

    def _run(self, topic: str, workload: Workload, rate: float, chunk: int) -> None:
        started = time.monotonic()
        publisher = _publisher()
        try:
            total = len(workload.pairs)
            while self.sent < total:
                if self.sent >= self._at_least and (self._until is None or self._until()):
                    break
                stop = min(self.sent + chunk, total)
                self.sent += publisher.publish(topic, workload.records(self.sent, stop))
                time.sleep(max(0.0, started + self.sent / rate - time.monotonic()))
            else:
                if self._until is not None and not self._until():
                    raise AssertionError(
                        f"all {total} messages of the reserve were published in "
                        f"{time.monotonic() - started:.0f}s before {self._awaited()}"
                    )
        except BaseException as exc:
            self.error = exc
        finally:
            publisher.close()
            self.seconds = time.monotonic() - started

    @property
    def published(self) -> Workload:
        """What was published: the workload the audit must find."""
        assert not self._thread.is_alive(), "still publishing"
        return self._workload.prefix(self.sent)

    def join(self, timeout: float = 180.0) -> float:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "publishing did not finish"
        if self.error is not None:
            raise AssertionError(f"publishing failed: {self.error!r}") from self.error
        return self.seconds

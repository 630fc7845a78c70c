"""The messages a test publishes, what the service must make of them, and publishing them.

``Workload`` is the messages and the expected outcome the audit checks against; ``publish``
sends them all at once, ``Publishing`` in the background while faults land.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import attrs
import orjson

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record as KafkaRecord
from order_tools.fake_orders import messages
from tests.support import KAFKA

Headers = list[tuple[str, bytes]]


@attrs.define
class Workload:
    """The messages a test publishes, and what the service must make of them."""

    pairs: list[tuple[bytes | None, bytes]]
    headers: list[Headers]
    valid_values: dict[bytes, str]  # message bytes -> order_uid, for every valid message
    expected_items: int  # item rows the valid orders must leave, once each
    ok: list[bool] = attrs.field(factory=list, repr=False)  # per message: a valid order?

    @classmethod
    def generate(
        cls,
        count: int,
        seed: int,
        invalid_ratio: float = 0.05,
        extra_invalid: Sequence[tuple[bytes | None, bytes]] = (),
        poison_run: Sequence[tuple[bytes | None, bytes]] = (),
    ) -> Workload:
        """``count`` generated messages; ``extra_invalid`` are spread evenly among them and
        ``poison_run`` (invalid messages back to back) goes in the middle. The generator is
        a stream: the first N messages of a larger workload are those of a workload of N."""
        generated = [(k, v, ok) for k, v, ok in messages(count, seed, invalid_ratio)]
        middle = len(generated) // 2
        generated[middle:middle] = [(k, v, False) for k, v in poison_run]
        every = max(1, len(generated) // (len(extra_invalid) + 1))
        merged: list[tuple[bytes | None, bytes, bool]] = []
        extras = iter(extra_invalid)
        for index, message in enumerate(generated):
            merged.append(message)
            if (index + 1) % every == 0 and (extra := next(extras, None)) is not None:
                merged.append((extra[0], extra[1], False))
        merged.extend((k, v, False) for k, v in extras)
        return cls.of(merged)

    @classmethod
    def of(cls, merged: Sequence[tuple[bytes | None, bytes, bool]]) -> Workload:
        valid_values: dict[bytes, str] = {}
        items = 0
        for _, value, ok in merged:
            if ok and value not in valid_values:
                document = orjson.loads(value)
                valid_values[value] = document["order_uid"]
                items += len(document["items"])
        headers: list[Headers] = [
            [("fault-suite.seq", str(i).encode())] for i in range(len(merged))
        ]
        return cls(
            [(k, v) for k, v, _ in merged], headers, valid_values, items, [ok for *_, ok in merged]
        )

    def prefix(self, count: int) -> Workload:
        """The first ``count`` messages, as a workload of their own (what was published)."""
        return Workload.of(
            [(k, v, ok) for (k, v), ok in zip(self.pairs[:count], self.ok[:count], strict=True)]
        )

    @property
    def valid_uids(self) -> set[str]:
        return set(self.valid_values.values())

    @property
    def invalid_count(self) -> int:
        return sum(1 for _, value in self.pairs if value not in self.valid_values)

    def records(self, start: int = 0, stop: int | None = None) -> list[KafkaRecord]:
        stop = len(self.pairs) if stop is None else stop
        return [
            KafkaRecord(key, value, tuple(headers))
            for (key, value), headers in zip(
                self.pairs[start:stop], self.headers[start:stop], strict=True
            )
        ]

    def valid_uids_in(self, start: int, stop: int | None) -> list[str]:
        """The order_uids of the valid messages among pairs[start:stop], first copies only."""
        seen: dict[str, None] = {}
        for _, value in self.pairs[start:stop]:
            if (uid := self.valid_values.get(value)) is not None:
                seen.setdefault(uid)
        return list(seen)


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

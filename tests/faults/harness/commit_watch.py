"""The group's commits sampled all along, and the check that none ran ahead of the work."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Mapping, Sequence

from confluent_kafka import KafkaException

from tests.faults.harness.kafka_probe import KafkaProbe
from tests.faults.harness.kafka_topics import Record
from tests.faults.harness.workload import Workload


class CommitWatch:
    """Samples the group's committed offsets in the background, with the time of each sample."""

    def __init__(self, topic: str, group: str, partitions: int, every: float = 0.1) -> None:
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._probe = KafkaProbe(topic, group, partitions)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    committed = self._probe.committed(timeout=5)
                except KafkaException:
                    committed = None  # the broker is away: no sample
                if committed is not None:
                    # Taken after the answer: anything committed then was committed before now.
                    self.samples.append((time.time(), committed))
                self._stop.wait(self._every)
        finally:
            self._probe.close()

    def committed_between(self, start: float, end: float) -> int:
        """Messages committed between two Unix times (from the samples nearest to them)."""
        inside = [total for when, total in self.totals() if start <= when <= end]
        return inside[-1] - inside[0] if len(inside) >= 2 else 0

    def totals(self) -> list[tuple[float, int]]:
        """(Unix time, sum of the committed offsets) of every sample."""
        return [(when, sum(committed.values())) for when, committed in list(self.samples)]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def __enter__(self) -> CommitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def commits_ahead_of_work(
    samples: Sequence[tuple[float, Mapping[int, int]]],
    source: Mapping[tuple[int, int], Record],
    workload: Workload,
    saved_at: Mapping[str, float],
    dead_at: Mapping[tuple[int, int], float],
) -> list[str]:
    """Samples where a committed offset passed a message not yet saved nor dead-lettered."""
    # For each partition: offsets in order, and the time by which all up to each were done.
    done_by: dict[int, tuple[list[int], list[float]]] = {}
    for (partition, offset), record in sorted(source.items()):
        uid = workload.valid_values.get(record.value)
        done = saved_at.get(uid, float("inf")) if uid else dead_at.get((partition, offset))
        offsets, times = done_by.setdefault(partition, ([], []))
        previous = times[-1] if times else 0.0
        offsets.append(offset)
        times.append(max(previous, float("inf") if done is None else done))
    violations = []
    for when, committed in samples:
        for partition, offset in committed.items():
            if offset <= 0 or partition not in done_by:
                continue
            offsets, times = done_by[partition]
            index = bisect.bisect_left(offsets, offset) - 1
            # 1 ms of slack: the dead-letter timestamps have millisecond precision.
            if index >= 0 and times[index] > when + 0.001:
                violations.append(
                    f"partition {partition} was committed to {offset} at {when:.3f}, before "
                    f"its messages were all saved or dead-lettered ({times[index]:.3f})"
                )
    return violations

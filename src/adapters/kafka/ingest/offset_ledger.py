"""The offset ledger: which offsets may be committed, whatever the rebalances do.

Pure bookkeeping, no Kafka client: the consumer reports what it fetched, what is done
(saved or dead-lettered), what failed, and every assignment change; the ledger answers
what to commit and where to resume. Its one promise, held by a stateful property test:
**a committed offset never passes a message that was neither saved nor dead-lettered.**

How: per partition and per assignment (an epoch), fetched runs of offsets are kept in
order; the commit point only moves over a prefix of runs that are all done. Work fetched
under an earlier assignment can never move the commit point of a later one, and a failed
batch is dropped and re-read from its first offset, never skipped.
"""

from __future__ import annotations

import itertools

import attrs

TopicPartition = tuple[str, int]

_epochs = itertools.count(1)


@attrs.frozen
class Span:
    """Offsets ``first`` to ``last`` of one partition, fetched under assignment ``epoch``."""

    partition: TopicPartition
    epoch: int
    first: int
    last: int


@attrs.define
class _Run:
    span: Span
    done: bool = False


@attrs.define
class _Partition:
    epoch: int
    done_until: int | None  # every message below this is done (None: nothing known yet)
    committed: int | None  # what the group has committed, as far as we know
    runs: list[_Run] = attrs.Factory(list)


class OffsetLedger:
    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, _Partition] = {}
        # Done but not committed when the partition was taken away: kept in case it comes back.
        self._set_aside: dict[TopicPartition, int] = {}

    def set_aside(self, partition: TopicPartition) -> int | None:
        """The done offset kept for a partition we may get back, if any."""
        return self._set_aside.get(partition)

    def assign(self, partition: TopicPartition, committed: int | None = None) -> int | None:
        """Start tracking a partition given to us; ``committed`` is the group's commit.

        Returns the offset to start from when work done before losing it lies beyond
        that commit (resume there, and commit it), else None (start at the commit).
        """
        saved = self._set_aside.pop(partition, None)
        start = saved if saved is not None and (committed is None or saved > committed) else None
        self._partitions[partition] = _Partition(
            epoch=next(_epochs), done_until=start, committed=committed
        )
        return start

    def revoke(self, partition: TopicPartition) -> int | None:
        """The partition is being handed over: forget it, and return the offset to commit
        before it goes (None: nothing new). If that commit fails, call ``keep_aside``."""
        state = self._partitions.pop(partition, None)
        if state is None:
            return None
        return self._uncommitted(state)

    def lose(self, partition: TopicPartition) -> None:
        """The partition is gone without a chance to commit: keep what was done aside."""
        state = self._partitions.pop(partition, None)
        if state is not None and (pending := self._uncommitted(state)) is not None:
            self.keep_aside(partition, pending)

    def keep_aside(self, partition: TopicPartition, offset: int) -> None:
        """Everything below ``offset`` is done but not committed, and the partition is gone:
        if it comes back, resume there rather than at an older commit."""
        self._set_aside[partition] = max(self._set_aside.get(partition, -1), offset)

    def fetched(self, partition: TopicPartition, first: int, last: int) -> Span | None:
        """Record a fetched run of a partition's messages; None if they are not ours to
        handle (the partition is not assigned to us, or they are already done)."""
        state = self._partitions.get(partition)
        if state is None or last < first:
            return None
        if state.done_until is not None and first < state.done_until:
            if last < state.done_until:
                return None  # a re-delivery of what is done (a seek raced a fetch)
            first = state.done_until  # straddles the mark: only the rest is new
        span = Span(partition, state.epoch, first, last)
        state.runs.append(_Run(span))
        return span

    def done(self, span: Span) -> None:
        """The span's messages are saved or dead-lettered (ignored for an old assignment)."""
        state = self._partitions.get(span.partition)
        if state is None or state.epoch != span.epoch:
            return
        for run in state.runs:
            if run.span == span:
                run.done = True
        self._advance(state)

    def rewind(self) -> dict[TopicPartition, int]:
        """Handling failed: drop every run not done; return, per partition, the offset to
        fetch again from (its first message not done)."""
        positions: dict[TopicPartition, int] = {}
        for partition, state in self._partitions.items():
            self._advance(state)
            if state.runs:
                positions[partition] = state.runs[0].span.first
            state.runs.clear()
        return positions

    def pending(self) -> bool:
        """Whether any fetched run of an assigned partition is not done yet."""
        return any(not run.done for state in self._partitions.values() for run in state.runs)

    def to_commit(self) -> dict[TopicPartition, int]:
        """Offsets that may be committed now, beyond what is committed."""
        result: dict[TopicPartition, int] = {}
        for partition, state in self._partitions.items():
            if (pending := self._uncommitted(state)) is not None:
                result[partition] = pending
        return result

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        """The group has acknowledged these commits."""
        for partition, offset in offsets.items():
            state = self._partitions.get(partition)
            if state is not None and (state.committed is None or offset > state.committed):
                state.committed = offset

    @classmethod
    def _uncommitted(cls, state: _Partition) -> int | None:
        cls._advance(state)
        until = state.done_until
        if until is not None and (state.committed is None or until > state.committed):
            return until
        return None

    @staticmethod
    def _advance(state: _Partition) -> None:
        while state.runs and state.runs[0].done:
            state.done_until = state.runs.pop(0).span.last + 1

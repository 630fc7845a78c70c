"""The offset ledger under every interleaving of fetches, saves, failures, commits and
rebalances, against a model of the broker: no committed offset ever passes a message that
was neither saved nor dead-lettered (by us or by whoever owned the partition)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.kafka.ingest.offset_ledger import OffsetLedger, Span

PARTITIONS = [("orders", 0), ("orders", 1)]
partitions = st.sampled_from(PARTITIONS)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = OffsetLedger()
        self.log_end = dict.fromkeys(PARTITIONS, 0)  # messages in each partition
        self.committed = dict.fromkeys(PARTITIONS, 0)  # the group's commit, on the broker
        self.done: dict[tuple[str, int], set[int]] = {p: set() for p in PARTITIONS}
        self.ours: set[tuple[str, int]] = set()
        self.position: dict[tuple[str, int], int] = {}  # our fetch position
        self.in_hand: list[Span] = []  # fetched, not yet saved

    # -- the log and the other members of the group ------------------------------------------

    @rule(partition=partitions, count=st.integers(1, 5))
    def produce(self, partition: tuple[str, int], count: int) -> None:
        self.log_end[partition] += count

    @rule(partition=partitions, count=st.integers(1, 5), commits=st.booleans())
    def another_member_works(self, partition: tuple[str, int], count: int, commits: bool) -> None:
        """While the partition is not ours, another member saves from the commit on, and
        commits (or crashes before it does)."""
        if partition in self.ours:
            return
        start = self.committed[partition]
        end = min(start + count, self.log_end[partition])
        self.done[partition].update(range(start, end))
        if commits:
            self.committed[partition] = end

    # -- rebalances ------------------------------------------------------------------------

    @rule(partition=partitions, commit_readable=st.booleans())
    def assign(self, partition: tuple[str, int], commit_readable: bool) -> None:
        if partition in self.ours:
            return
        known = self.committed[partition] if commit_readable else None
        start = self.ledger.assign(partition, known)
        self.ours.add(partition)
        self.position[partition] = self.committed[partition] if start is None else start

    @rule(partition=partitions, commit_works=st.booleans())
    def revoke(self, partition: tuple[str, int], commit_works: bool) -> None:
        if partition not in self.ours:
            return
        offset = self.ledger.revoke(partition)
        if offset is not None:
            if commit_works:
                self.committed[partition] = offset
            else:
                self.ledger.keep_aside(partition, offset)
        self.ours.discard(partition)

    @rule(partition=partitions)
    def lose(self, partition: tuple[str, int]) -> None:
        """The membership lapsed (a long pause, a network cut): no chance to commit."""
        if partition in self.ours:
            self.ledger.lose(partition)
            self.ours.discard(partition)

    # -- our consumer --------------------------------------------------------------------------

    @rule(partition=partitions, count=st.integers(1, 4))
    def fetch(self, partition: tuple[str, int], count: int) -> None:
        if partition not in self.ours:
            return
        first = self.position[partition]
        last = min(first + count, self.log_end[partition]) - 1
        if last < first:
            return
        span = self.ledger.fetched(partition, first, last)
        self.position[partition] = last + 1
        if span is not None:
            self.in_hand.append(span)

    @precondition(lambda self: self.in_hand)
    @rule(saved=st.integers(0, 10))
    def save_succeeds(self, saved: int) -> None:
        """The first ``saved`` spans in hand are saved (or dead-lettered), in order."""
        for span in self.in_hand[:saved]:
            self.done[span.partition].update(range(span.first, span.last + 1))
            self.ledger.done(span)
        del self.in_hand[:saved]

    @precondition(lambda self: self.in_hand)
    @rule(partly=st.booleans())
    def save_fails(self, partly: bool) -> None:
        """The database is down: nothing (or, after a bisection step, some) is saved; the
        batch is dropped and read again from where the ledger says."""
        if partly:
            span = self.in_hand[0]
            self.done[span.partition].add(span.first)  # saved, but the ledger is not told
        for partition, offset in self.ledger.rewind().items():
            self.position[partition] = offset
        self.in_hand.clear()

    @rule(works=st.booleans())
    def commit(self, works: bool) -> None:
        offsets = self.ledger.to_commit()
        if not offsets or not works or not set(offsets) <= self.ours:
            return  # a failed commit: kept for the next try
        self.committed.update(offsets)
        self.ledger.committed(offsets)

    @rule()
    def shutdown_and_restart(self) -> None:
        """Close: commit what is done, leave the group; a new process starts empty."""
        self.commit(works=True)
        for partition in sorted(self.ours):
            self.revoke(partition, commit_works=True)
        self.ledger = OffsetLedger()
        self.in_hand.clear()

    # -- the promise -------------------------------------------------------------------------

    @invariant()
    def no_commit_passes_an_unsaved_message(self) -> None:
        for partition, offset in self.committed.items():
            missing = set(range(offset)) - self.done[partition]
            assert not missing, f"{partition} committed at {offset}, {sorted(missing)} unsaved"

    @invariant()
    def commits_never_pass_the_log(self) -> None:
        for partition, offset in self.committed.items():
            assert offset <= self.log_end[partition]


LedgerMachine.TestCase.settings = settings(max_examples=600, stateful_step_count=60, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase

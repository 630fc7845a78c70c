"""Offsets against the group: commits, and the rebalance callbacks that keep the ledger
in step with what the group gives and takes away."""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from adapters.kafka.ingest.offset_ledger import OffsetLedger
from adapters.kafka.ingest.state import ConsumerState

log = logging.getLogger("adapters.kafka.ingest.consumer")


def _key(tp: TopicPartition) -> tuple[str, int]:
    return tp.topic, tp.partition


def _partitions(offsets: dict[tuple[str, int], int]) -> list[TopicPartition]:
    return [TopicPartition(t, p, o) for (t, p), o in offsets.items()]


class GroupOffsets:
    """Commits what the ledger allows, and answers the group's rebalance callbacks.

    ``settle`` is called before partitions are handed over: it finishes the batch in
    flight, so its offsets can be committed by us rather than read again by the next owner.
    """

    def __init__(
        self,
        consumer: Consumer,
        ledger: OffsetLedger,
        state: ConsumerState,
        settle: Callable[[], None],
    ) -> None:
        self._consumer = consumer
        self._ledger = ledger
        self._state = state
        self._settle = settle
        self.paused = False  # a retry wait is on: new partitions start paused too

    def commit(self) -> None:
        offsets = self._ledger.to_commit()
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=_partitions(offsets), asynchronous=False)
        except KafkaException as exc:
            # Kept for the next try. If our membership lapsed, the partitions are revoked
            # or lost next, and the ledger sets their done offsets aside.
            log.warning("commit failed, will retry: %s", exc.args[0])
            self._state.commit_failed(str(exc.args[0]))
            return
        self._ledger.committed(offsets)
        self._state.committed_now()

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", sorted(_key(tp) for tp in partitions))
        if not partitions:
            return
        returning = [tp for tp in partitions if self._ledger.set_aside(_key(tp)) is not None]
        committed = self._committed_of(consumer, returning)
        starts = []
        for tp in partitions:
            start = self._ledger.assign(_key(tp), committed.get(_key(tp)))
            if start is None:
                starts.append(tp)
            else:
                log.info("resuming %s[%d] at %d, done before the rebalance", *_key(tp), start)
                starts.append(TopicPartition(tp.topic, tp.partition, start))
        consumer.incremental_assign(starts)
        if self.paused:
            consumer.pause(starts)

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("revoked %s", sorted(_key(tp) for tp in partitions))
        self._settle()
        done = {
            _key(tp): offset
            for tp in partitions
            if (offset := self._ledger.revoke(_key(tp))) is not None
        }
        if not done:
            return
        # Commit what was done for these partitions before another consumer takes them.
        try:
            consumer.commit(offsets=_partitions(done), asynchronous=False)
        except KafkaException as exc:
            log.warning("commit on revoke failed: %s", exc)
            for partition, offset in done.items():
                self._ledger.keep_aside(partition, offset)
            return
        self._state.committed_now()

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("lost %s", sorted(_key(tp) for tp in partitions))
        self._settle()  # the batch in flight is done before its partitions' work is set aside
        for tp in partitions:
            self._ledger.lose(_key(tp))

    def _committed_of(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        try:
            return {_key(tp): tp.offset for tp in consumer.committed(partitions, timeout=5)}
        except KafkaException as exc:
            log.warning("cannot read committed offsets: %s", exc)
            return {}

"""Sends dead letters to the dead-letter topic, each once, always deliverable.

The records are built by ``format`` (the original plus ``dlq.*`` headers, or a stub when
the broker refuses it as too large).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from adapters.kafka.client.publisher import KafkaPublisher, PublishFailed, PublishRefused
from adapters.kafka.dead_letters.format import (
    DEFAULT_MAX_RECORD_BYTES,
    LAST_RESORT_REASON_BYTES,
    Source,
    dead_letter,
    stub,
)

REMEMBERED_LETTERS = 100_000


class DeadLetterPublisher:
    """Sends dead letters; a record the broker refuses as too large goes again as a stub.

    Raises PublishFailed (try again later) or PublishRefused for any other refusal (the
    topic is missing, access is denied: retrying cannot help). The source coordinates of
    the last ``REMEMBERED_LETTERS`` acknowledged dead letters are remembered, so a batch
    retried after some of its dead letters went through does not send those twice. (After
    a crash, a message whose offset was not committed is read again and its dead letter
    may be written twice: the readers show the coordinates, which say so.)
    """

    def __init__(
        self, publisher: KafkaPublisher, topic: str, max_bytes: int = DEFAULT_MAX_RECORD_BYTES
    ) -> None:
        self._publisher = publisher
        self.topic = topic
        self.max_bytes = max_bytes
        self._acknowledged: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    def send(self, letters: Sequence[tuple[Source, str]]) -> int:
        fresh = [(s, r) for s, r in letters if _coordinates(s) not in self._acknowledged]
        sent = self._send(fresh)
        self._remember(fresh)
        return sent + len(letters) - len(fresh)

    def _remember(self, letters: Sequence[tuple[Source, str]]) -> None:
        for source, _ in letters:
            self._acknowledged[_coordinates(source)] = None
        while len(self._acknowledged) > REMEMBERED_LETTERS:
            self._acknowledged.popitem(last=False)

    def _send(self, letters: Sequence[tuple[Source, str]]) -> int:
        if not letters:
            return 0
        records = [dead_letter(source, reason, self.max_bytes) for source, reason in letters]
        try:
            return self._publisher.publish(self.topic, records)
        except PublishFailed as exc:
            self._remember([letters[i] for i in sorted(exc.delivered)])
            raise
        except PublishRefused as exc:
            if not exc.only_too_large:
                raise
            refused = list(exc.refused)
        # The topic's own limit is lower than ours: stubs, and if even those are too
        # large, stubs with a short reason; only a topic smaller than that refuses for good.
        try:
            return (
                len(records)
                - len(refused)
                + self._publisher.publish(self.topic, [stub(*letters[i]) for i in refused])
            )
        except PublishRefused as exc:
            if not exc.only_too_large:
                raise
            last = [stub(*letters[refused[i]], LAST_RESORT_REASON_BYTES) for i in exc.refused]
            return len(records) - len(last) + self._publisher.publish(self.topic, last)


def _coordinates(source: Source) -> tuple[str, int, int]:
    return source.topic, source.partition, source.offset

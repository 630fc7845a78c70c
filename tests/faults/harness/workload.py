"""The messages a test publishes, and what the service must make of them."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import orjson

from adapters.kafka.records import Record as KafkaRecord
from order_tools.fake_orders import messages

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

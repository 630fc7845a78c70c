"""Save-then-cache: turn a batch of raw messages into saved, cached orders."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from order_core.cache_writer import CacheWriter
from order_core.codec import decode_order, encode_order
from order_core.errors import FieldError, InvalidOrder, RejectedByRepository
from order_core.model import Order
from order_core.ports import EncodedOrder, NoTelemetry, OrderRepository, Telemetry

DEFAULT_MAX_MESSAGE_BYTES = 1_000_000


@attrs.frozen
class Rejected:
    """A message that is not a valid order: its position in the batch and why."""

    index: int
    reason: str


@attrs.frozen
class IngestResult:
    inserted: frozenset[str]  # order_uids saved for the first time
    already_stored: int  # valid orders whose order_uid was stored before (replays, repeats)
    rejected: tuple[Rejected, ...]
    accepted: tuple[tuple[int, str], ...] = ()  # (message index, order_uid) of valid messages


class SaveThenCache:
    """Validate a batch, save the valid orders in one transaction, then cache them.

    If the repository raises, nothing was saved and the exception propagates: the caller
    must not acknowledge the batch. Cache failures are counted and never propagate.
    """

    def __init__(
        self,
        repository: OrderRepository,
        cache_writer: CacheWriter,
        telemetry: Telemetry | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._repository = repository
        self._cache_writer = cache_writer
        self._telemetry = telemetry or NoTelemetry()
        self._max_message_bytes = max_message_bytes

    def __call__(self, messages: Sequence[bytes]) -> IngestResult:
        valid: dict[str, EncodedOrder] = {}
        positions: dict[str, int] = {}
        rejected: list[Rejected] = []
        accepted: list[tuple[int, str]] = []
        repeats = 0
        for index, raw in enumerate(messages):
            try:
                order = self._parse(raw)
            except InvalidOrder as exc:
                rejected.append(Rejected(index, str(exc)))
                continue
            accepted.append((index, order.order_uid))
            if order.order_uid in valid:  # orders never change: the first copy wins
                repeats += 1
                continue
            valid[order.order_uid] = EncodedOrder(order, encode_order(order))
            positions[order.order_uid] = index

        inserted = self._save(valid, positions, rejected)
        rejected.sort(key=lambda r: r.index)
        # Only after the commit: the cache never holds an order the repository lacks.
        self._cache_writer.store(
            {uid: valid[uid].document for uid in inserted},
            stale=[uid for uid in valid if uid not in inserted],
        )
        already_stored = repeats + len(valid) - len(inserted)
        self._telemetry.count("orders_saved", len(inserted))
        self._telemetry.count("orders_already_stored", already_stored)
        self._telemetry.count("orders_rejected", len(rejected))
        refused = {r.index for r in rejected}
        return IngestResult(
            frozenset(inserted),
            already_stored,
            tuple(rejected),
            tuple(a for a in accepted if a[0] not in refused),
        )

    def _save(
        self, valid: dict[str, EncodedOrder], positions: dict[str, int], rejected: list[Rejected]
    ) -> set[str]:
        if not valid:
            return set()
        try:
            return self._repository.save_many(list(valid.values()))
        except RejectedByRepository:
            pass
        # Rare: the store refused something validation let through. Save one order at a
        # time to find it, so that one bad order cannot hold up the whole partition.
        inserted: set[str] = set()
        for uid, encoded in list(valid.items()):
            try:
                inserted |= self._repository.save_many([encoded])
            except RejectedByRepository as exc:
                rejected.append(Rejected(positions[uid], f"refused by the store: {exc}"))
                del valid[uid]
        return inserted

    def _parse(self, raw: bytes) -> Order:
        if len(raw) > self._max_message_bytes:
            raise InvalidOrder(
                [
                    FieldError(
                        "",
                        f"message is {len(raw)} bytes, over the limit of {self._max_message_bytes}",
                    )
                ]
            )
        return decode_order(raw)

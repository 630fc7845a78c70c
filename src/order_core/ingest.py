"""Save-then-cache: turn a batch of raw messages into saved, cached orders.

Every message ends in exactly one of three outcomes: saved (new), already stored (a
replay or a repeat of a saved order_uid), or rejected with a reason (invalid, or refused
by the store). The repository's errors that are not about one order propagate.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from order_core.cache_gateway import CacheGateway
from order_core.codec import decode_order, encode_order
from order_core.errors import FieldError, InvalidOrder, RejectedByRepository
from order_core.model import Order
from order_core.ports import EncodedOrder, NoTelemetry, OrderRepository, Telemetry

DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
MAX_REASON_CHARS = 2_000  # a dead-letter reason stays small whatever the message holds


@attrs.frozen
class Rejected:
    """A message that is not a valid order, or one the store refused: its index and why."""

    index: int
    reason: str


@attrs.frozen
class IngestResult:
    inserted: frozenset[str]  # order_uids saved for the first time
    already_stored: int  # valid orders whose order_uid was stored before (replays, repeats)
    rejected: tuple[Rejected, ...]
    accepted: tuple[tuple[int, str], ...] = ()  # (message index, order_uid) of saved or stored


@attrs.frozen
class PreparedBatch:
    """A batch validated and encoded, ready to be stored."""

    size: int
    rejected: list[Rejected]
    copies: dict[str, list[tuple[int, Order]]]  # every valid copy by order_uid, in order
    first: list[EncodedOrder]  # the first copy of each order_uid, encoded


class SaveThenCache:
    """Validate a batch, save the valid orders in one transaction, then cache them.

    If the repository raises RepositoryUnavailable or RepositoryFailed, the exception
    propagates and the caller must not acknowledge the batch (part of it may be saved;
    saving again is harmless). An order the store refuses is found by bisecting the batch
    and rejected with the store's reason. Cache failures never propagate.
    """

    def __init__(
        self,
        repository: OrderRepository,
        cache: CacheGateway,
        telemetry: Telemetry | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._telemetry = telemetry or NoTelemetry()
        self._max_message_bytes = max_message_bytes

    def __call__(self, messages: Sequence[bytes]) -> IngestResult:
        return self.store(self.prepare(messages))

    def prepare(self, messages: Sequence[bytes]) -> PreparedBatch:
        """Validate and encode a batch (CPU only: no I/O, safe to run ahead of ``store``)."""
        rejected: list[Rejected] = []
        copies: dict[str, list[tuple[int, Order]]] = {}  # every valid copy, in message order
        for index, raw in enumerate(messages):
            try:
                order = self._parse(raw)
            except InvalidOrder as exc:
                rejected.append(Rejected(index, _capped(str(exc))))
                continue
            copies.setdefault(order.order_uid, []).append((index, order))
        first = [EncodedOrder(runs[0][1], encode_order(runs[0][1])) for runs in copies.values()]
        return PreparedBatch(len(messages), rejected, copies, first)

    def store(self, batch: PreparedBatch) -> IngestResult:
        """Save a prepared batch in one transaction, then cache what was saved."""
        if not batch.size:
            self._cache.repair()  # an idle moment: mend failed cache writes
            return IngestResult(frozenset(), 0, ())
        rejected = list(batch.rejected)
        copies = {uid: list(runs) for uid, runs in batch.copies.items()}
        inserted, stored = self._save_rounds(batch.first, copies, rejected)
        # Only after the commit: the cache never holds an order the repository lacks.
        self._cache.store(
            {uid: stored[uid].document for uid in inserted},
            stale=[uid for uid in stored if uid not in inserted],
        )
        accepted = sorted((index, uid) for uid, runs in copies.items() for index, _ in runs)
        already_stored = len(accepted) - len(inserted)
        rejected.sort(key=lambda r: r.index)
        self._telemetry.count("orders_saved", len(inserted))
        self._telemetry.count("orders_already_stored", already_stored)
        self._telemetry.count("orders_rejected", len(rejected))
        return IngestResult(frozenset(inserted), already_stored, tuple(rejected), tuple(accepted))

    def _save_rounds(
        self,
        first: list[EncodedOrder],
        copies: dict[str, list[tuple[int, Order]]],
        rejected: list[Rejected],
    ) -> tuple[set[str], dict[str, EncodedOrder]]:
        """Save the first copy of each order_uid; if the store refuses one, its next copy
        (if any) gets its turn in the next round: the first copy the store takes wins."""
        inserted: set[str] = set()
        stored: dict[str, EncodedOrder] = {}
        batch = first
        while batch:
            saved, refused = self._save_isolating(batch)
            inserted |= saved
            pending = []
            for encoded in batch:
                uid = encoded.order_uid
                if uid not in refused:
                    stored[uid] = encoded
                    continue
                index, _ = copies[uid].pop(0)
                rejected.append(Rejected(index, _capped(f"refused by the store: {refused[uid]}")))
                if copies[uid]:
                    pending.append(uid)
                else:
                    del copies[uid]
            batch = [EncodedOrder(o, encode_order(o)) for o in (copies[u][0][1] for u in pending)]
        return inserted, stored

    def _save_isolating(self, batch: list[EncodedOrder]) -> tuple[set[str], dict[str, str]]:
        """Save the batch; when the store refuses it, bisect to find the orders it refuses.

        k refused orders in n cost O(k log n) transactions, not n.
        """
        try:
            return self._repository.save_many(batch), {}
        except RejectedByRepository as exc:
            if len(batch) == 1:
                return set(), {batch[0].order_uid: str(exc)}
        middle = len(batch) // 2
        saved, refused = self._save_isolating(batch[:middle])
        more_saved, more_refused = self._save_isolating(batch[middle:])
        return saved | more_saved, refused | more_refused

    def _parse(self, raw: bytes) -> Order:
        if len(raw) > self._max_message_bytes:
            reason = f"message is {len(raw)} bytes, over the limit of {self._max_message_bytes}"
            raise InvalidOrder([FieldError("", reason)])
        return decode_order(raw)


def _capped(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"

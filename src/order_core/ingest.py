"""Save-then-cache: turn a batch of raw messages into saved, cached orders.

Every message ends in exactly one of three outcomes: saved (new), already stored (a
replay, or a repeat of a saved order with the same document), or rejected with a reason:
invalid, refused by the store, or a *conflict* (a different document under an order_uid
already stored: the stored one is kept, and the message is set aside saying so, with the
SHA-256 of both documents). The repository's errors that are not about one order propagate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import attrs

from order_core.cache_gateway import CacheGateway
from order_core.codec import decode_order, encode_order
from order_core.errors import FieldError, InvalidOrder, RejectedByRepository, RepositoryFailed
from order_core.model import Order
from order_core.ports import EncodedOrder, NoTelemetry, OrderRepository, Telemetry

DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
MAX_REASON_CHARS = 2_000  # a dead-letter reason stays small whatever the message holds
CONFLICT = "conflict"  # the first word of a conflict's reason: its class
# A batch at least this large whose every order the store refuses for one and the same
# reason is taken as the store's fault (a rule of the database that no order can meet),
# not as that many bad orders: the consumer stops and says so instead of dead-lettering.
UNANIMOUS_REFUSAL_MIN_ORDERS = 8


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
        inserted, stored, conflicting = self._save_rounds(batch.first, copies, rejected)
        # Only after the commit: the cache never holds an order the repository lacks.
        self._cache.store(
            {uid: stored[uid].document for uid in inserted},
            stale=[uid for uid in stored if uid not in inserted],
        )
        conflicts = _set_aside_conflicts(copies, stored, conflicting)
        rejected.extend(conflicts)
        accepted = sorted((index, uid) for uid, runs in copies.items() for index, _ in runs)
        already_stored = len(accepted) - len(inserted)
        rejected.sort(key=lambda r: r.index)
        self._telemetry.count("orders_saved", len(inserted))
        self._telemetry.count("orders_already_stored", already_stored)
        self._telemetry.count("orders_conflicting", len(conflicts))
        self._telemetry.count("orders_rejected", len(rejected) - len(conflicts))
        return IngestResult(frozenset(inserted), already_stored, tuple(rejected), tuple(accepted))

    def _save_rounds(
        self,
        first: list[EncodedOrder],
        copies: dict[str, list[tuple[int, Order]]],
        rejected: list[Rejected],
    ) -> tuple[set[str], dict[str, EncodedOrder], dict[str, str]]:
        """Save the first copy of each order_uid; if the store refuses one, its next copy
        (if any) gets its turn in the next round: the first copy the store takes wins.
        Returns what was inserted, what is stored, and the SHA-256 of the stored document
        of each order_uid found stored with a different one."""
        inserted: set[str] = set()
        stored: dict[str, EncodedOrder] = {}
        conflicting: dict[str, str] = {}
        batch = first
        first_round = True
        while batch:
            saved, refused, differing = self._save_isolating(batch)
            if first_round:
                _unless_unanimous(batch, refused)
                first_round = False
            inserted |= saved
            conflicting.update(differing)
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
        return inserted, stored, conflicting

    def _save_isolating(
        self, batch: list[EncodedOrder]
    ) -> tuple[set[str], dict[str, str], dict[str, str]]:
        """Save the batch; when the store refuses it, bisect to find the orders it refuses.
        Returns (inserted, refused with the store's reason, conflicting with the stored
        document's SHA-256).

        k refused orders in n cost O(k log n) transactions, not n.
        """
        try:
            result = self._repository.save_many(batch)
            return set(result.inserted), {}, dict(result.conflicting)
        except RejectedByRepository as exc:
            if len(batch) == 1:
                return set(), {batch[0].order_uid: str(exc)}, {}
        middle = len(batch) // 2
        saved, refused, conflicting = self._save_isolating(batch[:middle])
        more_saved, more_refused, more_conflicting = self._save_isolating(batch[middle:])
        return saved | more_saved, refused | more_refused, conflicting | more_conflicting

    def _parse(self, raw: bytes) -> Order:
        if len(raw) > self._max_message_bytes:
            reason = f"message is {len(raw)} bytes, over the limit of {self._max_message_bytes}"
            raise InvalidOrder([FieldError("", reason)])
        return decode_order(raw)


def _unless_unanimous(batch: list[EncodedOrder], refused: dict[str, str]) -> None:
    """Raise RepositoryFailed when a batch large enough was refused whole, for one reason."""
    if len(batch) >= UNANIMOUS_REFUSAL_MIN_ORDERS and len(refused) == len(batch):
        reasons = set(refused.values())
        if len(reasons) == 1:
            raise RepositoryFailed(
                f"the store refused all {len(batch)} orders of a batch for the same reason,"
                f" which is its own rule, not their data: {reasons.pop()}"
            )


def _set_aside_conflicts(
    copies: dict[str, list[tuple[int, Order]]],
    stored: dict[str, EncodedOrder],
    conflicting: dict[str, str],
) -> list[Rejected]:
    """Take out of ``copies`` every message whose document differs from the stored one of
    its order_uid; return them as conflicts. Later copies in the batch are held to what is
    stored: the copy saved now, or the document stored before."""
    conflicts: list[Rejected] = []
    for uid, runs in copies.items():
        if uid not in stored:
            continue
        kept_digest = conflicting.get(uid) or _digest(stored[uid].document)
        first_document = stored[uid].document
        same: list[tuple[int, Order]] = []
        for position, (index, order) in enumerate(runs):
            document = first_document if position == 0 else encode_order(order)
            digest = _digest(document)
            if digest == kept_digest:
                same.append((index, order))
            else:
                conflicts.append(Rejected(index, _conflict_reason(uid, kept_digest, digest)))
        runs[:] = same
    return conflicts


def _conflict_reason(order_uid: str, stored: str, this: str) -> str:
    return (
        f"{CONFLICT}: order {order_uid} is already stored with a different document"
        f" (stored sha256 {stored}, this message's {this}); the stored one is kept"
    )


def _digest(document: bytes) -> str:
    return hashlib.sha256(document).hexdigest()


def _capped(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"

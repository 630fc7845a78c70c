"""Exceptions the core raises, and the ones adapters raise so the core can react to them."""

from __future__ import annotations

import attrs


@attrs.frozen
class FieldError:
    """One problem with one field, named by its path (``payment.amount``, ``items[0].price``)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class InvalidOrder(ValueError):
    """A message that is not a valid order. Holds every problem found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in errors))


class InvalidOrderId(ValueError):
    """An order id that may not be looked up (empty, too long, characters outside the safe set)."""


class RepositoryUnavailable(RuntimeError):
    """The source of truth cannot be reached; the caller must not act as if work was saved."""


class RejectedByRepository(ValueError):
    """The store refused the data itself (a constraint, a value it cannot hold).

    Retrying the same batch cannot succeed, so the caller must find and set aside the
    offending order rather than wait for the store.
    """


class CacheUnavailable(RuntimeError):
    """The cache failed. Never fatal: the core falls back to the repository."""

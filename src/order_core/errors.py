"""The core's exceptions. Every failure falls into one of these classes, and each class
has one defined outcome for the caller (see each docstring)."""

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
    """A message that is not a valid order: dead-letter it. Holds every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in errors))


class InvalidOrderId(ValueError):
    """An order id that may not be looked up: answer 400."""


class InvalidPageRequest(ValueError):
    """A request for a page of a list that cannot be answered (a bad customer id, limit or
    cursor): answer 400. ``parameter`` names the culprit."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        super().__init__(f"'{parameter}' {reason}")


class RepositoryUnavailable(RuntimeError):
    """The store cannot do the work now but may later (down, failing over, overloaded,
    a conflict with another transaction): retry; nothing was saved."""


class RejectedByRepository(ValueError):
    """The store refused the data itself (a value it cannot hold, a constraint).

    Retrying cannot help: find the offending order and dead-letter it.
    """


class RepositoryFailed(RuntimeError):
    """The store failed in a way that neither waiting nor setting an order aside mends
    (a missing table or privilege, a bug): stop consuming and say why."""


class CacheUnavailable(RuntimeError):
    """The cache failed. Never fatal: the core falls back to the repository."""

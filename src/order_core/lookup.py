"""Cache-then-repository lookups: the read path of the service.

A lookup is one operation, ``CacheThenRepository.plan``: its steps, in their order, with
what each needs. Process memory is asked in the plan itself (it never blocks); the plan
then yields the steps that may block, each marked with where it belongs, and its caller
runs each there and sends its answer back: a server puts the shared cache on threads of
its own and the repository on others, bounded by a timeout the step states, so that misses
never hold up hits. ``get_document`` runs the same plan in the caller's thread.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Generator

import attrs

from order_core.breaker import CircuitBreaker
from order_core.cache_gateway import ABSENT, CacheGateway
from order_core.codec import decode_order
from order_core.errors import RepositoryUnavailable
from order_core.model import Order
from order_core.order_id import check_order_uid
from order_core.ports import NoTelemetry, OrderRepository, Telemetry
from order_core.single_flight import SingleFlight


@attrs.frozen
class Answer:
    """The final answer to a lookup: the order's document, or None when there is no such
    order; and which step gave it."""

    document: bytes | None
    source: str = "memory"


class Place(enum.Enum):
    """Where a step that may block belongs."""

    CACHE = "cache"  # a shared cache: blocks briefly, or for its timeout when it hangs
    REPOSITORY = "repository"  # the store: may block up to ``timeout``


@attrs.frozen
class Step:
    """One step of a lookup plan: run ``call`` at ``place`` and send its result back. With a
    ``timeout``, a caller that gives up after it sends ``timed_out()`` into the plan as the
    error instead (``throw``)."""

    place: Place
    call: Callable[[], Answer | None]
    timeout: float | None = None
    timed_out: Callable[[], Exception] | None = None


# The repository step's bound: a miss answers 503 after this long without an answer (the
# pool's own wait for a connection is as long: either way, the same outcome).
REPOSITORY_TIMEOUT = 5.0

Plan = Generator[Step, Answer | None, Answer]


class CacheThenRepository:
    """Answer from the cache; on a miss read the repository once and fill the cache.

    Concurrent misses for one id share one repository read. An unknown id is cached as
    absent for the negative ttl; saving the order replaces that entry, so a new order is
    visible at once. While the repository is known to be down (its circuit is open), a
    miss fails at once instead of waiting for a connection.
    """

    def __init__(
        self,
        repository: OrderRepository,
        cache: CacheGateway,
        telemetry: Telemetry | None = None,
        repository_breaker: CircuitBreaker | None = None,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._telemetry = telemetry or NoTelemetry()
        self.repository_breaker = repository_breaker or CircuitBreaker(
            "repository", reset_after=1.0, telemetry=self._telemetry
        )
        self._flight: SingleFlight[tuple[str, int], bytes | None] = SingleFlight()

    def plan(self, order_uid: str, repository_timeout: float = REPOSITORY_TIMEOUT) -> Answer | Plan:
        """The lookup of one order (see the module's docstring): its answer at once when
        process memory holds it, else the plan of the steps that may block. Raises
        InvalidOrderId for a bad id; the plan raises RepositoryUnavailable when a miss
        cannot be answered."""
        answer = self.answer_from_memory(order_uid)
        if answer is not None:
            return answer  # a hit costs no generator: most lookups end here
        return self._blocking_steps(order_uid, repository_timeout)

    def _blocking_steps(self, order_uid: str, repository_timeout: float) -> Plan:
        if self.cache_may_block:
            answer = yield Step(Place.CACHE, functools.partial(self.answer_from_cache, order_uid))
            if answer is not None:
                return answer
        if self.repository_refused():
            raise RepositoryUnavailable("the order store is down; not retried for a moment")
        answer = yield Step(
            Place.REPOSITORY,
            functools.partial(self.answer_from_repository, order_uid),
            repository_timeout,
            functools.partial(self.repository_did_not_answer, repository_timeout),
        )
        assert answer is not None  # the repository always answers (document or None)
        return answer

    def get_document(self, order_uid: str) -> bytes | None:
        """The order's JSON document, or None when there is no such order. Raises
        InvalidOrderId for a bad id and RepositoryUnavailable when a miss cannot be answered."""
        plan = self.plan(order_uid)
        if isinstance(plan, Answer):
            return plan.document
        try:
            step = next(plan)
            while True:
                step = plan.send(step.call())
        except StopIteration as done:
            answer: Answer = done.value
            return answer.document

    def get(self, order_uid: str) -> Order | None:
        """The order itself, for library users who want objects rather than JSON."""
        document = self.get_document(order_uid)
        return None if document is None else decode_order(document)

    def answer_from_memory(self, order_uid: str) -> Answer | None:
        """Step 1, never blocks: the answer if this process holds it. Checks the id."""
        check_order_uid(order_uid)
        return self._counted(self._cache.peek(order_uid))

    @property
    def cache_may_block(self) -> bool:
        """Whether step 2 can block (a shared cache); with a local one it has nothing to add."""
        return not self._cache.local

    def answer_from_cache(self, order_uid: str) -> Answer | None:
        """Step 2: the cache's answer, or None on a miss (or when the cache fails)."""
        if self._cache.local:
            return None  # step 1 has already asked it
        return self._counted(self._cache.read(order_uid), "cache")

    def repository_refused(self) -> bool:
        """Whether step 3 would be refused now (its circuit is open), asked before handing
        it to a thread: while the store hangs, every thread may be waiting on it."""
        if self.repository_breaker.refusing():
            self._telemetry.count("cache_misses")  # as step 3 would have counted it
            self._telemetry.count("repository_circuit_skipped")
            return True
        return False

    def repository_did_not_answer(self, seconds: float) -> RepositoryUnavailable:
        """Step 3 outlived its caller's patience: open the circuit (a store that hangs
        costs one wait per trial, not one per miss); the error to raise."""
        self.repository_breaker.failed()
        return RepositoryUnavailable(f"the order store did not answer within {seconds:g} s")

    def answer_from_repository(self, order_uid: str) -> Answer:
        """Step 3: read the repository (once for concurrent callers) and fill the cache."""
        self._telemetry.count("cache_misses")
        if not self.repository_breaker.allow():
            raise RepositoryUnavailable("the order store is down; not retried for a moment")
        try:
            # Shared only with reads begun since the last store: one begun before it may
            # have missed an order that store made visible.
            key = (order_uid, self._cache.writes)
            document = self._flight.run(key, lambda: self._read_through(order_uid))
        except RepositoryUnavailable:
            self.repository_breaker.failed()
            raise
        self.repository_breaker.succeeded()
        return Answer(document, "repository")

    def _read_through(self, order_uid: str) -> bytes | None:
        self._telemetry.count("repository_reads")
        document = self._repository.get_document(order_uid)
        self._cache.fill(order_uid, document)
        return document

    def _counted(self, cached: bytes | None, source: str = "memory") -> Answer | None:
        if cached is None:
            return None
        if cached == ABSENT:
            self._telemetry.count("cache_negative_hits")
            return Answer(None, source)
        self._telemetry.count("cache_hits")
        return Answer(cached, source)

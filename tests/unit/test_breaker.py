"""The circuit breaker: one failure opens it, one trial per period, success closes it."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from order_core import CircuitBreaker


class Counting:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.gauges: dict[str, float] = {}

    def count(self, event: str, amount: int = 1) -> None:
        self.counts[event] = self.counts.get(event, 0) + amount

    def gauge(self, name: str, value: float) -> None:
        self.gauges[name] = value


def test_a_failure_opens_the_circuit_and_a_trial_closes_it() -> None:
    now = [0.0]
    telemetry = Counting()
    breaker = CircuitBreaker("cache", reset_after=5, telemetry=telemetry, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failed()
    assert telemetry.gauges["cache_circuit_open"] == 1
    assert not breaker.allow()
    now[0] = 5
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.succeeded()
    assert breaker.allow()
    assert telemetry.gauges["cache_circuit_open"] == 0
    assert telemetry.counts["cache_circuit_skipped"] == 2


@given(st.lists(st.sampled_from(["call_ok", "call_fails", "wait"]), max_size=60))
def test_a_hanging_dependency_is_tried_at_most_once_per_period_and_refusing_foretells_it(
    steps: list[str],
) -> None:
    now = [0.0]
    breaker = CircuitBreaker("cache", reset_after=5, clock=lambda: now[0])
    failing_calls: list[float] = []
    for step in steps:
        if step == "wait":
            now[0] += 1
            continue
        refusing = breaker.refusing()
        assert breaker.refusing() == refusing  # asking changes nothing
        allowed = breaker.allow()
        assert allowed == (not refusing)  # it foretells allow()
        if allowed:
            if step == "call_fails":
                failing_calls.append(now[0])
                breaker.failed()
            else:
                breaker.succeeded()
    # Between two failures that reached the dependency, a whole period has passed.
    for earlier, later in itertools.pairwise(failing_calls):
        assert later - earlier >= 5 or later == earlier

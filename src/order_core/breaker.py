"""A circuit breaker: after a failure, skip a dependency for a while instead of waiting on it.

Closed: every call goes through. A failure opens it: calls are refused at once for
``reset_after`` seconds. Then one trial call goes through (half-open); its success closes
the circuit, its failure opens it again. A dependency that hangs therefore costs one
timeout per ``reset_after``, not one per call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from order_core.ports import NoTelemetry, Telemetry

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        reset_after: float = 5.0,
        telemetry: Telemetry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.reset_after = reset_after
        self._telemetry = telemetry or NoTelemetry()
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    @property
    def is_open(self) -> bool:
        """True while calls are being refused (the trial call aside)."""
        return self.state != CLOSED

    def refusing(self) -> bool:
        """Would ``allow`` refuse a call now? Asks without counting or starting a trial."""
        with self._lock:
            if self._state == CLOSED:
                return False
            return self._trial_running or self._clock() - self._opened_at < self.reset_after

    def allow(self) -> bool:
        """May a call go through now? A refused call is counted as skipped."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if not self._trial_running and self._clock() - self._opened_at >= self.reset_after:
                self._trial_running = True
                self._change(HALF_OPEN)
                return True
        self._telemetry.count(f"{self.name}_circuit_skipped")
        return False

    def succeeded(self) -> None:
        with self._lock:
            self._trial_running = False
            if self._state != CLOSED:
                self._change(CLOSED)

    def failed(self) -> None:
        with self._lock:
            self._trial_running = False
            self._opened_at = self._clock()
            if self._state != OPEN:
                self._change(OPEN)

    def _change(self, state: str) -> None:
        # Called with the lock held; logged once per change, not once per call.
        self._state = state
        self._telemetry.gauge(f"{self.name}_circuit_open", 0.0 if state == CLOSED else 1.0)
        log.warning("%s circuit %s", self.name, state, extra={"dependency": self.name})

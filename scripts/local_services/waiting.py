"""Polling until something is ready: a ``Probe`` answers READY, WAIT (not yet) or DEAD."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from pathlib import Path

from local_services.output import Fail, log


class Probe(enum.Enum):
    READY = "ready"
    WAIT = "not yet"
    DEAD = "gave up"


def wait_for(desc: str, timeout: float, probe: Callable[[], Probe], quiet: bool = False) -> bool:
    """Poll PROBE until READY (True), DEAD or TIMEOUT (False, with a message unless quiet)."""
    start = time.monotonic()
    result = probe()
    if result is not Probe.WAIT:
        return result is Probe.READY
    if not quiet:
        log(f"waiting for {desc} (timeout {timeout:g}s)...")
    next_note = 5.0
    while (elapsed := time.monotonic() - start) < timeout:
        time.sleep(0.25)
        result = probe()
        if result is not Probe.WAIT:
            if result is Probe.READY and not quiet:
                log(f"{desc}: ready after {elapsed:.0f}s")
            return result is Probe.READY
        if elapsed >= next_note and not quiet:
            log(f"  ...still waiting for {desc} ({elapsed:.0f}s)")
            next_note += 10
    return False


def await_ready(desc: str, timeout: float, probe: Callable[[], Probe], *logs: Path) -> None:
    if not wait_for(desc, timeout, probe):
        why = "the process exited" if probe() is Probe.DEAD else f"timed out after {timeout:g}s"
        raise Fail(f"{desc}: not ready ({why})", *logs)

"""One services.sh at a time: an exclusive flock on STATE/.lock, waited for."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from local_services.output import Fail, log


def take_lock(state: Path, timeout: float) -> int:
    """An exclusive flock on STATE/.lock (the same lock as the former bash script took)."""
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / ".lock", os.O_WRONLY | os.O_CREAT, 0o644)  # close-on-exec
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not waited:
            log(f"another services.sh is running; waiting for its lock ({state}/.lock)...")
            waited = True
        if time.monotonic() >= deadline:
            raise Fail(f"timed out after {timeout:g}s waiting for the lock {state}/.lock")
        time.sleep(0.2)

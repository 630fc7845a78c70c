"""The consumer's settings, its observable state, and the error that stops it for good."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from adapters.telemetry.events import ConsumerProgress
from order_core.ingest import IngestResult, PreparedBatch


class BatchIngest(Protocol):
    """The use case the consumer drives (order_core.SaveThenCache)."""

    def prepare(self, messages: Sequence[bytes]) -> PreparedBatch: ...

    def store(self, batch: PreparedBatch) -> IngestResult: ...


class ConsumerFailed(RuntimeError):
    """The consumer stopped for good; the message says why."""


@attrs.frozen
class ConsumerSettings:
    bootstrap_servers: str
    topic: str
    group_id: str
    batch_size: int
    retry_max: float  # the backoff's cap, seconds
    retry_initial: float = 0.5
    # consume() waits for a full batch up to this long: short, so that at a steady trickle
    # an order is stored within tens of milliseconds, not half a second.
    poll_timeout: float = 0.05
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 300_000
    client_config: Mapping[str, str] = attrs.field(factory=dict)  # any librdkafka property
    # A batch also ends once its keys and values reach this many bytes (at least one
    # message a batch): memory follows bytes, not counts (the README's sizing formula).
    batch_max_bytes: int = 16 * 1024 * 1024
    # A save that has not returned after this long is abandoned (retried on another
    # connection); the repository's own deadline should come first.
    save_timeout: float = 40.0
    # On stop, the batch in hand gets this long to finish before it is abandoned (it is
    # read again by whoever gets its partitions: nothing was committed for it).
    shutdown_timeout: float = 10.0


@attrs.define
class ConsumerState:
    """What the consumer is doing, for readiness, metrics and tests."""

    running: bool = False
    failure: str | None = None
    retrying_since: float | None = None  # monotonic time the current batch first failed
    last_error: str | None = None  # why the current batch failed last
    # Progress: work is waiting (fetched and not done, or being retried) and when a batch
    # last completed or the consumer was last caught up (monotonic).
    work_waiting: bool = False
    last_progress_at: float = attrs.field(factory=time.monotonic)
    last_commit_at: float | None = None  # Unix time of the last offset commit
    # Done work the group has not acknowledged: since when commits fail (monotonic), why.
    commit_failing_since: float | None = None
    commit_error: str | None = None
    batches: int = 0
    messages: int = 0
    saved: int = 0
    already_stored: int = 0
    dead_lettered: int = 0
    retries: int = 0
    attempts: int = 0  # failed attempts at the current batch
    commits: int = 0

    def retrying_for(self) -> float:
        return 0.0 if self.retrying_since is None else time.monotonic() - self.retrying_since

    def progress(self) -> ConsumerProgress:
        return ConsumerProgress(self.running, self.retrying_for(), self.last_commit_at)

    def stalled_for(self) -> float:
        """How long work has waited with no batch completed (0 when caught up)."""
        return time.monotonic() - self.last_progress_at if self.work_waiting else 0.0

    def working(self) -> None:
        """A batch was handed to the saver."""
        if not self.work_waiting:
            self.work_waiting = True
            self.last_progress_at = time.monotonic()

    def caught_up(self) -> None:
        """Nothing fetched waits (and nothing is retried: its partitions may have gone)."""
        self.work_waiting = False
        self.retrying_since = None
        self.last_error = None
        self.last_progress_at = time.monotonic()

    def batch_done(self, size: int, result: IngestResult) -> float | None:
        """Count a finished batch; if it ended a retry, return how long that lasted."""
        self.batches += 1
        self.messages += size
        self.saved += len(result.inserted)
        self.already_stored += result.already_stored
        self.dead_lettered += len(result.rejected)
        recovered = self.retrying_for() if self.retrying_since is not None else None
        self.retrying_since = None
        self.last_error = None
        self.last_progress_at = time.monotonic()
        return recovered

    def batch_failed(self, error: str = "") -> int:
        """Count a failed attempt; return how many the current batch has had."""
        self.retries += 1
        self.work_waiting = True
        self.last_error = error or None
        if self.retrying_since is None:
            self.retrying_since = time.monotonic()
            self.attempts = 0
        self.attempts += 1
        return self.attempts

    def committed_now(self) -> None:
        self.commits += 1
        self.last_commit_at = time.time()
        self.commit_failing_since = self.commit_error = None

    def commit_failed(self, error: str) -> None:
        self.commit_error = error
        if self.commit_failing_since is None:
            self.commit_failing_since = time.monotonic()

    def commits_failing_for(self) -> float:
        """How long done work has waited for the group to acknowledge it (0: it has not)."""
        since = self.commit_failing_since
        return 0.0 if since is None else time.monotonic() - since

"""What the service reports, as typed events: the producers (the consumer, the HTTP app)
know these, not the metrics library; ``prometheus`` turns each into its metrics."""

from __future__ import annotations

import attrs


@attrs.frozen
class ConsumerProgress:
    """The consumer's state as it goes (reported often: cheap to build)."""

    running: bool
    retrying_for: float  # seconds the current batch has been retried; 0 when it is not
    last_commit_at: float | None  # Unix time of the last offset commit

"""A test's figures, for the summary and test-artifacts/faults."""

from __future__ import annotations


class Figures:
    """A test's figures: printed in one line and written to test-artifacts/faults/<test>.txt."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.values: dict[str, object] = {}

    def record(self, **values: object) -> None:
        self.values.update(values)

    def line(self) -> str:
        def shown(value: object) -> str:
            return f"{value:.3f}" if isinstance(value, float) else str(value)

        return f"{self.test}: " + " ".join(f"{k}={shown(v)}" for k, v in self.values.items())

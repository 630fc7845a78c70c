"""Reading the service's Prometheus text output."""

from __future__ import annotations

from collections.abc import Mapping


def metric(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """A sample's value from Prometheus text output (0 when absent)."""
    wanted = name
    if labels:
        wanted += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def has_metric(text: str, name: str) -> bool:
    """Whether the Prometheus text output has a sample of ``name`` (without labels)."""
    return any(line.startswith(name + " ") for line in text.splitlines())

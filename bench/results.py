"""Everything a benchmark run measured, in one record: the machine and the settings, the load
around it, and the runs of each phase (ingest, ceiling and baseline, lookups and the sweep,
visibility, scaling, memory); the tables and the plot are rendered from it, and
``--json`` writes it as it is.
"""

from __future__ import annotations

import attrs

from bench.ceiling import CeilingRun
from bench.ingest import IngestRun
from bench.lookup_scenarios import ScenarioResult, SweepPoint
from bench.memory import MemoryRun
from bench.scaling import ScalingRun
from bench.visibility import VisibilityRun


@attrs.define
class Results:
    machine: dict[str, str]
    settings: dict[str, object]
    load_before: str = ""
    load_after: str = ""
    load_during: dict[str, str] = attrs.Factory(dict)  # phase -> load average at its start
    foreign_cores: dict[str, float] = attrs.Factory(dict)  # phase -> others' CPU, in cores
    servers: str = ""
    publish_seconds: float | None = None
    ingest: list[IngestRun] = attrs.Factory(list)
    ceiling: list[CeilingRun] = attrs.Factory(list)
    baseline: list[IngestRun] = attrs.Factory(list)
    baseline_commit_share: list[float] = attrs.Factory(list)
    lookups: list[ScenarioResult] = attrs.Factory(list)
    sweep: list[SweepPoint] = attrs.Factory(list)
    visibility: list[VisibilityRun] = attrs.Factory(list)
    scaling: list[ScalingRun] = attrs.Factory(list)
    memory: list[MemoryRun] = attrs.Factory(list)

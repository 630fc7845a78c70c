"""The results as markdown: the machine and the servers first, then the targets as
PASS/MISS, then each phase's section (ingest, lookup, visibility, scaling, memory), each
rendered by its own ``bench.report_*`` module; the plot is ``bench.latency_plot``.
"""

from __future__ import annotations

from bench.report_ingest import ingest_lines
from bench.report_lookup import lookup_lines
from bench.report_memory import memory_lines
from bench.report_scaling import scaling_lines
from bench.report_targets import target_lines
from bench.report_visibility import visibility_lines
from bench.results import Results


def machine_lines(results: Results) -> list[str]:
    m = results.machine
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['os']}; "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}, Kafka {m['kafka']} "
        f"(librdkafka {m['librdkafka']}), wrk {m['wrk']}. Code: {m.get('code', 'unknown')}.",
        f"Servers: {results.servers}. Load average (1, 5, 15 min) before the run: "
        f"{results.load_before}; after: {results.load_after or 'n/a'}.",
    ]
    if results.foreign_cores:
        during = ", ".join(f"{k} {v:.2f}" for k, v in results.foreign_cores.items())
        lines.append(
            "CPU used by other processes on the machine (neither the bench nor the servers) "
            f"during each phase, in cores: {during}."
        )
    return lines


def report(results: Results) -> str:
    sections = [
        machine_lines(results),
        target_lines(results),
        ingest_lines(results),
        lookup_lines(results),
        visibility_lines(results),
        scaling_lines(results),
        memory_lines(results),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"

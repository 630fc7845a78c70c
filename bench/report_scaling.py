"""The consumer scaling section of the results: the rate of 1, 2 and 3 consumer processes
in one group, with the CPU time per order of the consumers, PostgreSQL and the Kafka broker
and the bytes stored and written to the WAL per order; ``bench.run`` also writes it into
docs/scaling.md.
"""

from __future__ import annotations

from bench.markdown import runs_label, table
from bench.median import median
from bench.results import Results
from bench.scaling import PARTITIONS as SCALING_PARTITIONS
from bench.scaling import ScalingRun


def scaling_rates(results: Results) -> dict[int, float]:
    counts = sorted({r.instances for r in results.scaling})
    return {n: median([r.rate for r in results.scaling if r.instances == n]) for n in counts}


def scaling_lines(results: Results) -> list[str]:
    if not results.scaling:
        return []
    rates = scaling_rates(results)
    one = rates.get(1)
    rows = []
    for n, rate in rates.items():
        runs = [r for r in results.scaling if r.instances == n]

        def per_order(cpu: list[float], runs: list[ScalingRun] = runs) -> str:
            return f"{median([1e6 * c / r.orders for c, r in zip(cpu, runs, strict=True)]):.0f}"

        kafka = [r.kafka_cpu for r in runs if r.kafka_cpu is not None]
        rows.append(
            [
                str(n),
                f"{runs[0].orders:,}",
                f"{median([r.seconds for r in runs]):.2f}",
                f"{rate:,.0f}",
                f"{rate / n:,.0f}",
                f"{rate / one:.2f}x" if one else "-",
                per_order([r.consumer_cpu for r in runs]),
                per_order([r.postgres_cpu for r in runs]),
                per_order(kafka) if len(kafka) == len(runs) else "-",
                f"{median([r.stored_bytes / r.orders for r in runs]):,.0f}",
                f"{median([r.wal_bytes / r.orders for r in runs]):,.0f}",
            ]
        )
    count = len(results.scaling) // max(len(rates), 1)
    return [
        "### Consumer scaling: `order-service consume` processes in one group "
        f"({runs_label(count)})",
        "",
        *table(
            [
                "instances",
                "orders",
                "seconds",
                "orders/s",
                "per instance",
                "vs 1",
                "CPU us/order: consumers",
                "PostgreSQL",
                "Kafka broker",
                "stored bytes/order",
                "WAL bytes/order",
            ],
            rows,
        ),
        "",
        f"A fresh topic of {SCALING_PARTITIONS} partitions and a fresh database per run; the "
        "processes start with the default settings and join the group before anything is "
        "published; the clock runs from the first publish (the bench publishes as fast as the "
        "service's publisher goes, overlapping the consuming) to the moment PostgreSQL holds "
        "every order. *CPU us/order*: CPU time used during the run by the consumer processes, "
        "by the PostgreSQL processes of their connections and by the Kafka broker (which also "
        "serves the bench's publisher), divided by the orders. *stored bytes/order*: the four "
        "tables with their indexes at the end; *WAL bytes/order*: the WAL the PostgreSQL server "
        "wrote during the run (all its databases: an upper bound on a shared server).",
    ]

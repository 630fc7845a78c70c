"""The targets section of the results: each target that the run measured, checked against
its figure as PASS or MISS with the margin, listed first in the results.
"""

from __future__ import annotations

from bench.lookup_scenarios import MEMCACHED_HIT, MEMORY_HIT, MISS, REDIS_HIT
from bench.median import median
from bench.report_ingest import ceiling_rates, service_rate
from bench.report_lookup import closed_loop_result, median_p99, median_rate
from bench.report_visibility import visibility_ms
from bench.results import Results
from bench.targets import (
    CEILING_SHARE_TARGET,
    HIT_RATE_TARGET,
    INGEST_RATE_TARGET,
    MEMORY_TARGET,
    MISS_RATE_TARGET,
    P99_TARGET_MS,
    SHARED_SHARE_TARGET,
    TARGET_CONNECTIONS,
    VISIBILITY_P99_TARGET_MS,
)


def _at_least(value: float, target: float, unit: str) -> tuple[bool, str]:
    if value >= target:
        return True, f"{value - target:,.0f} {unit} above the target"
    return False, f"**{target - value:,.0f} {unit} short**, {value / target:.0%} of the target"


def _at_most(value: float, target: float, unit: str, digits: int = 2) -> tuple[bool, str]:
    space = "" if unit == "x" else " "
    if value <= target:
        return True, f"{target - value:,.{digits}f}{space}{unit} under the limit"
    return False, (
        f"**{value - target:,.{digits}f}{space}{unit} over**, {value / target:.2f}x the limit"
    )


def targets(results: Results) -> list[tuple[bool, str]]:
    """(passed, one line) for each target that this run measured."""
    found: list[tuple[bool, str]] = []

    def add(check: tuple[bool, str], what: str, measured: str) -> None:
        found.append((check[0], f"{what}: {measured} ({check[1]})"))

    service = service_rate(results)
    if service:
        add(
            _at_least(service, INGEST_RATE_TARGET, "orders/s"),
            f"ingest at least {INGEST_RATE_TARGET:,.0f} orders/s",
            f"{service:,.0f} orders/s",
        )
    batch = int(str(results.settings["batch_size"]))
    ceilings = ceiling_rates(results)
    if service and batch in ceilings:
        share = service / ceilings[batch]
        ok = share >= CEILING_SHARE_TARGET
        gap = (
            f"{share - CEILING_SHARE_TARGET:.0%} above"
            if ok
            else f"**{CEILING_SHARE_TARGET - share:.0%} short**"
        )
        found.append(
            (
                ok,
                f"ingest at least {CEILING_SHARE_TARGET:.0%} of the raw COPY ceiling at the "
                f"same batch size ({batch:,}: {ceilings[batch]:,.0f} orders/s): {share:.0%} "
                f"({gap}; against the {max(ceilings):,}-order batch ceiling: "
                f"{service / ceilings[max(ceilings)]:.0%})",
            )
        )
    memory = closed_loop_result(results, MEMORY_HIT)
    if memory:
        add(
            _at_least(median_rate(memory), HIT_RATE_TARGET, "req/s"),
            f"memory hits at least {HIT_RATE_TARGET:,.0f} req/s (1 worker, "
            f"{TARGET_CONNECTIONS} connections)",
            f"{median_rate(memory):,.0f} req/s",
        )
    for name in (MEMORY_HIT, MEMCACHED_HIT, REDIS_HIT):
        hit = closed_loop_result(results, name)
        if hit is None:
            continue
        if name != MEMORY_HIT and memory:
            share = median_rate(hit) / median_rate(memory)
            ok = share >= SHARED_SHARE_TARGET
            gap = (
                f"{share - SHARED_SHARE_TARGET:.0%} above"
                if ok
                else f"**{SHARED_SHARE_TARGET - share:.0%} short**"
            )
            found.append(
                (
                    ok,
                    f"{name}s at least {SHARED_SHARE_TARGET:.0%} of the memory-hit rate: "
                    f"{median_rate(hit):,.0f} req/s, {share:.0%} ({gap})",
                )
            )
        add(
            _at_most(median_p99(hit), P99_TARGET_MS, "ms"),
            f"{name} p99 at most {P99_TARGET_MS:g} ms ({TARGET_CONNECTIONS} connections, "
            "closed loop)",
            f"{median_p99(hit):.2f} ms",
        )
    miss = closed_loop_result(results, MISS)
    if miss:
        add(
            _at_least(median_rate(miss), MISS_RATE_TARGET, "req/s"),
            f"misses (PostgreSQL) at least {MISS_RATE_TARGET:,.0f} req/s (1 worker)",
            f"{median_rate(miss):,.0f} req/s",
        )
    if results.visibility:
        p99 = visibility_ms(results, "p99")
        add(
            _at_most(p99, VISIBILITY_P99_TARGET_MS, "ms", digits=0),
            f"publish -> visible through GET p99 at most {VISIBILITY_P99_TARGET_MS:.0f} ms at "
            f"{results.visibility[0].target_rate:,.0f} orders/s",
            f"{p99:,.0f} ms",
        )
    if results.memory:
        ratio = median([r.ratio for r in results.memory])
        add(
            _at_most(ratio, MEMORY_TARGET, "x"),
            f"memory per cached order at most {MEMORY_TARGET:g}x its JSON",
            f"{ratio:.2f}x",
        )
    return found


def target_lines(results: Results) -> list[str]:
    found = targets(results)
    if not found:
        return []
    passed = sum(ok for ok, _ in found)
    return [
        f"### Targets: {passed} of {len(found)} pass",
        "",
        *(f"- **{'PASS' if ok else 'MISS'}** {text}" for ok, text in found),
    ]

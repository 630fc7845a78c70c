"""The latency-against-load plot of the results (docs/latency.png): for each scenario of the
paced sweep, its latency percentiles against the rate offered, with the closed-loop p99 and
the p99 target, drawn with matplotlib's Agg backend (no display).
"""

from __future__ import annotations

from pathlib import Path
from statistics import median

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.results import P99_TARGET_MS, Results


def plot(results: Results, path: Path) -> None:
    """Latency percentiles against the achieved request rate, one panel per scenario."""
    names = list(dict.fromkeys(p.scenario for p in results.sweep))
    if not names:
        return
    columns = 2 if len(names) > 2 else len(names)
    rows = (len(names) + columns - 1) // columns
    fig = Figure(figsize=(5.5 * columns, 4.2 * rows))
    FigureCanvasAgg(fig)  # render with Agg: no display, no pyplot state
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes, names, strict=False):
        points = sorted((p for p in results.sweep if p.scenario == name), key=lambda p: p.fraction)
        # Offered load on the x axis: past saturation the achieved rate falls behind it.
        rates = [median([w.target_rate or w.rate for w in p.runs]) for p in points]
        for quantile, style in (("p50", "o-"), ("p99", "s-"), ("p99.9", "^-")):
            values = [median([w.latency_ms[quantile] for w in p.runs]) for p in points]
            ax.plot(rates, values, style, label=quantile)
        for point, offered in zip(points, rates, strict=True):
            achieved = median([w.rate for w in point.runs])
            if achieved < 0.97 * offered:
                p50 = median([w.latency_ms["p50"] for w in point.runs])
                ax.annotate(f"saturated: {achieved:,.0f}/s done", (offered, p50), fontsize=7,
                            textcoords="offset points", xytext=(-90, -14))  # fmt: skip
        closed = [r for r in results.lookups if r.scenario == name and r.workers == 1]
        for r in closed:
            rate = median([w.rate for w in r.runs])
            p99 = median([w.latency_ms["p99"] for w in r.runs])
            ax.plot([rate], [p99], "kx")
            ax.annotate(f"p99, closed loop c={r.connections}", (rate, p99), fontsize=7,
                        textcoords="offset points", xytext=(-100, -12))  # fmt: skip
        if "hit" in name:
            ax.axhline(P99_TARGET_MS, color="grey", linestyle="--", linewidth=1)
            ax.annotate("p99 target", (rates[-1], P99_TARGET_MS), fontsize=7,
                        textcoords="offset points", xytext=(-40, 3))  # fmt: skip
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{name} (1 worker)")
        ax.set_xlabel("requests per second offered (paced); x: closed loop")
        ax.set_ylabel("latency, ms")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    m = results.machine
    fig.suptitle(
        f"order-service GET /order latency against load - {m['cpu']}, {m['cores']} cores",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)

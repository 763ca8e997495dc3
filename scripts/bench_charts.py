"""Charts of `make bench`'s table (docs/performance.md shows the latest beside the table).

Two SVG files: each scenario's rate as a share of `/healthz/` in the same run, and its p50 and
p99 latencies. Text stays text in the SVG (searchable, diffable) and no date is embedded, so a
chart changes only when its figures do.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

RATES_FILE = "bench-rates.svg"
LATENCY_FILE = "bench-latency.svg"
_BAR_HEIGHT = 0.38


class Row(Protocol):
    """A line of the table: bench.py's Result."""

    name: str
    p50_ms: float
    p99_ms: float


def _figure(rows: int) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(9, 1.2 + 0.32 * rows), layout="constrained")
    return figure, figure.add_subplot()


def _save(figure: Figure, path: Path) -> None:
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bench"}):
        figure.savefig(path, format="svg", metadata={"Date": None})


def write_charts(
    results: Sequence[Row], ratios: Mapping[str, float], directory: Path, *, title: str
) -> list[Path]:
    """Write the rate and the latency chart of `results` (in table order) into `directory`;
    `ratios`: each scenario's rate over `/healthz/`. Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [row.name for row in results]
    positions = list(range(len(names)))

    figure, axes = _figure(len(names))
    shares = [100 * ratios[name] for name in names]
    bars = axes.barh(positions, shares, color="#4c72b0")
    axes.bar_label(bars, labels=[f"{share:.0f} %" for share in shares], padding=3, fontsize=8)
    axes.set_yticks(positions, names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("requests per second, % of GET /healthz/ in the same run")
    axes.set_xlim(0, max([100.0, *shares]) * 1.12)
    axes.set_title(f"Rates: {title}", fontsize=10)
    rates = directory / RATES_FILE
    _save(figure, rates)

    figure, axes = _figure(len(names))
    for offset, (label, values, colour) in enumerate(
        (
            ("p50", [row.p50_ms for row in results], "#55a868"),
            ("p99", [row.p99_ms for row in results], "#c44e52"),
        )
    ):
        axes.barh(
            [position + (offset - 0.5) * _BAR_HEIGHT for position in positions],
            values,
            height=_BAR_HEIGHT,
            label=label,
            color=colour,
        )
    axes.set_yticks(positions, names, fontsize=8)
    axes.invert_yaxis()
    # From a few milliseconds to the slow gateway's seconds: a log scale keeps both readable.
    axes.set_xscale("log")
    axes.set_xlabel("latency, ms (log scale)")
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(f"Latencies: {title}", fontsize=10)
    latency = directory / LATENCY_FILE
    _save(figure, latency)
    return [rates, latency]

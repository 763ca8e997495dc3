"""`make bench` writes two SVG charts of its table (scripts/bench_charts.py)."""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

# A script beside bench.py, not a package module: loaded from its file.
_SPEC = importlib.util.spec_from_file_location(
    "bench_charts", Path(__file__).resolve().parent.parent / "scripts" / "bench_charts.py"
)
assert _SPEC is not None
assert _SPEC.loader is not None
bench_charts = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_charts)
LATENCY_FILE, RATES_FILE, write_charts = (
    bench_charts.LATENCY_FILE,
    bench_charts.RATES_FILE,
    bench_charts.write_charts,
)


@dataclass
class Row:
    name: str
    p50_ms: float
    p99_ms: float


ROWS = [
    Row("GET /healthz/", 8.5, 56.0),
    Row("GET /profile/", 30.3, 105.0),
    Row("GET /leaderboard/?period=all (100k referrals)", 69.7, 165.2),
    Row("POST /request-code/ (1-2 s SMS)", 1560.0, 2130.0),
]
RATIOS = {
    "GET /healthz/": 1.0,
    "GET /profile/": 0.35,
    "GET /leaderboard/?period=all (100k referrals)": 0.16,
    "POST /request-code/ (1-2 s SMS)": 0.1,
}


def test_the_charts_are_svg_files_that_name_every_scenario(tmp_path: Path) -> None:
    written = write_charts(ROWS, RATIOS, tmp_path / "docs", title="a test run")

    assert written == [tmp_path / "docs" / RATES_FILE, tmp_path / "docs" / LATENCY_FILE]
    for chart in written:
        text = chart.read_text()
        # Our own file, just written.
        assert ElementTree.fromstring(text).tag == "{http://www.w3.org/2000/svg}svg"  # noqa: S314
        for row in ROWS:
            # Text stays text: a reader (and a search) finds each scenario's name.
            assert row.name in text, (chart.name, row.name)
        assert "a test run" in text
    rates = written[0].read_text()
    assert "35 %" in rates
    assert "16 %" in rates
    assert "p99" in written[1].read_text()


def test_the_same_figures_give_the_same_files(tmp_path: Path) -> None:
    first = [path.read_bytes() for path in write_charts(ROWS, RATIOS, tmp_path / "a", title="t")]
    second = [path.read_bytes() for path in write_charts(ROWS, RATIOS, tmp_path / "b", title="t")]

    assert first == second

import json
import subprocess
import sys

import pytest

from tests.e2e.live import PROJECT_DIR

pytestmark = pytest.mark.e2e


def test_bench_quick_mode_runs_every_scenario_and_stops_cleanly(tmp_path):
    output = tmp_path / "bench.json"

    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--quick", "--output", str(output)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "GET /healthz/" in result.stdout
    assert "POST /request-code/ (1-2 s SMS)" in result.stdout
    results = json.loads(output.read_text())["results"]
    assert all(result["requests"] > 0 and result["errors"] == 0 for result in results), results

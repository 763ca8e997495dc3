"""Gunicorn's side of the logs and metrics (referral_api/gunicorn_conf.py): its own lines are
JSON, its access log is off unless asked for, and the metrics directory starts empty."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.live import PROJECT_DIR

# What gunicorn does with the configuration: load it, then apply its logging dictionary.
LOG_BOTH = """
import logging.config
from referral_api import gunicorn_conf
logging.config.dictConfig(gunicorn_conf.logconfig_dict)
logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 42)
logging.getLogger("gunicorn.access").info('"GET /healthz/ HTTP/1.1" 200')
"""


def run_config(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A process of its own: loading the configuration sets PROMETHEUS_MULTIPROC_DIR.
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_gunicorn_lines_are_json_and_its_access_log_is_off_by_default(tmp_path):
    result = run_config(LOG_BOTH, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    (line,) = [json.loads(text) for text in result.stderr.splitlines()]
    assert line["logger"] == "gunicorn.error"
    assert line["message"] == "Booting worker with pid: 42"
    assert result.stdout == ""


@pytest.mark.parametrize("target", ["-", "file"])
def test_gunicorn_access_log_when_asked_for_is_json(tmp_path, target):
    path = tmp_path / "access.log"
    destination = "-" if target == "-" else str(path)

    result = run_config(
        LOG_BOTH, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), GUNICORN_ACCESS_LOG=destination
    )

    written = result.stdout if target == "-" else path.read_text()
    (line,) = [json.loads(text) for text in written.splitlines()]
    assert line["logger"] == "gunicorn.access"
    assert line["message"] == '"GET /healthz/ HTTP/1.1" 200'


def test_metrics_directory_is_emptied_at_start(tmp_path: Path) -> None:
    stale = tmp_path / "counter_12345.db"
    stale.write_bytes(b"left by an earlier run")

    run_config("from referral_api import gunicorn_conf", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    assert not stale.exists()


def test_metrics_directory_of_its_own_is_created_then_removed_at_exit() -> None:
    script = (
        "import os\n"
        "from referral_api import gunicorn_conf\n"
        "folder = os.environ['PROMETHEUS_MULTIPROC_DIR']\n"
        "print(folder, os.path.isdir(folder))\n"
        "gunicorn_conf.on_exit(None)\n"
        "print(os.path.isdir(folder))\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    folder_line, after = result.stdout.splitlines()
    assert folder_line.endswith(" True")
    assert after == "False"


def test_a_dead_workers_live_gauges_are_dropped(tmp_path: Path) -> None:
    script = (
        "import types\n"
        "from pathlib import Path\n"
        "from referral_api import gunicorn_conf\n"
        f"Path({str(tmp_path)!r}, 'gauge_livesum_999.db').write_bytes(b'x')\n"
        "gunicorn_conf.child_exit(None, types.SimpleNamespace(pid=999))\n"
    )

    run_config(script, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    assert not (tmp_path / "gauge_livesum_999.db").exists()

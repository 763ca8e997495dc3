"""Debian's Chromium under Playwright, for the browser tests (test_browser.py, test_web.py).

Playwright's own browser download is not reachable from the test hosts: the tests drive
/usr/bin/chromium (scripts/install-browser.sh installs it) through `executable_path`.
Screenshots go to `$E2E_ARTIFACTS_DIR` (default /tmp/referral-e2e-artifacts).
"""

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--no-first-run",
]
DEFAULT_ARTIFACTS_DIR = Path("/tmp/referral-e2e-artifacts")  # noqa: S108 - a fixed, announced place
TIMEOUT_MS = 20_000


def announce(config: pytest.Config, line: str) -> None:
    """Print past pytest's output capture, so that `make test` shows it even with -q."""
    reporter: Any = config.pluginmanager.get_plugin("terminalreporter")
    capture: Any = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        # Off the line of progress dots that -q leaves open.
        reporter.write_line(f"\n{line}")

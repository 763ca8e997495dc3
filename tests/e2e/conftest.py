import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, DEFAULT_ARTIFACTS_DIR, announce
from tests.e2e.live import PROJECT_DIR, LiveServer, start_server


@pytest.fixture(scope="session")
def live_api() -> Iterator[LiveServer]:
    """One `make serve` for the whole session: gunicorn, PostgreSQL, Redis, codes exposed."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def start_live_server() -> Iterator[Callable[..., LiveServer]]:
    """Start extra servers with their own settings; all are stopped after the test."""
    started: list[LiveServer] = []

    def start(**overrides: str) -> LiveServer:
        # Any: mypy cannot tell these str values from the float `timeout` keyword.
        server = start_server(**cast(dict[str, Any], overrides))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class FigureBoard:
    """Lines for the terminal summary: what the end-to-end tests measured."""

    name = "e2e-figures"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", "e2e figures")
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> list[str]:
    board = pytestconfig.pluginmanager.get_plugin(FigureBoard.name)
    if board is None:
        board = FigureBoard()
        pytestconfig.pluginmanager.register(board, FigureBoard.name)
    return board.lines


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium (Playwright's own browser download is not reachable from here)."""
    if not CHROMIUM.exists():
        result = subprocess.run(
            ["bash", str(PROJECT_DIR / "scripts" / "install-browser.sh")],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"install-browser.sh failed:\n{result.stdout}{result.stderr}"
    assert CHROMIUM.exists(), f"{CHROMIUM} is still missing after scripts/install-browser.sh"
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    path = Path(os.environ.get("E2E_ARTIFACTS_DIR") or DEFAULT_ARTIFACTS_DIR).resolve()
    path.mkdir(parents=True, exist_ok=True)
    announce(pytestconfig, f"e2e browser screenshots: {path}")
    return path


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()

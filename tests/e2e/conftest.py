from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from tests.e2e.live import LiveServer, start_server


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

from collections.abc import Callable, Iterator

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
        server = start_server(**overrides)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

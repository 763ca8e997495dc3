"""pytest plugin of the topology runs (`-p tests.topologies.plugin`, scripts/topologies.sh).

- Prints the figures the tests measured (failover windows) at the end of the run.
- Behind PgBouncer, lets go of the test database before Django drops it: PgBouncer keeps idle
  server connections to it, and PostgreSQL refuses to drop a database with sessions.
"""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FIGURES: list[str] = []


def record_figure(line: str) -> None:
    """A measured figure, printed in the run's summary (docs/scaling.md quotes them)."""
    FIGURES.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("measured on the topology")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def _pgbouncer_lets_go_of_the_test_database(django_db_setup: None) -> Iterator[None]:
    yield
    port = os.environ.get("PGBOUNCER_PORT")
    if not port or "DJANGO_DB_PGBOUNCER" not in os.environ:
        return
    from django.db import connections

    name = connections["default"].settings_dict["NAME"]
    connections.close_all()
    subprocess.run(
        [
            str(Path(os.environ["PG_BIN"]) / "psql"),
            *("-X", "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "pgbouncer"),
            *("-c", f"KILL {name}"),
        ],
        check=True,
        capture_output=True,
    )

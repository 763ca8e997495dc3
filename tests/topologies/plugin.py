"""pytest plugin of the topology runs (`-p tests.topologies.plugin`, scripts/topologies.sh).

- Prints the figures the tests measured (failover windows) at the end of the run.
- Behind PgBouncer, lets go of the test database before Django drops it: PgBouncer keeps idle
  server connections to it, and PostgreSQL refuses to drop a database with sessions. KILL
  closes them; RESUME lets the next run connect to a database of that name again.
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


def _pgbouncer_close(database: str) -> None:
    """Close PgBouncer's connections to `database` (KILL), and let new ones in again (RESUME)."""
    port = os.environ.get("PGBOUNCER_PORT")
    if not port or os.environ.get("DJANGO_DB_PGBOUNCER") != "true":
        return
    subprocess.run(
        [
            str(Path(os.environ["PG_BIN"]) / "psql"),
            *("-X", "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "pgbouncer"),
            *("-c", f"KILL {database}", "-c", f"RESUME {database}"),
        ],
        check=False,  # KILL of a database PgBouncer never served fails: nothing to close
        capture_output=True,
    )


def _test_database() -> str:
    from django.db import connections

    settings = connections["default"].settings_dict
    return str(settings["TEST"].get("NAME") or f"test_{settings['NAME']}")


def pytest_sessionstart(session: pytest.Session) -> None:
    # A test database left by an interrupted run is dropped first: PgBouncer must let go of it.
    _pgbouncer_close(_test_database())


@pytest.fixture(scope="session", autouse=True)
def _pgbouncer_lets_go_of_the_test_database(django_db_setup: None) -> Iterator[None]:
    yield
    from django.db import connections

    name = connections["default"].settings_dict["NAME"]
    connections.close_all()
    _pgbouncer_close(name)

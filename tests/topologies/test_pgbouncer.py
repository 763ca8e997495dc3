"""PostgreSQL through PgBouncer in transaction mode (scripts/topologies.sh start postgres).

In transaction mode a client gets a server connection for one transaction only; what a
connection keeps across transactions (a prepared statement, a cursor WITH HOLD) is lost when its
next transaction lands on another server connection. DJANGO_DB_PGBOUNCER=true turns both off.
The concurrency and API suites run through PgBouncer too (scripts/topologies.sh).
"""

import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from tests.factories import create_user
from tests.login import log_in
from users.models import User


def _app_params(**changes: Any) -> dict[str, Any]:
    params = {**connection.get_connection_params(), **changes}
    params.pop("cursor_factory", None)
    return params


def _pgbouncer(command: str) -> list[list[str]]:
    output = subprocess.run(
        [
            str(Path(os.environ["PG_BIN"]) / "psql"),
            *("-X", "-A", "-F", "|", "-P", "footer=off"),
            *("-h", "127.0.0.1", "-p", os.environ["PGBOUNCER_PORT"]),
            *("-U", "postgres", "-d", "pgbouncer", "-c", command),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.split("|") for line in output.splitlines()]


def _run_twice_around_a_transaction_elsewhere(params: dict[str, Any]) -> list[Any]:
    """One client runs a statement, another holds that server connection in a transaction,
    and the first runs the statement again: on whatever server connection PgBouncer has free."""
    with (
        psycopg.connect(**params, autocommit=True) as first,
        psycopg.connect(**_app_params(), autocommit=False) as second,
    ):
        answers = [first.execute("SELECT %s::int", [1]).fetchone()]
        second.execute("SELECT 1")  # opens a transaction: PgBouncer pins a server connection
        answers.append(first.execute("SELECT %s::int", [2]).fetchone())
        second.rollback()
    return answers


@pytest.mark.django_db
def test_pgbouncer_prepared_statements_fail_on_another_server_connection():
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        _run_twice_around_a_transaction_elsewhere(_app_params(prepare_threshold=0))


@pytest.mark.django_db
def test_pgbouncer_app_connections_prepare_nothing():
    assert connection.get_connection_params()["prepare_threshold"] is None
    assert _run_twice_around_a_transaction_elsewhere(_app_params()) == [(1,), (2,)]


@pytest.mark.django_db(transaction=True)
def test_pgbouncer_app_iterates_without_a_server_side_cursor():
    for number in range(3):
        create_user(phone=f"+7999000{number:04d}")
    phones = []

    with psycopg.connect(**_app_params(), autocommit=False) as elsewhere:
        for user in User.objects.order_by("phone").iterator(chunk_size=1):
            phones.append(user.phone)
            elsewhere.execute("SELECT 1")  # takes a server connection between two fetches
            elsewhere.rollback()

    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert phones == ["+79990000000", "+79990000001", "+79990000002"]


@pytest.mark.django_db(transaction=True)
def test_pgbouncer_carries_the_apps_transactions(api_client, outbox):
    name = connection.settings_dict["NAME"]

    log_in(api_client, outbox)

    header, *rows = _pgbouncer("SHOW STATS")
    stats = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert int(stats[name]["total_xact_count"]) > 0

"""The connection pool Django builds checks each connection with `referral_api.database`'s check.

`referral_api/postgresql/base.py` puts the check into the pool as Django builds it, which relies
on how Django builds the pool and on psycopg_pool calling `_check` for every connection it hands
out. These tests fail when either stops being true, and show what the check is for: a connection
the server has closed (a restart, an idle timeout) never reaches a query.
"""

import select
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
import pytest
from django.db import connection

from referral_api import database
from referral_api.database import check_pooled_connection

pytestmark = pytest.mark.django_db(transaction=True)

EOF_TIMEOUT_SECONDS = 5.0


@pytest.fixture
def looked_at(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sockets the check looks at; every connection counts as never checked before."""
    sockets: list[int] = []

    def spy(readers: list[int], writers: list[int], errors: list[int], timeout: float) -> Any:
        sockets.extend(readers)
        return select.select(readers, writers, errors, timeout)

    monkeypatch.setattr(database, "select", SimpleNamespace(select=spy))
    monkeypatch.setattr(database, "_checked_at", WeakKeyDictionary())
    return sockets


@pytest.fixture
def pool() -> Iterator[Any]:
    # Django's own connection goes back to the pool first, so the test sees every idle one.
    connection.close()
    pool = getattr(connection, "pool", None)
    assert pool is not None, "DATABASE_URL is PostgreSQL, so Django must build a pool"
    yield pool
    connection.close()


def terminate(pids: list[int]) -> None:
    """End these server processes from another connection, as a restart would."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_for_eof(conn: psycopg.Connection) -> None:
    deadline = time.monotonic() + EOF_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        readable, _, _ = select.select([conn.fileno()], [], [], 0.05)
        if readable:
            return
    pytest.fail("the server did not close the terminated connection")


def test_pool_django_builds_checks_connections_with_our_check(pool):
    assert pool._check is check_pooled_connection


def test_pool_getconn_runs_our_check_on_the_connection_it_hands_out(pool, looked_at):
    conn = pool.getconn()
    try:
        assert looked_at == [conn.fileno()]
    finally:
        pool.putconn(conn)


def test_pool_django_connecting_runs_our_check(pool, looked_at):
    connection.ensure_connection()

    assert connection.connection is not None
    assert looked_at == [connection.connection.fileno()]


def test_pool_check_refuses_a_connection_the_server_closed(pool, looked_at):
    conn = pool.getconn()
    try:
        terminate([conn.info.backend_pid])
        wait_for_eof(conn)
        # As if its last check were longer ago than the window in which it is not looked at again.
        database._checked_at.clear()

        with pytest.raises(psycopg.OperationalError, match="closed this pooled connection"):
            check_pooled_connection(conn)
    finally:
        conn.close()
        pool.putconn(conn)


def test_pool_check_accepts_a_live_connection(pool, looked_at):
    conn = pool.getconn()
    try:
        database._checked_at.clear()

        check_pooled_connection(conn)

        assert looked_at == [conn.fileno(), conn.fileno()]
        assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.putconn(conn)


def test_pool_after_a_restart_django_gets_a_fresh_working_connection(pool, looked_at):
    # Every idle connection of the pool, as after a restart of PostgreSQL.
    held = [pool.getconn() for _ in range(max(pool.get_stats()["pool_available"], 1))]
    dead = [conn.info.backend_pid for conn in held]
    terminate(dead)
    for conn in held:
        wait_for_eof(conn)
        pool.putconn(conn)
    # The restart came longer ago than the window in which a checked connection is not looked at.
    database._checked_at.clear()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    assert pid not in dead
    # The check looked at a dead connection before the pool handed out a live one.
    assert len(looked_at) >= 2

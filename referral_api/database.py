"""Database connection pool health: recover from a PostgreSQL restart without failing requests."""

import select
import time
from weakref import WeakKeyDictionary

from django.db import connection
from psycopg import Connection, OperationalError

# A connection handed out within this many seconds of its last check is not checked again: under
# load the pool cycles through its connections in milliseconds, and each look is a system call
# that gives up the GIL. After a restart, a quiet server still checks every connection.
RECHECK_AFTER_SECONDS = 1.0
_checked_at: WeakKeyDictionary[Connection, float] = WeakKeyDictionary()


def check_pooled_connection(conn: Connection) -> None:
    """Refuse a pooled connection the server has ended, before a request gets it.

    An idle connection has nothing to read: data or end-of-file waiting on its socket means the
    server closed it (a restart, an idle timeout). Looking costs no round trip, unlike the
    pool's own check, an empty query that doubled the round trips of every request.

    One dead connection means every idle one died with it. The pool would find them one by one,
    sleeping a growing back-off (1 s, 2 s, 4 s…) after each, long enough to time requests out;
    dropping them all at once leaves one short wait for a fresh connection.
    """
    now = time.monotonic()
    if not conn.closed and not conn.broken:
        if now - _checked_at.get(conn, 0.0) < RECHECK_AFTER_SECONDS:
            return
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        if not readable:
            _checked_at[conn] = now
            return
    pool = getattr(connection, "pool", None)
    if pool is not None:
        pool.check()
    raise OperationalError("the server closed this pooled connection")

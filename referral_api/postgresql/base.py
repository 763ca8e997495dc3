"""Django's PostgreSQL backend with a connection pool that recovers from a server restart.

The one place that reaches into psycopg_pool: Django builds the pool itself (with its own check,
or none) and offers no way to pass another, so the check of `referral_api.database` is put in
when the pool is built. `tests/api/test_database_pool.py` fails if a library upgrade stops the
pool from calling it.
"""

from typing import Any

from django.db.backends.postgresql import base

from referral_api.database import check_pooled_connection


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        built = self.alias in self._connection_pools  # type: ignore[attr-defined]
        pool = super().pool
        if pool is not None and not built:
            # psycopg_pool calls `_check` on every connection it hands out (`check=` of its
            # constructor, which Django fills in).
            pool._check = check_pooled_connection
        return pool

from typing import Any

from django.db.backends.postgresql import base

from referral_api.database import check_pooled_connection


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        pool = super().pool
        # psycopg_pool takes its check only when built, and Django builds it with its own; ours
        # replaces it before first use. Recheck on every access: it is one attribute lookup.
        if pool is not None and pool._check is not check_pooled_connection:
            pool._check = check_pooled_connection
        return pool

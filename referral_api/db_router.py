"""Reads that tolerate replication lag go to the PostgreSQL replica (`DATABASE_REPLICA_URL`).

The choice is per read, not per model: the same `users` rows are read to authenticate a caller
(must see a logout or a new account at once) and to list someone's referrals (may lag). So the
router sends nothing to the replica by itself; a view action marked `@replica_reads` runs its
queries there. DRF authenticates the caller before the action runs, so authentication always
reads the primary. docs/scaling.md lists the marked reads:

- on the replica: the referrals list, the referral stats, the leaderboards (the top's phones);
- on the primary: every write and what must see one: authentication and sessions, the profile
  (read right after an activation), the activation's own checks and locks, the rewards ledger
  and balances ("exact at every moment"), every staff action and list.

When the replica fails (down, or no connection within `DJANGO_DB_REPLICA_TIMEOUT`), the action
runs again on the primary, and marked reads stay there for `RETRY_AFTER_SECONDS`.
"""

import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError

logger = logging.getLogger(__name__)

REPLICA = "replica"
RETRY_AFTER_SECONDS = 5.0

_on_replica: ContextVar[bool] = ContextVar("reads_on_replica", default=False)
# time.monotonic() until which marked reads skip a replica that failed.
_replica_down_until = 0.0

View = TypeVar("View", bound=Callable[..., Any])


class ReplicaRouter:
    """Reads go to the replica inside a `@replica_reads` action; writes always to the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return REPLICA if _on_replica.get() else None

    def db_for_write(self, model: type, **hints: Any) -> str:
        # Explicit: without it Django would save an object where it was read from.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # Both hold the same rows: an object read from the replica may point at one from the
        # primary.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_available() -> bool:
    return replica_configured() and time.monotonic() >= _replica_down_until


def replica_reads(view: View) -> View:
    """Mark a read-only view action whose reads tolerate replication lag (about a second)."""

    @functools.wraps(view)
    def on_replica(*args: Any, **kwargs: Any) -> Any:
        global _replica_down_until
        if not replica_available():
            return view(*args, **kwargs)
        marked = _on_replica.set(True)
        try:
            return view(*args, **kwargs)
        except (OperationalError, InterfaceError):
            # The action only reads: running it again on the primary changes nothing.
            logger.warning("replica failed; its reads go to the primary", exc_info=True)
            _replica_down_until = time.monotonic() + RETRY_AFTER_SECONDS
        finally:
            _on_replica.reset(marked)
        return view(*args, **kwargs)

    return on_replica  # type: ignore[return-value]

"""Sessions: one per login, listed and ended by their user (API.md 24–26)."""

from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from referral_api.rows import insert
from users.models import Session, User

USER_AGENT_LENGTH = 200
# A session's last_used_at is written at most this often, so reads never write.
LAST_USED_PRECISION = timedelta(minutes=1)


def new_session(*, user: User, at: datetime, user_agent: str = "") -> Session:
    """A session of a login at `at`, not written yet: `session_start` writes it, or a login with
    its other rows (`rows.write`)."""
    return Session(
        user=user, created_at=at, last_used_at=at, user_agent=user_agent[:USER_AGENT_LENGTH]
    )


def session_start(*, user: User, at: datetime, user_agent: str = "") -> Session:
    session = new_session(user=user, at=at, user_agent=user_agent)
    insert(session)
    return session


def live_sessions(*, user: User, now: datetime) -> QuerySet[Session]:
    """The user's sessions not ended and not past JWT_SESSION_MAX_DAYS, newest first."""
    oldest = now - timedelta(days=settings.JWT_SESSION_MAX_DAYS)
    return Session.objects.filter(user=user, ended_at__isnull=True, created_at__gt=oldest).order_by(
        "-created_at", "-id"
    )


def session_touch(*, session_id: UUID, last_used_at: datetime, now: datetime) -> None:
    """Record that the session was used now, unless that was recorded less than a minute ago."""
    if now - last_used_at >= LAST_USED_PRECISION:
        Session.objects.filter(pk=session_id).update(last_used_at=now)


def _prune_batch(*, ended: Q, batch_size: int) -> int:
    # The rows are picked through an index and locked with SKIP LOCKED: a session that a
    # refresh or a logout holds right now is left for the next run instead of waited for, and
    # each statement holds its locks for one batch only.
    with transaction.atomic():
        batch = (
            Session.objects.filter(ended)
            .select_for_update(skip_locked=True)
            .order_by()
            .values("pk")[:batch_size]
        )
        deleted, _ = Session.objects.filter(pk__in=batch).delete()
    return deleted


def sessions_prune(*, now: datetime, days: int, batch_size: int) -> int:
    """Delete the sessions that ended more than `days` days before `now`, `batch_size` rows a
    statement; returns how many. Live sessions are never touched.

    A session ends when it is logged out or revoked (`ended_at`), or `JWT_SESSION_MAX_DAYS`
    after its login, when its refresh tokens stop working whatever their own expiry. Each kind
    is found through its own index (`session_ended_idx`, `session_created_idx`).
    """
    cutoff = now - timedelta(days=days)
    lifetime = timedelta(days=settings.JWT_SESSION_MAX_DAYS)
    deleted = 0
    for ended in (Q(ended_at__lt=cutoff), Q(created_at__lt=cutoff - lifetime)):
        while True:
            batch = _prune_batch(ended=ended, batch_size=batch_size)
            deleted += batch
            if batch < batch_size:
                break
    return deleted

"""Sessions: one per login, listed and ended by their user (API.md 24–26)."""

from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet

from users.models import Session, User

USER_AGENT_LENGTH = 200
# A session's last_used_at is written at most this often, so reads never write.
LAST_USED_PRECISION = timedelta(minutes=1)


def session_start(*, user: User, at: datetime, user_agent: str = "") -> Session:
    return Session.objects.create(
        user=user, created_at=at, last_used_at=at, user_agent=user_agent[:USER_AGENT_LENGTH]
    )


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

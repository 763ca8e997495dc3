"""manage.py prune_sessions: ended sessions go after SESSION_PRUNE_AFTER_DAYS, live ones never."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import create_user
from tests.login import bearer
from users.models import Session, User
from users.sessions import session_start, sessions_prune
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def user() -> User:
    return create_user()


def ended_session(user: User, *, ended: datetime) -> Session:
    session = session_start(user=user, at=ended - DAY)
    Session.objects.filter(pk=session.pk).update(ended_at=ended)
    return session


def prune(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    call_command("prune_sessions", *args)
    return capsys.readouterr().out


def test_prune_sessions_deletes_a_logged_out_session_once_30_days_have_passed(user, capsys):
    with time_machine.travel(START, tick=False) as clock:
        tokens = token_pair_for(user)
        client = APIClient()
        client.credentials(**bearer(tokens.access))
        logout = client.post(reverse("users:auth-logout"), {"refresh": tokens.refresh})
        assert logout.status_code == 204
        clock.move_to(START + 20 * DAY)
        kept = token_pair_for(user)  # a second device signs in and stays

        clock.move_to(START + 30 * DAY - timedelta(seconds=1))
        before = prune(capsys)
        clock.move_to(START + 30 * DAY + timedelta(seconds=1))
        after = prune(capsys)
        again = prune(capsys)
        kept_refreshed = APIClient().post(reverse("users:auth-refresh"), {"refresh": kept.refresh})

    assert before == "deleted 0 sessions ended more than 30 days ago\n"
    assert after == "deleted 1 sessions ended more than 30 days ago\n"
    assert again == "deleted 0 sessions ended more than 30 days ago\n"  # idempotent
    # The second device's session is the one left, and its refresh token still works.
    assert Session.objects.get().ended_at is None
    assert kept_refreshed.status_code == 200


def test_prune_sessions_deletes_sessions_past_their_lifetime_after_the_setting(
    user, capsys, settings
):
    settings.JWT_SESSION_MAX_DAYS = 30
    settings.SESSION_PRUNE_AFTER_DAYS = 7
    with time_machine.travel(START, tick=False) as clock:
        token_pair_for(user)  # never logged out: it ends on day 30
        clock.move_to(START + 37 * DAY - timedelta(seconds=1))
        before = prune(capsys)
        clock.move_to(START + 37 * DAY + timedelta(seconds=1))
        after = prune(capsys)

    assert before == "deleted 0 sessions ended more than 7 days ago\n"
    assert after == "deleted 1 sessions ended more than 7 days ago\n"
    assert not Session.objects.exists()


def test_prune_sessions_never_touches_a_live_session(user, settings):
    settings.JWT_SESSION_MAX_DAYS = 30
    now = START + 60 * DAY
    live = [
        session_start(user=user, at=now),
        session_start(user=user, at=now - 29 * DAY),  # old, used all along, not ended
    ]
    Session.objects.filter(pk=live[1].pk).update(last_used_at=now)
    ended_yesterday = ended_session(user, ended=now - DAY)
    past_lifetime = session_start(user=user, at=now - 31 * DAY)

    deleted = sessions_prune(now=now, days=0, batch_size=1000)

    assert deleted == 2
    remaining = set(Session.objects.values_list("pk", flat=True))
    assert remaining == {session.pk for session in live}
    assert ended_yesterday.pk not in remaining
    assert past_lifetime.pk not in remaining


def test_prune_sessions_deletes_in_batches_of_the_size_asked(user):
    now = START + 60 * DAY
    for _ in range(7):
        ended_session(user, ended=now - 40 * DAY)
    live = session_start(user=user, at=now)

    with CaptureQueriesContext(connection) as queries:
        deleted = sessions_prune(now=now, days=30, batch_size=3)

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert deleted == 7
    # Logged-out ones: 3, 3, 1; then past their lifetime: none left (0).
    assert len(deletes) == 4
    assert all("LIMIT 3" in sql and "SKIP LOCKED" in sql for sql in deletes)
    assert list(Session.objects.values_list("pk", flat=True)) == [live.pk]


@pytest.mark.parametrize(
    ("kind", "index"), [("ended", "session_ended_idx"), ("past lifetime", "session_created_idx")]
)
def test_prune_sessions_batches_are_found_through_an_index(user, kind, index):
    now = START + 60 * DAY
    if kind == "ended":
        ended_session(user, ended=now - 40 * DAY)
    else:
        session_start(user=user, at=now - 70 * DAY)
    with CaptureQueriesContext(connection) as queries:
        sessions_prune(now=now, days=30, batch_size=10)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]

    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in deletes:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))

    # Two passes: the ended sessions' index first, then the login times'.
    assert len(plans) == 2
    assert index in plans[0 if kind == "ended" else 1]
    assert all("Seq Scan" not in plan for plan in plans), plans


@pytest.mark.django_db(transaction=True)
def test_prune_sessions_skips_a_session_locked_by_a_refresh_instead_of_waiting(user):
    now = START + 60 * DAY
    locked = ended_session(user, ended=now - 40 * DAY)
    other = ended_session(user, ended=now - 40 * DAY)
    holding, release = threading.Event(), threading.Event()

    def refresh_holding_the_row() -> None:
        # What token_refresh does: the session row locked until the new pair exists.
        try:
            with transaction.atomic():
                Session.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=refresh_holding_the_row)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        first = sessions_prune(now=now, days=30, batch_size=10)  # would block without SKIP LOCKED
    finally:
        release.set()
        thread.join(timeout=30)
    second = sessions_prune(now=now, days=30, batch_size=10)

    assert (first, second) == (1, 1)
    assert not Session.objects.filter(pk__in=[locked.pk, other.pk]).exists()


def test_prune_sessions_refuses_a_negative_age_or_an_empty_batch():
    with pytest.raises(CommandError):
        call_command("prune_sessions", "--days", "-1")
    with pytest.raises(CommandError):
        call_command("prune_sessions", "--batch-size", "0")

"""Sessions (API.md 24–26): one per login, listed, ended one by one or all at once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.concurrency import run_concurrently
from tests.factories import create_user
from tests.login import PHONE, bearer, log_in, request_code, sent_code
from users.models import Session, User
from users.tokens import session_id_of, token_pair_for

pytestmark = pytest.mark.django_db

TOKEN_NOT_VALID = {
    "code": "token_not_valid",
    "message": "The token is invalid or expired.",
    "errors": {},
}
NOT_FOUND = {"code": "not_found", "message": "Not found.", "errors": {}}
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

SESSIONS = reverse("users:auth-sessions")
LOGOUT_ALL = reverse("users:auth-logout-all")


def session_url(session_id: Any) -> str:
    return reverse("users:auth-session-detail", kwargs={"id": str(session_id)})


def sid(access: str) -> str:
    return str(session_id_of(AccessToken(access, verify=False)))  # type: ignore[arg-type]


def refresh(client: APIClient, token: str) -> Any:
    return client.post(reverse("users:auth-refresh"), {"refresh": token})


# Every Bearer endpoint a token of an ended session must be refused on.
BEARER_GETS = [
    "invites:profile-detail",
    "invites:profile-referrals",
    "invites:profile-stats",
    "rewards:rewards-list",
    "rewards:rewards-balance",
    "invites:leaderboard-list",
    "users:auth-sessions",
]


def test_login_starts_a_session_with_its_user_agent(api_client, outbox):
    request_code(api_client, PHONE)
    response = api_client.post(
        reverse("users:auth-verify-code"),
        {"phone": PHONE, "code": sent_code(outbox)},
        HTTP_USER_AGENT="ReferralApp/2.3 " + "x" * 300,
    )

    session = Session.objects.get(user__phone=PHONE)
    assert response.status_code == 200
    assert sid(response.json()["access"]) == str(session.pk)
    assert session.user_agent == ("ReferralApp/2.3 " + "x" * 300)[:200]
    assert session.ended_at is None


def test_sessions_lists_live_sessions_newest_first_marking_the_current_one(user, settings):
    settings.JWT_SESSION_MAX_DAYS = 30
    with time_machine.travel(START, tick=False) as clock:
        expired = token_pair_for(user)
        clock.shift(timedelta(days=2))
        ended = token_pair_for(user)
        Session.objects.filter(pk=sid(ended.access)).update(ended_at=START)
        older = token_pair_for(user)
        clock.shift(timedelta(days=28, hours=1))  # the first session is past 30 days now
        current = token_pair_for(user)

        response = APIClient().get(SESSIONS, **bearer(current.access))

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "id": sid(current.access),
                "created_at": "2026-12-01T10:00:00Z",
                "last_used_at": "2026-12-01T10:00:00Z",
                "user_agent": "",
                "current": True,
            },
            {
                "id": sid(older.access),
                "created_at": "2026-11-03T09:00:00Z",
                "last_used_at": "2026-11-03T09:00:00Z",
                "user_agent": "",
                "current": False,
            },
        ]
    }
    assert sid(expired.access) not in str(response.json())


def test_end_session_refuses_its_refresh_and_access_tokens_at_once(user):
    lost_phone, this_phone = token_pair_for(user), token_pair_for(user)
    client = APIClient()

    ended = client.delete(session_url(sid(lost_phone.access)), **bearer(this_phone.access))

    assert ended.status_code == 204
    assert refresh(client, lost_phone.refresh).json() == TOKEN_NOT_VALID
    for name in BEARER_GETS:
        refused = client.get(reverse(name), **bearer(lost_phone.access))
        assert (name, refused.status_code, refused.json()) == (name, 401, TOKEN_NOT_VALID)
    assert (
        client.get(reverse("invites:profile-detail"), **bearer(this_phone.access)).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("method", "name", "body"),
    [
        ("post", "invites:profile-activate-invite", {"invite_code": "ABCDEF"}),
        ("post", "users:auth-logout-all", None),
        ("post", "users:auth-logout", {"refresh": "x"}),
    ],
)
def test_ended_session_tokens_are_refused_on_writes_too(user, method, name, body):
    pair = token_pair_for(user)
    Session.objects.filter(pk=sid(pair.access)).update(ended_at=datetime.now(UTC))

    response = getattr(APIClient(), method)(reverse(name), body, **bearer(pair.access))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


def test_end_session_of_another_user_or_unknown_is_404(user):
    other = token_pair_for(create_user())
    mine = token_pair_for(user)
    client = APIClient()

    foreign = client.delete(session_url(sid(other.access)), **bearer(mine.access))
    unknown = client.delete(
        session_url("6f1c2d9e-8a4b-4c1e-9d2f-0b7e5a3c1d44"), **bearer(mine.access)
    )
    malformed = client.delete(session_url("not-a-uuid"), **bearer(mine.access))

    assert [r.status_code for r in (foreign, unknown, malformed)] == [404, 404, 404]
    assert [r.json() for r in (foreign, unknown, malformed)] == [NOT_FOUND] * 3
    assert refresh(client, other.refresh).status_code == 200  # untouched


def test_end_session_already_ended_is_204(user):
    gone, mine = token_pair_for(user), token_pair_for(user)
    client = APIClient()
    client.delete(session_url(sid(gone.access)), **bearer(mine.access))

    again = client.delete(session_url(sid(gone.access)), **bearer(mine.access))

    assert again.status_code == 204


def test_logout_all_ends_every_session_this_one_included(user):
    pairs = [token_pair_for(user) for _ in range(3)]
    other_user = token_pair_for(create_user())
    client = APIClient()

    response = client.post(LOGOUT_ALL, **bearer(pairs[0].access))

    assert response.status_code == 204
    for pair in pairs:
        assert client.get(SESSIONS, **bearer(pair.access)).json() == TOKEN_NOT_VALID
        assert refresh(client, pair.refresh).json() == TOKEN_NOT_VALID
    assert client.get(SESSIONS, **bearer(other_user.access)).status_code == 200


def test_logout_ends_its_own_session(api_client, outbox):
    login = log_in(api_client, outbox)

    api_client.post(
        reverse("users:auth-logout"), {"refresh": login["refresh"]}, **bearer(login["access"])
    )

    assert api_client.get(SESSIONS, **bearer(login["access"])).json() == TOKEN_NOT_VALID
    assert Session.objects.get(pk=sid(login["access"])).ended_at is not None


def test_refresh_stays_in_its_session(user):
    pair = token_pair_for(user)

    rotated = refresh(APIClient(), pair.refresh).json()

    assert sid(rotated["access"]) == sid(pair.access)
    assert Session.objects.filter(user=user).count() == 1


def test_last_used_at_is_written_at_most_once_a_minute(user):
    with time_machine.travel(START, tick=False) as clock:
        pair = token_pair_for(user)
        client = APIClient()
        clock.shift(59)
        client.get(reverse("invites:profile-detail"), **bearer(pair.access))
        within_a_minute = Session.objects.get(pk=sid(pair.access)).last_used_at
        clock.shift(2)
        client.get(reverse("invites:profile-detail"), **bearer(pair.access))
        after_a_minute = Session.objects.get(pk=sid(pair.access)).last_used_at

    assert within_a_minute == START
    assert after_a_minute == START + timedelta(seconds=61)


def test_token_without_a_session_is_refused(user):
    token = RefreshToken()
    token["user_id"] = user.pk
    token["auth_time"] = int(datetime.now(UTC).timestamp())

    response = APIClient().get(SESSIONS, **bearer(str(token.access_token)))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


@pytest.mark.django_db(transaction=True)
def test_logout_all_racing_a_refresh_never_leaves_a_working_token():
    for _ in range(10):
        user = create_user()
        pair = token_pair_for(User.objects.get(pk=user.pk))

        def race(index, pair=pair):
            client = APIClient()
            if index == 0:
                return client.post(LOGOUT_ALL, **bearer(pair.access)).status_code
            return refresh(client, pair.refresh)

        logged_out, refreshed = run_concurrently(2, race)

        assert logged_out == 204
        if refreshed.status_code == 200:
            survivor = refreshed.json()
            client = APIClient()
            assert client.get(SESSIONS, **bearer(survivor["access"])).status_code == 401
            assert refresh(client, survivor["refresh"]).status_code == 401
        else:
            assert refreshed.json() == TOKEN_NOT_VALID

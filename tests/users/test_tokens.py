"""POST /api/v1/auth/refresh/ and Bearer access: rotation, the session cap, refused tokens."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.conf import settings as django_settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.concurrency import run_concurrently
from tests.login import bearer, log_in
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

TOKEN_NOT_VALID = {
    "code": "token_not_valid",
    "message": "The token is invalid or expired.",
    "errors": {},
}


def refresh(client: APIClient, token: str):
    return client.post(reverse("users:auth-refresh"), {"refresh": token})


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def test_refresh_returns_a_new_token_pair(api_client, user):
    pair = token_pair_for(user)

    response = refresh(api_client, pair.refresh)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != pair.refresh
    assert body["access"] != pair.access
    assert claims(body["refresh"])["user_id"] == user.pk
    assert claims(body["access"])["token_type"] == "access"
    assert (
        api_client.get(reverse("invites:profile-detail"), **bearer(body["access"])).status_code
        == 200
    )


def test_refresh_reused_token_is_refused(api_client, user):
    pair = token_pair_for(user)
    refresh(api_client, pair.refresh)

    response = refresh(api_client, pair.refresh)

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_refresh_rotated_token_works_once_more(api_client, user):
    first = refresh(api_client, token_pair_for(user).refresh).json()

    second = refresh(api_client, first["refresh"])
    reuse = refresh(api_client, first["refresh"])

    assert second.status_code == 200
    assert reuse.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_refresh_concurrent_rotations_of_one_token_let_exactly_one_in(user):
    token = token_pair_for(user).refresh

    responses = run_concurrently(2, lambda _: refresh(APIClient(), token))

    assert not any(isinstance(response, BaseException) for response in responses)
    assert sorted(response.status_code for response in responses) == [200, 401]
    refused = next(response for response in responses if response.status_code == 401)
    assert refused.json() == TOKEN_NOT_VALID


def test_refresh_session_ends_max_days_after_login(api_client, outbox, settings):
    # A refresh token lives 30 days; the session only 10, however often it is refreshed.
    settings.JWT_SESSION_MAX_DAYS = 10
    session_end = epoch(START + timedelta(days=10))
    with time_machine.travel(START, tick=False) as clock:
        token = log_in(api_client, outbox)["refresh"]
        assert claims(token)["exp"] <= session_end
        for _ in range(3):
            clock.shift(timedelta(days=3))
            response = refresh(api_client, token)
            assert response.status_code == 200
            token = response.json()["refresh"]
            assert claims(token)["exp"] <= session_end
            assert claims(response.json()["access"])["exp"] <= session_end
        clock.shift(timedelta(days=2))

        ended = refresh(api_client, token)

    assert ended.status_code == 401
    assert ended.json() == TOKEN_NOT_VALID


def test_refresh_near_session_end_tokens_expire_with_the_session(api_client, user, settings):
    settings.JWT_SESSION_MAX_DAYS = 10
    session_end = START + timedelta(days=10)
    with time_machine.travel(START, tick=False) as clock:
        pair = token_pair_for(user)
        clock.shift(timedelta(days=10) - timedelta(minutes=2))

        response = refresh(api_client, pair.refresh)

    assert response.status_code == 200
    assert claims(response.json()["refresh"])["exp"] == epoch(session_end)
    assert claims(response.json()["access"])["exp"] == epoch(session_end)
    assert claims(response.json()["refresh"])["auth_time"] == epoch(START)


def test_refresh_token_from_an_ended_session_is_refused_even_if_unexpired(
    api_client, user, settings
):
    settings.JWT_SESSION_MAX_DAYS = 10
    token = RefreshToken()
    token["user_id"] = user.pk
    token["auth_time"] = epoch(datetime.now(UTC) - timedelta(days=10, seconds=1))

    response = refresh(api_client, str(token))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


def test_refresh_token_without_session_start_is_refused(api_client, user):
    token = RefreshToken()
    token["user_id"] = user.pk

    response = refresh(api_client, str(token))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


def test_refresh_expired_token_is_refused(api_client, user, settings):
    with time_machine.travel(START, tick=False) as clock:
        pair = token_pair_for(user)
        clock.shift(timedelta(days=django_settings.JWT_REFRESH_DAYS, seconds=1))

        response = refresh(api_client, pair.refresh)

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


def test_refresh_disabled_user_is_refused(api_client, user):
    pair = token_pair_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = refresh(api_client, pair.refresh)

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


def test_access_token_of_disabled_user_is_refused(api_client, user):
    pair = token_pair_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = api_client.get(reverse("invites:profile-detail"), **bearer(pair.access))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_access_token_of_deleted_user_is_refused(api_client, user):
    pair = token_pair_for(user)
    user.delete()

    response = api_client.get(reverse("invites:profile-detail"), **bearer(pair.access))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


def test_access_token_expires_after_access_lifetime(api_client, user):
    with time_machine.travel(START, tick=False) as clock:
        pair = token_pair_for(user)
        clock.shift(timedelta(minutes=django_settings.JWT_ACCESS_MINUTES) - timedelta(seconds=1))
        fresh = api_client.get(reverse("invites:profile-detail"), **bearer(pair.access))
        clock.shift(timedelta(seconds=2))

        stale = api_client.get(reverse("invites:profile-detail"), **bearer(pair.access))

    assert fresh.status_code == 200
    assert stale.status_code == 401
    assert stale.json() == TOKEN_NOT_VALID


def forge(kind: str, token: str, other: str) -> str:
    """A token a client could send but the server must refuse; `other` is the other pair half."""
    payload = claims(token)
    match kind:
        case "alg-none":
            return jwt.encode(payload, "", algorithm="none")
        case "wrong-key":
            return jwt.encode(payload, "not-the-signing-key-" * 3, algorithm="HS256")
        case "other-algorithm":
            return jwt.encode(payload, django_settings.JWT_SIGNING_KEY, algorithm="HS512")
        case "tampered-claims":
            header, _, signature = token.split(".")
            forged = jwt.encode({**payload, "user_id": payload["user_id"] + 1}, "k" * 32)
            return ".".join([header, forged.split(".")[1], signature])
        case "other-token-type":
            return other
        case "garbage":
            return "not-a-jwt"
        case "empty-segments":
            return ".."
    raise AssertionError(kind)


FORGERIES = [
    "alg-none",
    "wrong-key",
    "other-algorithm",
    "tampered-claims",
    "other-token-type",
    "garbage",
    "empty-segments",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_refresh_forged_token_is_refused(api_client, make_user, kind):
    user = make_user()
    make_user()
    pair = token_pair_for(user)

    response = refresh(api_client, forge(kind, pair.refresh, pair.access))

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


@pytest.mark.parametrize("kind", FORGERIES)
def test_access_forged_token_is_refused(api_client, make_user, kind):
    user = make_user()
    make_user()
    pair = token_pair_for(user)

    response = api_client.get(
        reverse("invites:profile-detail"), **bearer(forge(kind, pair.access, pair.refresh))
    )

    assert response.status_code == 401
    assert response.json() == TOKEN_NOT_VALID


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"refresh": ["This field is required."]}),
        ({"refresh": ""}, {"refresh": ["This field may not be blank."]}),
        ({"refresh": None}, {"refresh": ["This field may not be null."]}),
        (
            {"refresh": "x" * 5000},
            {"refresh": ["Ensure this field has no more than 4096 characters."]},
        ),
    ],
)
def test_refresh_malformed_body_is_a_validation_error(api_client, body, errors):
    response = api_client.post(reverse("users:auth-refresh"), body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": errors,
    }


def test_refresh_ignores_an_authorization_header(api_client, user):
    pair = token_pair_for(user)

    response = api_client.post(
        reverse("users:auth-refresh"),
        {"refresh": pair.refresh},
        HTTP_AUTHORIZATION="Bearer garbage",
    )

    assert response.status_code == 200

"""Phone login over HTTP: JWT end to end, the profile behind it, and logout."""

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.conf import settings as django_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.login import PHONE, bearer, log_in
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

TOKEN_NOT_VALID = {
    "code": "token_not_valid",
    "message": "The token is invalid or expired.",
    "errors": {},
}
NOT_AUTHENTICATED = {
    "code": "not_authenticated",
    "message": "Authentication credentials were not provided.",
    "errors": {},
}
FOREIGN_REFRESH = {
    "code": "validation_error",
    "message": "The refresh token is not valid for this user.",
    "errors": {"refresh": ["The refresh token is not valid for this user."]},
}


def logout(client: APIClient, token: str, **extra):
    return client.post(reverse("users:auth-logout"), {"refresh": token}, **extra)


def refresh(client: APIClient, token: str):
    return client.post(reverse("users:auth-refresh"), {"refresh": token})


def test_login_jwt_end_to_end_reaches_the_profile(api_client, outbox):
    login = log_in(api_client, outbox, "+7 999 123-45-67")

    response = api_client.get(reverse("invites:profile-detail"), **bearer(login["access"]))

    assert response.status_code == 200
    assert response.json() == login["user"]
    assert response.json()["phone"] == PHONE


def test_profile_without_token_is_not_authenticated(api_client):
    response = api_client.get(reverse("invites:profile-detail"))

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Token abc", NOT_AUTHENTICATED),
        ("Basic dXNlcjpwYXNz", NOT_AUTHENTICATED),
        ("Bearer", TOKEN_NOT_VALID),
        ("Bearer a b", TOKEN_NOT_VALID),
        ("Bearer not-a-jwt", TOKEN_NOT_VALID),
    ],
)
def test_profile_malformed_authorization_header_is_refused(api_client, header, expected):
    response = api_client.get(reverse("invites:profile-detail"), HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == expected


def test_logout_revokes_the_refresh_token(api_client, outbox):
    login = log_in(api_client, outbox)

    response = logout(api_client, login["refresh"], **bearer(login["access"]))
    reuse = refresh(api_client, login["refresh"])

    assert response.status_code == 204
    assert response.content == b""
    assert reuse.status_code == 401
    assert reuse.json() == TOKEN_NOT_VALID


def test_logout_twice_is_not_an_error(api_client, outbox):
    login = log_in(api_client, outbox)
    # Signing out ends the session, and with it this access token (API.md 24–26): the second
    # call comes from another signed-in device of the same user.
    other_device = token_pair_for(User.objects.get(pk=login["user"]["id"]))
    logout(api_client, login["refresh"], **bearer(other_device.access))

    response = logout(api_client, login["refresh"], **bearer(other_device.access))

    assert response.status_code == 204


def test_logout_with_a_rotated_refresh_token_is_not_an_error(api_client, outbox):
    login = log_in(api_client, outbox)
    refresh(api_client, login["refresh"])

    response = logout(api_client, login["refresh"], **bearer(login["access"]))

    assert response.status_code == 204


def test_logout_with_own_expired_refresh_token_is_not_an_error(auth_client, user):
    with time_machine.travel(START, tick=False) as clock:
        pair = token_pair_for(user)
        clock.shift(timedelta(days=django_settings.JWT_REFRESH_DAYS + 1))

        response = logout(auth_client, pair.refresh)

    assert response.status_code == 204


def test_logout_with_another_users_refresh_token_is_refused(auth_client, make_user):
    other = token_pair_for(make_user())

    response = logout(auth_client, other.refresh)
    still_valid = refresh(APIClient(), other.refresh)

    assert response.status_code == 400
    assert response.json() == FOREIGN_REFRESH
    assert still_valid.status_code == 200


def test_logout_with_another_users_expired_refresh_token_is_refused(auth_client, make_user):
    with time_machine.travel(START, tick=False) as clock:
        other = token_pair_for(make_user())
        clock.shift(timedelta(days=django_settings.JWT_REFRESH_DAYS + 1))

        response = logout(auth_client, other.refresh)

    assert response.status_code == 400
    assert response.json() == FOREIGN_REFRESH


def signed_elsewhere(user_id: int) -> str:
    """A well-formed refresh token for `user_id`, signed with a key this server does not use."""
    now = int(time.time())
    payload = {
        "token_type": "refresh",
        "user_id": user_id,
        "jti": "f" * 32,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
    }
    return jwt.encode(payload, "another-service-signing-key-0123456789", algorithm="HS256")


@pytest.mark.parametrize("kind", ["garbage", "access-token", "wrong-key", "alg-none"])
def test_logout_with_malformed_or_forged_refresh_token_is_refused(auth_client, user, kind):
    pair = token_pair_for(user)
    own_claims = jwt.decode(pair.refresh, options={"verify_signature": False})
    token = {
        "garbage": "not-a-jwt",
        "access-token": pair.access,
        "wrong-key": signed_elsewhere(user.pk),
        "alg-none": jwt.encode(own_claims, "", algorithm="none"),
    }[kind]

    response = logout(auth_client, token)
    still_valid = refresh(APIClient(), pair.refresh)

    assert response.status_code == 400
    assert response.json() == FOREIGN_REFRESH
    assert still_valid.status_code == 200


def test_logout_without_bearer_is_not_authenticated(api_client, user):
    response = logout(api_client, token_pair_for(user).refresh)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_logout_missing_refresh_is_a_validation_error(auth_client):
    response = auth_client.post(reverse("users:auth-logout"), {})

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"refresh": ["This field is required."]},
    }

"""Activating an invite code: the service's rules, then the HTTP contract (API.md › 6).

The hourly failure limit and the order of precedence are in test_activate_limits.py.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from invites.exceptions import (
    InviteAlreadyActivatedError,
    InviteCodeNotFoundError,
    InviteCodeOwnError,
    InviteCycleError,
)
from invites.services import invite_activate
from tests.invites.answers import (
    CYCLE,
    INVALID_CODE,
    NOT_FOUND,
    OWN,
    TOO_LONG,
    UNKNOWN_CODE,
    URL,
    activate,
    already_activated,
    invalid,
)
from tests.invites.conftest import fresh
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


# ---------------------------------------------------------------- service


def test_invite_activate_known_code_makes_user_a_referral_of_owner(
    user: User, owner: User, time_machine
) -> None:
    time_machine.move_to(NOW, tick=False)

    activated = invite_activate(user=user, code=owner.invite_code)

    assert (activated.referred_by, activated.referred_at) == (owner, NOW)
    assert activated.activated_invite_code == owner.invite_code
    assert fresh(owner).referrals_count == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (UNKNOWN_CODE, InviteCodeNotFoundError),
        ("own", InviteCodeOwnError),
    ],
)
def test_invite_activate_refused_code_raises_and_changes_nothing(
    user: User, code: str, error: type[Exception]
) -> None:
    code = user.invite_code if code == "own" else code

    with pytest.raises(error):
        invite_activate(user=user, code=code)

    assert fresh(user).referred_by is None
    assert fresh(user).referrals_count == 0


@pytest.mark.parametrize("length", [2, 3, 4, 6])
def test_invite_activate_code_of_someone_below_caller_is_a_cycle(chain, length: int) -> None:
    users = chain(length)
    top, bottom = users[0], users[-1]

    with pytest.raises(InviteCycleError):
        invite_activate(user=top, code=bottom.invite_code)

    assert fresh(top).referred_by is None
    assert fresh(bottom).referrals_count == 0


def test_invite_activate_code_of_someone_in_another_branch_succeeds(
    chain, make_user: Callable[..., User]
) -> None:
    root, middle, _leaf = chain(3)
    outsider_root = make_user()

    activated = invite_activate(user=fresh(outsider_root), code=middle.invite_code)

    assert activated.referred_by == middle
    assert fresh(root).referred_by is None


def test_invite_activate_second_time_names_the_first_code(
    user: User, owner: User, make_user: Callable[..., User], refer
) -> None:
    refer(user, owner)

    with pytest.raises(InviteAlreadyActivatedError) as raised:
        invite_activate(user=fresh(user), code=make_user().invite_code)

    assert (
        raised.value.message == f"You have already activated the invite code {owner.invite_code}."
    )
    assert fresh(owner).referrals_count == 1


def test_invite_activate_stale_user_object_is_still_refused(
    user: User, owner: User, make_user: Callable[..., User], refer
) -> None:
    refer(user, owner)
    other = make_user()

    with pytest.raises(InviteAlreadyActivatedError):
        invite_activate(user=user, code=other.invite_code)  # `user` predates the activation

    assert fresh(user).referred_by == owner
    assert fresh(other).referrals_count == 0


# ---------------------------------------------------------------- API


def test_activate_invite_known_code_returns_updated_user(
    api_client: APIClient, make_user: Callable[..., User], time_machine
) -> None:
    time_machine.move_to(NOW, tick=False)
    caller, owner = make_user(), make_user()
    api_client.force_authenticate(user=caller)

    status, body = activate(api_client, owner.invite_code)

    assert status == 200
    assert body == {
        "id": caller.pk,
        "phone": caller.phone,
        "invite_code": caller.invite_code,
        "activated_invite_code": owner.invite_code,
        "referrals_count": 0,
        "date_joined": "2026-11-21T10:00:00Z",
    }
    assert fresh(owner).referrals_count == 1
    assert fresh(caller).referred_at == NOW


@pytest.mark.parametrize("sent", ["x9y8z7", "  x9y8z7 ", "X9y8Z7", "\tX9Y8Z7\n"])
def test_activate_invite_case_and_surrounding_spaces_are_ignored(
    auth_client: APIClient, owner: User, sent: str
) -> None:
    User.objects.filter(pk=owner.pk).update(invite_code="X9Y8Z7")

    status, body = activate(auth_client, sent)

    assert (status, body["activated_invite_code"]) == (200, "X9Y8Z7")
    assert fresh(owner).referrals_count == 1


@pytest.mark.parametrize(
    ("payload", "messages"),
    [
        ({}, ["This field is required."]),
        ({"invite_code": None}, ["This field may not be null."]),
        ({"invite_code": ""}, ["This field may not be blank."]),
        ({"invite_code": "      "}, ["This field may not be blank."]),
        ({"invite_code": "A1B2C"}, [INVALID_CODE]),
        ({"invite_code": "A1B2C3D"}, [INVALID_CODE]),
        ({"invite_code": "A1 B2C"}, [INVALID_CODE]),
        ({"invite_code": "A1-B2C"}, [INVALID_CODE]),
        ({"invite_code": "ÄÖÜ123"}, [INVALID_CODE]),
        ({"invite_code": "A" * 65}, [TOO_LONG, INVALID_CODE]),
        ({"invite_code": 123456}, [INVALID_CODE]),
        ({"invite_code": 12345.6}, [INVALID_CODE]),
        ({"invite_code": True}, [INVALID_CODE]),
        ({"invite_code": ["A1B2C3"]}, [INVALID_CODE]),
        ({"invite_code": {"code": "A1B2C3"}}, [INVALID_CODE]),
    ],
)
def test_activate_invite_malformed_code_is_validation_error(
    auth_client: APIClient, user: User, payload: dict[str, object], messages: list[str]
) -> None:
    response = auth_client.post(reverse(URL), payload, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(*messages)
    assert fresh(user).referred_by is None


def test_activate_invite_numeric_code_sent_as_string_is_accepted(
    auth_client: APIClient, owner: User
) -> None:
    User.objects.filter(pk=owner.pk).update(invite_code="123456")

    status, body = activate(auth_client, "123456")

    assert (status, body["activated_invite_code"]) == (200, "123456")


def test_activate_invite_unknown_code_is_not_found(auth_client: APIClient, user: User) -> None:
    status, body = activate(auth_client, UNKNOWN_CODE)

    assert (status, body) == (400, NOT_FOUND)
    assert fresh(user).referred_by is None


def test_activate_invite_own_code_is_refused(auth_client: APIClient, user: User) -> None:
    status, body = activate(auth_client, user.invite_code.lower())

    assert (status, body) == (400, OWN)


@pytest.mark.parametrize("length", [2, 3, 5])
def test_activate_invite_code_from_own_chain_is_cycle(chain, client_for, length: int) -> None:
    users = chain(length)

    status, body = activate(client_for(users[0]), users[-1].invite_code)

    assert (status, body) == (400, CYCLE)
    assert fresh(users[0]).referred_by is None


def test_activate_invite_second_activation_is_conflict_naming_first_code(
    user: User, owner: User, make_user: Callable[..., User], client_for
) -> None:
    status, _ = activate(client_for(user), owner.invite_code)

    second_status, body = activate(client_for(user), make_user().invite_code)

    assert status == 200
    assert (second_status, body) == (409, already_activated(owner.invite_code))
    assert fresh(user).referred_by == owner


def test_activate_invite_unauthenticated_is_refused(api_client: APIClient, owner: User) -> None:
    response = api_client.post(reverse(URL), {"invite_code": owner.invite_code})

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert fresh(owner).referrals_count == 0


def test_activate_invite_with_bearer_token_works_end_to_end(user: User, owner: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user).access}")

    status, body = activate(client, owner.invite_code)

    assert (status, body["activated_invite_code"]) == (200, owner.invite_code)

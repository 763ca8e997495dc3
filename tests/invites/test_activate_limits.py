"""The hourly cap on failed activations, and which failure wins when several apply (API.md › 6)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from invites.exceptions import InviteActivationThrottledError, InviteCodeNotFoundError
from invites.services import invite_activate
from tests.invites.answers import (
    CYCLE,
    INVALID_CODE,
    NOT_FOUND,
    OWN,
    THROTTLED,
    UNKNOWN_CODE,
    URL,
    activate,
    already_activated,
    invalid,
)
from tests.invites.conftest import fresh
from users.models import User

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_invite_activate_after_failure_limit_is_throttled(
    user: User, owner: User, low_failure_limit: int
) -> None:
    for _ in range(low_failure_limit):
        with pytest.raises(InviteCodeNotFoundError):
            invite_activate(user=user, code=UNKNOWN_CODE)

    with pytest.raises(InviteActivationThrottledError):
        invite_activate(user=user, code=owner.invite_code)

    assert fresh(user).referred_by is None


# ---------------------------------------------------------------- failure limit


def test_activate_invite_unknown_codes_past_limit_are_throttled(
    auth_client: APIClient, low_failure_limit: int, time_machine
) -> None:
    time_machine.move_to(NOW, tick=False)
    statuses = [activate(auth_client, UNKNOWN_CODE)[0] for _ in range(low_failure_limit)]

    response = auth_client.post(reverse(URL), {"invite_code": UNKNOWN_CODE})

    assert statuses == [400] * low_failure_limit
    assert response.status_code == 429
    assert response.json() == THROTTLED
    assert response.headers["Retry-After"] == "3600"


def test_activate_invite_window_rolls_after_an_hour(
    user: User, owner: User, client_for, low_failure_limit: int, time_machine
) -> None:
    time_machine.move_to(NOW, tick=False)
    for _ in range(low_failure_limit):
        activate(client_for(user), UNKNOWN_CODE)
    time_machine.move_to(NOW + timedelta(seconds=3599), tick=False)
    almost = client_for(user).post(reverse(URL), {"invite_code": owner.invite_code})
    time_machine.move_to(NOW + timedelta(hours=1), tick=False)

    status, body = activate(client_for(user), owner.invite_code)

    assert (almost.status_code, almost.headers["Retry-After"]) == (429, "1")
    assert (status, body["activated_invite_code"]) == (200, owner.invite_code)


def test_activate_invite_limit_counts_a_rolling_window_not_a_fixed_hour(
    auth_client: APIClient, low_failure_limit: int, time_machine
) -> None:
    time_machine.move_to(NOW, tick=False)
    activate(auth_client, UNKNOWN_CODE)
    time_machine.move_to(NOW + timedelta(minutes=30), tick=False)
    for _ in range(low_failure_limit - 1):
        activate(auth_client, UNKNOWN_CODE)
    time_machine.move_to(NOW + timedelta(minutes=61), tick=False)

    freed = activate(auth_client, UNKNOWN_CODE)
    blocked = auth_client.post(reverse(URL), {"invite_code": UNKNOWN_CODE})

    assert freed == (400, NOT_FOUND)
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == str(29 * 60)


def test_activate_invite_own_and_cycle_failures_do_not_count(
    chain, client_for, low_failure_limit: int, make_user: Callable[..., User]
) -> None:
    top, _middle, bottom = chain(3)
    for _ in range(low_failure_limit + 1):
        assert activate(client_for(top), top.invite_code) == (400, OWN)
        assert activate(client_for(top), bottom.invite_code) == (400, CYCLE)
    assert activate(client_for(top), UNKNOWN_CODE) == (400, NOT_FOUND)
    outsider = make_user()

    status, body = activate(client_for(top), outsider.invite_code)

    assert (status, body["activated_invite_code"]) == (200, outsider.invite_code)


def test_activate_invite_limit_is_per_user(
    user: User, owner: User, make_user: Callable[..., User], client_for, low_failure_limit: int
) -> None:
    for _ in range(low_failure_limit):
        activate(client_for(user), UNKNOWN_CODE)

    status, _ = activate(client_for(make_user()), owner.invite_code)

    assert status == 200


# ---------------------------------------------------------------- precedence (API.md › 6)


def test_activate_invite_already_activated_beats_unknown_code(
    user: User, owner: User, refer, client_for, low_failure_limit: int
) -> None:
    refer(user, owner)
    answers = [activate(client_for(user), UNKNOWN_CODE) for _ in range(low_failure_limit + 1)]

    assert answers == [(409, already_activated(owner.invite_code))] * (low_failure_limit + 1)


@pytest.mark.parametrize("target", ["own", "cycle"])
def test_activate_invite_already_activated_beats_own_and_cycle(
    chain, client_for, target: str
) -> None:
    top, middle, bottom = chain(3)
    code = middle.invite_code if target == "own" else bottom.invite_code

    status, body = activate(client_for(middle), code)

    assert (status, body) == (409, already_activated(top.invite_code))


@pytest.mark.parametrize("code", ["valid", "own", UNKNOWN_CODE])
def test_activate_invite_throttled_beats_everything_but_validation(
    user: User, owner: User, client_for, low_failure_limit: int, code: str
) -> None:
    for _ in range(low_failure_limit):
        activate(client_for(user), UNKNOWN_CODE)
    sent = {"valid": owner.invite_code, "own": user.invite_code}.get(code, code)

    status, body = activate(client_for(user), sent)

    assert (status, body) == (429, THROTTLED)
    assert fresh(owner).referrals_count == 0


def test_activate_invite_throttled_beats_already_activated(
    user: User, owner: User, refer, client_for, settings
) -> None:
    settings.INVITE_ACTIVATE_FAILURES_PER_HOUR = 2
    activate(client_for(user), UNKNOWN_CODE)
    refer(user, owner)
    settings.INVITE_ACTIVATE_FAILURES_PER_HOUR = 1

    status, body = activate(client_for(user), UNKNOWN_CODE)

    assert (status, body) == (429, THROTTLED)


def test_activate_invite_validation_beats_throttled(
    user: User, client_for, low_failure_limit: int
) -> None:
    for _ in range(low_failure_limit):
        activate(client_for(user), UNKNOWN_CODE)

    status, body = activate(client_for(user), "bad!")

    assert (status, body) == (400, invalid(INVALID_CODE))

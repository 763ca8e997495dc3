"""An invite code sent with the first login (API.md › 2): applied only when it creates the user."""

from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest
from django.db import DataError
from django.urls import reverse
from rest_framework.test import APIClient

from tests.invites.conftest import fresh
from tests.invites.graph import assert_referral_graph_is_sound
from users.models import User
from users.sms import SmsMessage

pytestmark = pytest.mark.django_db

PHONE = "+79990001122"
INVALID_CODE = "An invite code is 6 letters or digits, e.g. A1B2C3."


@pytest.fixture
def login_code(api_client: APIClient, outbox: list[SmsMessage]) -> Callable[[str], str]:
    """`login_code(phone)`: asks for a code the way a client does and reads it from the SMS."""

    def request(phone: str) -> str:
        response = api_client.post(reverse("users:auth-request-code"), {"phone": phone})
        assert response.status_code == 200
        assert outbox[-1].phone == phone
        return outbox[-1].text.split()[-1]

    return request


def verify(client: APIClient, payload: dict[str, object]) -> tuple[int, dict[str, Any]]:
    response = client.post(reverse("users:auth-verify-code"), payload, format="json")
    return response.status_code, response.json()


def test_verify_code_new_user_with_known_invite_is_created_referred(
    api_client: APIClient, owner: User, login_code
) -> None:
    code = login_code(PHONE)

    status, body = verify(
        api_client, {"phone": PHONE, "code": code, "invite_code": f" {owner.invite_code.lower()} "}
    )

    created = User.objects.select_related("referred_by").get(phone=PHONE)
    assert status == 200
    assert body == {
        "access": ANY,
        "refresh": ANY,
        "is_new_user": True,
        "user": {
            "id": created.pk,
            "phone": PHONE,
            "invite_code": created.invite_code,
            "activated_invite_code": owner.invite_code,
            "referrals_count": 0,
            "date_joined": ANY,
        },
    }
    assert created.referred_by == owner
    assert created.referred_at == created.date_joined
    assert fresh(owner).referrals_count == 1
    assert_referral_graph_is_sound()


def test_verify_code_new_user_without_invite_is_created_unreferred(
    api_client: APIClient, login_code
) -> None:
    code = login_code(PHONE)

    status, body = verify(api_client, {"phone": PHONE, "code": code})

    assert (status, body["is_new_user"], body["user"]["activated_invite_code"]) == (200, True, None)
    assert User.objects.get(phone=PHONE).referred_by is None


def test_verify_code_new_user_with_unknown_invite_fails_and_keeps_login_code(
    api_client: APIClient, login_code
) -> None:
    code = login_code(PHONE)

    refused = verify(api_client, {"phone": PHONE, "code": code, "invite_code": "ZZZZZZ"})
    retried_status, retried = verify(api_client, {"phone": PHONE, "code": code})

    assert refused == (
        400,
        {"code": "invite_code_not_found", "message": "No user has this invite code.", "errors": {}},
    )
    assert (retried_status, retried["is_new_user"]) == (200, True)
    assert retried["user"]["activated_invite_code"] is None


def test_verify_code_unknown_invite_is_checked_before_a_wrong_login_code(
    api_client: APIClient, login_code
) -> None:
    code = login_code(PHONE)
    wrong = "0000" if code != "0000" else "1111"

    refused = verify(api_client, {"phone": PHONE, "code": wrong, "invite_code": "ZZZZZZ"})
    status, _ = verify(api_client, {"phone": PHONE, "code": code})

    assert refused[1]["code"] == "invite_code_not_found"
    assert status == 200


@pytest.mark.parametrize("invite", ["known", "unknown"])
def test_verify_code_existing_user_ignores_invite(
    api_client: APIClient,
    make_user: Callable[..., User],
    owner: User,
    login_code,
    invite: str,
) -> None:
    existing = make_user(phone=PHONE)
    code = login_code(PHONE)
    invite_code = owner.invite_code if invite == "known" else "ZZZZZZ"

    status, body = verify(api_client, {"phone": PHONE, "code": code, "invite_code": invite_code})

    assert status == 200
    assert body["is_new_user"] is False
    assert body["user"] == {
        "id": existing.pk,
        "phone": PHONE,
        "invite_code": existing.invite_code,
        "activated_invite_code": None,
        "referrals_count": 0,
        "date_joined": ANY,
    }
    assert fresh(existing).referred_by is None
    assert fresh(owner).referrals_count == 0


def test_verify_code_existing_referred_user_keeps_first_referrer(
    api_client: APIClient, make_user: Callable[..., User], owner: User, refer, login_code
) -> None:
    existing = make_user(phone=PHONE)
    refer(existing, owner)
    other = make_user()
    code = login_code(PHONE)

    status, body = verify(
        api_client, {"phone": PHONE, "code": code, "invite_code": other.invite_code}
    )

    assert (status, body["user"]["activated_invite_code"]) == (200, owner.invite_code)
    assert (fresh(owner).referrals_count, fresh(other).referrals_count) == (1, 0)


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize(
    ("invite_code", "messages"),
    [
        ("A1B2C", [INVALID_CODE]),
        ("A1B2C3D", [INVALID_CODE]),
        ("A1-B2C", [INVALID_CODE]),
        (123456, [INVALID_CODE]),
        ("", ["This field may not be blank."]),
    ],
)
def test_verify_code_malformed_invite_is_validation_error_for_everyone(
    api_client: APIClient,
    make_user: Callable[..., User],
    login_code,
    existing: bool,
    invite_code: object,
    messages: list[str],
) -> None:
    if existing:
        make_user(phone=PHONE)
    code = login_code(PHONE)

    refused = verify(api_client, {"phone": PHONE, "code": code, "invite_code": invite_code})
    status, _ = verify(api_client, {"phone": PHONE, "code": code})

    assert refused == (
        400,
        {
            "code": "validation_error",
            "message": "The request has invalid fields.",
            "errors": {"invite_code": messages},
        },
    )
    assert status == 200


@pytest.mark.django_db(transaction=True)
def test_verify_code_sign_up_and_activation_share_one_transaction(
    api_client: APIClient, owner: User, login_code
) -> None:
    # The owner's counter cannot take one more: the second write of the sign-up fails.
    User.objects.filter(pk=owner.pk).update(referrals_count=2**31 - 1)
    code = login_code(PHONE)

    with pytest.raises(DataError):
        verify(api_client, {"phone": PHONE, "code": code, "invite_code": owner.invite_code})

    assert not User.objects.filter(phone=PHONE).exists()
    assert fresh(owner).referrals_count == 2**31 - 1

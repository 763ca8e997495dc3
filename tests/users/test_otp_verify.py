"""POST /api/v1/auth/verify-code/: checking a code, attempt limits, sign-up and sign-in."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from django_redis import get_redis_connection

from tests.login import OTHER_PHONE, PHONE, request_code, sent_code, verify_code, wrong_code
from users.models import User

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

OTP_INVALID = {"code": "otp_invalid", "message": "The code is wrong.", "errors": {}}
OTP_EXPIRED = {
    "code": "otp_expired",
    "message": "There is no valid code for this phone number. Request a new one.",
    "errors": {},
}
ATTEMPTS_EXCEEDED = {
    "code": "otp_attempts_exceeded",
    "message": "Too many wrong codes. Try again later.",
    "errors": {},
}
FAILS_KEY = f"referral:otp:{{{PHONE}}}:fails"


def test_verify_code_first_login_creates_the_user(api_client, outbox):
    request_code(api_client)

    response = verify_code(api_client, PHONE, sent_code(outbox))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "is_new_user", "user"}
    assert body["is_new_user"] is True
    user = User.objects.get(phone=PHONE)
    assert body["user"] == {
        "id": user.pk,
        "phone": PHONE,
        "invite_code": user.invite_code,
        "activated_invite_code": None,
        "referrals_count": 0,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }
    assert not user.has_usable_password()


def test_verify_code_next_login_finds_the_same_user(api_client, outbox):
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        first = verify_code(api_client, PHONE, sent_code(outbox)).json()
        clock.shift(60)
        request_code(api_client)

        response = verify_code(api_client, PHONE, sent_code(outbox))

    assert response.status_code == 200
    assert response.json()["is_new_user"] is False
    assert response.json()["user"] == first["user"]
    assert User.objects.filter(phone=PHONE).count() == 1


def test_verify_code_phone_is_normalised_like_request_code(api_client, outbox):
    request_code(api_client, "+7 (999) 123-45-67")

    response = verify_code(api_client, "+7 999 123 45 67", sent_code(outbox))

    assert response.status_code == 200
    assert response.json()["user"]["phone"] == PHONE


def test_verify_code_works_only_once(api_client, outbox):
    request_code(api_client)
    code = sent_code(outbox)
    verify_code(api_client, PHONE, code)

    response = verify_code(api_client, PHONE, code)

    assert response.status_code == 400
    assert response.json() == OTP_EXPIRED


def test_verify_code_without_a_requested_code_is_expired(api_client):
    response = verify_code(api_client, PHONE, "1234")

    assert response.status_code == 400
    assert response.json() == OTP_EXPIRED


def test_verify_code_is_bound_to_its_phone(api_client, outbox, settings):
    # Eight digits: the two phones draw the same code once in 10^8 runs.
    settings.OTP_LENGTH = 8
    request_code(api_client, PHONE)
    request_code(api_client, OTHER_PHONE)
    code = sent_code(outbox, PHONE)
    assert code != sent_code(outbox, OTHER_PHONE)

    response = verify_code(api_client, OTHER_PHONE, code)

    assert response.status_code == 400
    assert response.json() == OTP_INVALID


def test_verify_code_wrong_code_is_invalid_and_keeps_the_code(api_client, outbox):
    request_code(api_client)
    code = sent_code(outbox)

    wrong = verify_code(api_client, PHONE, wrong_code(code))
    right = verify_code(api_client, PHONE, code)

    assert wrong.status_code == 400
    assert wrong.json() == OTP_INVALID
    assert right.status_code == 200


def test_verify_code_try_reaching_max_attempts_burns_the_code(api_client, outbox, settings):
    settings.OTP_MAX_ATTEMPTS = 3
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        code = sent_code(outbox)
        clock.shift(20)
        answers = [verify_code(api_client, PHONE, wrong_code(code)) for _ in range(3)]

        later = verify_code(api_client, PHONE, code)

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert answers[0].json() == answers[1].json() == OTP_INVALID
    assert answers[2].json() == ATTEMPTS_EXCEEDED
    # A new code can be asked for once the resend cooldown (60 s) has run out.
    assert answers[2]["Retry-After"] == "40"
    assert later.status_code == 400
    assert later.json() == OTP_EXPIRED


def test_verify_code_burn_after_cooldown_still_says_retry_after_at_least_one(api_client, outbox):
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        clock.shift(120)
        wrong = wrong_code(sent_code(outbox))

        answers = [verify_code(api_client, PHONE, wrong) for _ in range(5)]

    assert answers[-1].status_code == 429
    assert answers[-1]["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("seconds", "status_code"),
    [(299, 200), (300, 400), (3600, 400)],
)
def test_verify_code_after_ttl_is_expired(api_client, outbox, seconds, status_code):
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        clock.shift(seconds)

        response = verify_code(api_client, PHONE, sent_code(outbox))

    assert response.status_code == status_code
    if status_code == 400:
        assert response.json() == OTP_EXPIRED


def test_verify_code_ttl_comes_from_settings(api_client, outbox, settings):
    settings.OTP_TTL_SECONDS = 30
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        clock.shift(30)

        response = verify_code(api_client, PHONE, sent_code(outbox))

    assert response.status_code == 400
    assert response.json() == OTP_EXPIRED


def test_verify_code_daily_failure_cap_survives_new_codes(api_client, outbox, settings):
    settings.OTP_MAX_ATTEMPTS = 5
    settings.OTP_FAILURES_PER_PHONE_PER_DAY = 7
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        first_wrong = wrong_code(sent_code(outbox))
        first = [verify_code(api_client, PHONE, first_wrong) for _ in range(5)]
        clock.shift(600)
        request_code(api_client)
        second_code = sent_code(outbox)

        second = [verify_code(api_client, PHONE, wrong_code(second_code)) for _ in range(2)]
        locked_verify = verify_code(api_client, PHONE, second_code)
        locked_request = request_code(api_client)
        sent_while_locked = len(outbox)
        clock.shift(86400 - 600 - 1)
        last_second = request_code(api_client)
        clock.shift(1)
        unlocked_request = request_code(api_client)
        unlocked_verify = verify_code(api_client, PHONE, sent_code(outbox))

    assert [answer.status_code for answer in first] == [400, 400, 400, 400, 429]
    assert second[0].json() == OTP_INVALID
    assert second[1].status_code == 429
    assert second[1].json() == ATTEMPTS_EXCEEDED
    # The oldest of the 7 failures leaves the rolling day 86400 s after it happened.
    assert second[1]["Retry-After"] == str(86400 - 600)
    assert locked_verify.status_code == 429
    assert locked_verify.json() == ATTEMPTS_EXCEEDED
    assert locked_verify["Retry-After"] == str(86400 - 600)
    assert locked_request.status_code == 429
    assert locked_request.json() == ATTEMPTS_EXCEEDED
    assert sent_while_locked == 2
    assert last_second.status_code == 429
    assert last_second["Retry-After"] == "1"
    assert unlocked_request.status_code == 200
    assert unlocked_verify.status_code == 200


def test_verify_code_failures_are_counted_per_phone(api_client, outbox, settings):
    settings.OTP_FAILURES_PER_PHONE_PER_DAY = 2
    request_code(api_client, PHONE)
    request_code(api_client, OTHER_PHONE)
    wrong = wrong_code(sent_code(outbox, PHONE))
    verify_code(api_client, PHONE, wrong)
    verify_code(api_client, PHONE, wrong)

    response = verify_code(api_client, OTHER_PHONE, sent_code(outbox, OTHER_PHONE))

    assert response.status_code == 200
    assert get_redis_connection("default").zcard(FAILS_KEY) == 2


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("123", "The code has 4 digits."),
        ("12345", "The code has 4 digits."),
        ("12a4", "The code is made of digits only."),
        ("12 34", "The code is made of digits only."),
        ("-123", "The code is made of digits only."),
        ("١٢٣٤", "The code is made of digits only."),
        ("", "This field may not be blank."),
        (None, "This field may not be null."),
        (["1234"], "The code is made of digits only."),
        ("1" * 17, "Ensure this field has no more than 16 characters."),
    ],
)
def test_verify_code_malformed_code_is_a_validation_error(api_client, outbox, code, message):
    request_code(api_client)

    response = verify_code(api_client, PHONE, code)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"code": [message]},
    }
    assert get_redis_connection("default").zcard(FAILS_KEY) == 0


def test_verify_code_length_follows_settings(api_client, outbox, settings):
    settings.OTP_LENGTH = 6

    response = verify_code(api_client, PHONE, "1234")

    assert response.status_code == 400
    assert response.json()["errors"] == {"code": ["The code has 6 digits."]}


def test_verify_code_missing_fields_are_validation_errors(api_client):
    response = api_client.post(reverse("users:auth-verify-code"), {})

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"phone": ["This field is required."], "code": ["This field is required."]},
    }


def test_verify_code_disabled_user_with_wrong_code_gets_otp_invalid(api_client, outbox, make_user):
    make_user(phone=PHONE, is_active=False)
    request_code(api_client)

    response = verify_code(api_client, PHONE, wrong_code(sent_code(outbox)))

    assert response.status_code == 400
    assert response.json() == OTP_INVALID


def test_verify_code_disabled_user_with_right_code_is_refused(api_client, outbox, make_user):
    make_user(phone=PHONE, is_active=False)
    request_code(api_client)

    response = verify_code(api_client, PHONE, sent_code(outbox))

    assert response.status_code == 403
    assert response.json() == {
        "code": "account_disabled",
        "message": "This account is disabled.",
        "errors": {},
    }


INVITE_FORMAT = "An invite code is 6 letters or digits, e.g. A1B2C3."


@pytest.mark.parametrize(
    ("invite_code", "messages"),
    [
        ("ABC12", [INVITE_FORMAT]),
        ("ABC1234", [INVITE_FORMAT]),
        ("AB-123", [INVITE_FORMAT]),
        ("ÄBC123", [INVITE_FORMAT]),
        (123456, [INVITE_FORMAT]),
        (["ABC123"], [INVITE_FORMAT]),
        ("", ["This field may not be blank."]),
        ("A" * 100, ["Ensure this field has no more than 64 characters.", INVITE_FORMAT]),
    ],
)
@pytest.mark.parametrize("existing_user", [True, False])
def test_verify_code_malformed_invite_code_is_a_validation_error(
    api_client, outbox, make_user, invite_code, messages, existing_user
):
    if existing_user:
        make_user(phone=PHONE)
    request_code(api_client)
    code = sent_code(outbox)

    response = verify_code(api_client, PHONE, code, invite_code=invite_code)
    retried = verify_code(api_client, PHONE, code)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"invite_code": messages},
    }
    assert retried.status_code == 200


def test_verify_code_null_invite_code_is_no_invite_code(api_client, outbox):
    request_code(api_client)

    response = verify_code(api_client, PHONE, sent_code(outbox), invite_code=None)

    assert response.status_code == 200
    assert response.json()["user"]["activated_invite_code"] is None


def test_verify_code_unknown_invite_code_fails_before_spending_the_code(api_client, outbox):
    request_code(api_client)
    code = sent_code(outbox)

    refused = verify_code(api_client, PHONE, code, invite_code="ZZZZZZ")
    retried = verify_code(api_client, PHONE, code)

    assert refused.status_code == 400
    assert refused.json() == {
        "code": "invite_code_not_found",
        "message": "No user has this invite code.",
        "errors": {},
    }
    assert retried.status_code == 200
    assert retried.json()["user"]["activated_invite_code"] is None


def test_verify_code_sign_up_activates_a_known_invite_code(api_client, outbox, make_user):
    inviter = make_user()
    request_code(api_client)

    response = verify_code(
        api_client, PHONE, sent_code(outbox), invite_code=f" {inviter.invite_code.lower()} "
    )

    assert response.status_code == 200
    assert response.json()["user"]["activated_invite_code"] == inviter.invite_code
    user = User.objects.get(phone=PHONE)
    assert user.referred_by == inviter
    assert user.referred_at is not None
    inviter.refresh_from_db()
    assert inviter.referrals_count == 1


@pytest.mark.parametrize("known", [True, False])
def test_verify_code_existing_user_ignores_invite_code(api_client, outbox, make_user, known):
    inviter = make_user()
    make_user(phone=PHONE)
    request_code(api_client)
    invite_code = inviter.invite_code if known else "ZZZZZZ"

    response = verify_code(api_client, PHONE, sent_code(outbox), invite_code=invite_code)

    assert response.status_code == 200
    assert response.json()["is_new_user"] is False
    assert response.json()["user"]["activated_invite_code"] is None
    assert User.objects.get(phone=PHONE).referred_by is None
    inviter.refresh_from_db()
    assert inviter.referrals_count == 0

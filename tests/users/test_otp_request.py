"""POST /api/v1/auth/request-code/: normalising the phone, sending a code, and every send limit."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from django_redis import get_redis_connection

from tests.login import OTHER_PHONE, PHONE, request_code, sent_code, verify_code, wrong_code
from users.models import User
from users.otp import code_mac

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

INVALID_PHONE = {
    "code": "validation_error",
    "message": "The request has invalid fields.",
    "errors": {"phone": ["Enter a valid phone number in international format, e.g. +79991234567."]},
}


def throttled_body(code: str, message: str) -> dict[str, object]:
    return {"code": code, "message": message, "errors": {}}


COOLDOWN = throttled_body(
    "otp_cooldown", "A code was sent recently. Wait before asking for another one."
)
SEND_LIMIT = throttled_body("throttled", "Too many codes were requested. Try again later.")
LOCKED = throttled_body("otp_attempts_exceeded", "Too many wrong codes. Try again later.")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+79991234567", None, "+79991234567"),
        ("+7 999 123-45-67", None, "+79991234567"),
        ("+7 (999) 123 45 67", None, "+79991234567"),
        ("+1 (415) 555-2671", None, "+14155552671"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("  +7 999 123 45 67  ", None, "+79991234567"),
        ("8 999 123 45 67", "RU", "+79991234567"),
        ("8 (999) 123-45-67", "RU", "+79991234567"),
        ("+1 415 555 2671", "RU", "+14155552671"),
    ],
)
def test_request_code_phone_in_common_format_is_normalised_to_e164(
    api_client, outbox, settings, raw, region, expected
):
    settings.PHONE_DEFAULT_REGION = region

    response = request_code(api_client, raw)

    assert response.status_code == 200
    assert response.json()["phone"] == expected
    assert [sms.phone for sms in outbox] == [expected]


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        pytest.param("8 999 123 45 67", None, id="national-without-default-region"),
        pytest.param("+7 999 123", None, id="too-short-impossible"),
        pytest.param("+1 555 555 5555", None, id="possible-but-invalid"),
        pytest.param("+70000000000", None, id="invalid-range"),
        pytest.param("+999 123456", None, id="unknown-country-code"),
        pytest.param("+7999123456789012", None, id="too-many-digits"),
        pytest.param("call me maybe", None, id="letters"),
        pytest.param("+7 999 123-45-6x", None, id="letter-in-number"),
        pytest.param("+7" + "9" * 40, None, id="too-long"),
        pytest.param("+7" + "9" * 100_000, None, id="huge"),
    ],
)
def test_request_code_invalid_phone_is_refused(api_client, outbox, settings, phone, region):
    settings.PHONE_DEFAULT_REGION = region

    response = request_code(api_client, phone)

    assert response.status_code == 400
    assert response.json() == INVALID_PHONE
    assert outbox == []


@pytest.mark.parametrize(
    ("phone", "region", "message"),
    [
        (None, None, "This field may not be null."),
        (True, None, "Not a valid string."),
        (79991234567, None, "Not a valid string."),
        (89991234567, "RU", "Not a valid string."),
        (["+79991234567"], None, "Not a valid string."),
        ({"number": "+79991234567"}, None, "Not a valid string."),
        ("", None, "This field may not be blank."),
        ("   ", None, "This field may not be blank."),
    ],
)
def test_request_code_phone_blank_or_of_wrong_type_is_a_validation_error(
    api_client, outbox, settings, phone, region, message
):
    settings.PHONE_DEFAULT_REGION = region

    response = request_code(api_client, phone)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"phone": [message]},
    }
    assert outbox == []


def test_request_code_answers_with_send_details_only(api_client, outbox, settings):
    settings.OTP_EXPOSE_CODE = False

    response = request_code(api_client, "+7 999 123-45-67")

    assert response.status_code == 200
    assert response.json() == {
        "phone": PHONE,
        "expires_in": 300,
        "resend_in": 60,
        "code_length": 4,
    }


def test_request_code_expose_setting_on_adds_debug_code(api_client, outbox, settings):
    settings.OTP_EXPOSE_CODE = True

    response = request_code(api_client)

    assert response.status_code == 200
    assert response.json() == {
        "phone": PHONE,
        "expires_in": 300,
        "resend_in": 60,
        "code_length": 4,
        "debug_code": sent_code(outbox),
    }


def test_request_code_limits_come_from_settings(api_client, outbox, settings):
    settings.OTP_LENGTH = 6
    settings.OTP_TTL_SECONDS = 120
    settings.OTP_RESEND_COOLDOWN_SECONDS = 30

    response = request_code(api_client)

    assert response.json() == {
        "phone": PHONE,
        "expires_in": 120,
        "resend_in": 30,
        "code_length": 6,
    }
    assert len(sent_code(outbox)) == 6


def test_request_code_sms_carries_the_code_that_verifies(api_client, outbox):
    response = request_code(api_client)
    code = sent_code(outbox)

    verified = verify_code(api_client, PHONE, code)

    assert response.status_code == 200
    assert [sms.phone for sms in outbox] == [PHONE]
    # PHONE is a +7 number, so the text is Russian (tests/users/test_sms_text.py).
    assert outbox[0].text == f"Код для входа: {code}"
    assert code.isdigit()
    assert len(code) == 4
    assert verified.status_code == 200


def test_request_code_redis_holds_only_an_hmac_of_the_code(api_client, outbox, settings):
    # Eight digits make an accidental match inside a hex digest or a timestamp negligible.
    settings.OTP_LENGTH = 8
    redis = get_redis_connection("default")

    request_code(api_client)

    code = sent_code(outbox)
    stored: list[bytes] = []
    for key in redis.scan_iter(count=1000):
        stored.append(key)
        kind = redis.type(key)
        if kind == b"string":
            stored.append(redis.get(key))
        elif kind == b"hash":
            for field, value in redis.hgetall(key).items():
                stored += [field, value]
        elif kind == b"zset":
            for member, score in redis.zrange(key, 0, -1, withscores=True):
                stored += [member, str(score).encode()]
        else:
            pytest.fail(f"unexpected Redis type {kind!r} at {key!r}")
    assert stored
    assert all(code.encode() not in item for item in stored)
    assert code_mac(phone=PHONE, code=code).encode() in stored


def test_request_code_new_code_replaces_the_previous_one(api_client, outbox, settings):
    # Eight digits: two random codes are equal once in 10^8 runs.
    settings.OTP_LENGTH = 8
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        first = sent_code(outbox)
        clock.shift(60)
        request_code(api_client)
        second = sent_code(outbox)
        assert first != second

        old = verify_code(api_client, PHONE, first)
        new = verify_code(api_client, PHONE, second)

    assert old.status_code == 400
    assert old.json()["code"] == "otp_invalid"
    assert new.status_code == 200


def test_request_code_same_answer_for_known_and_unknown_phone(api_client, outbox, make_user):
    make_user(phone=PHONE)
    users_before = User.objects.count()

    known = request_code(api_client, PHONE)
    unknown = request_code(api_client, OTHER_PHONE)

    assert known.status_code == unknown.status_code == 200
    assert {**known.json(), "phone": None} == {**unknown.json(), "phone": None}
    assert [sms.phone for sms in outbox] == [PHONE, OTHER_PHONE]
    assert User.objects.count() == users_before


def test_request_code_within_cooldown_is_refused_until_it_ends(api_client, outbox):
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)

        at_once = request_code(api_client)
        clock.shift(59)
        last_second = request_code(api_client)
        clock.shift(1)
        after = request_code(api_client)

    assert at_once.status_code == 429
    assert at_once.json() == COOLDOWN
    assert at_once["Retry-After"] == "60"
    assert last_second.status_code == 429
    assert last_second["Retry-After"] == "1"
    assert after.status_code == 200
    assert len(outbox) == 2


def test_request_code_phone_hourly_limit_is_throttled(api_client, outbox, settings):
    settings.OTP_SENDS_PER_PHONE_PER_HOUR = 2
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        clock.shift(60)
        request_code(api_client)
        clock.shift(60)

        refused = request_code(api_client)
        clock.shift(int(refused["Retry-After"]) - 1)
        still_refused = request_code(api_client)
        clock.shift(1)
        allowed = request_code(api_client)

    assert refused.status_code == 429
    assert refused.json() == SEND_LIMIT
    assert refused["Retry-After"] == str(3600 - 120)
    assert still_refused.status_code == 429
    assert still_refused["Retry-After"] == "1"
    assert allowed.status_code == 200
    assert len(outbox) == 3


def test_request_code_hourly_limit_counts_from_the_oldest_send_inside_the_hour(
    api_client, outbox, settings
):
    # The day's older sends stay in the same window set; the wait must skip them.
    settings.OTP_SENDS_PER_PHONE_PER_HOUR = 2
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        clock.shift(2 * 3600)
        request_code(api_client)
        clock.shift(60)
        request_code(api_client)
        clock.shift(60)

        refused = request_code(api_client)

    assert refused.status_code == 429
    assert refused["Retry-After"] == str(3600 - 120)
    assert len(outbox) == 3


def test_request_code_phone_daily_limit_is_throttled(api_client, outbox, settings):
    settings.OTP_SENDS_PER_PHONE_PER_HOUR = 10
    settings.OTP_SENDS_PER_PHONE_PER_DAY = 3
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(3):
            assert request_code(api_client).status_code == 200
            clock.shift(3600)

        refused = request_code(api_client)
        clock.shift(int(refused["Retry-After"]))
        allowed = request_code(api_client)

    assert refused.status_code == 429
    assert refused.json() == SEND_LIMIT
    assert refused["Retry-After"] == str(86400 - 3 * 3600)
    assert allowed.status_code == 200
    assert len(outbox) == 4


def test_request_code_ip_hourly_limit_is_throttled_across_phones(api_client, outbox, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 2
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client, "+79990000001")
        request_code(api_client, "+79990000002")

        refused = request_code(api_client, "+79990000003")
        spoofed = request_code(api_client, "+79990000003", HTTP_X_FORWARDED_FOR="203.0.113.9")
        other_ip = request_code(api_client, "+79990000003", REMOTE_ADDR="198.51.100.7")
        clock.shift(3600)
        later = request_code(api_client, "+79990000004")

    assert refused.status_code == 429
    assert refused.json() == SEND_LIMIT
    assert refused["Retry-After"] == "3600"
    assert spoofed.status_code == 429
    assert other_ip.status_code == 200
    assert later.status_code == 200
    assert [sms.phone for sms in outbox] == [
        "+79990000001",
        "+79990000002",
        "+79990000003",
        "+79990000004",
    ]


def test_request_code_phone_locked_by_failure_cap_sends_nothing(api_client, outbox, settings):
    settings.OTP_FAILURES_PER_PHONE_PER_DAY = 3
    with time_machine.travel(START, tick=False) as clock:
        request_code(api_client)
        wrong = wrong_code(sent_code(outbox))
        for _ in range(3):
            verify_code(api_client, PHONE, wrong)
        clock.shift(3600)

        refused = request_code(api_client)
        other_phone = request_code(api_client, OTHER_PHONE)
        clock.shift(int(refused["Retry-After"]))
        allowed = request_code(api_client)

    assert refused.status_code == 429
    assert refused.json() == LOCKED
    assert refused["Retry-After"] == str(86400 - 3600)
    assert other_phone.status_code == 200
    assert allowed.status_code == 200
    assert [sms.phone for sms in outbox] == [PHONE, OTHER_PHONE, PHONE]


def test_request_code_test_number_is_not_sent_but_its_fixed_code_verifies(
    api_client, outbox, settings
):
    settings.OTP_TEST_NUMBERS = "+7 999 000-00-00:4321, +79990000001:8765"

    requested = request_code(api_client, "+79990000000")
    verified = verify_code(api_client, "+79990000000", "4321")

    assert requested.status_code == 200
    assert requested.json()["code_length"] == 4
    assert outbox == []
    assert verified.status_code == 200
    assert verified.json()["user"]["phone"] == "+79990000000"


def test_request_code_test_number_still_needs_a_request_first(api_client, outbox, settings):
    settings.OTP_TEST_NUMBERS = "+79990000000:4321"

    response = verify_code(api_client, "+79990000000", "4321")

    assert response.status_code == 400
    assert response.json()["code"] == "otp_expired"


def test_request_code_url_is_public_and_ignores_bearer_header(api_client, outbox):
    response = api_client.post(
        reverse("users:auth-request-code"),
        {"phone": PHONE},
        HTTP_AUTHORIZATION="Bearer not-a-token",
    )

    assert response.status_code == 200

"""Simultaneous verifications against the real Redis and PostgreSQL: the limits hold under races."""

from collections import Counter
from typing import Any

import pytest
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from tests.concurrency import run_concurrently
from tests.login import PHONE, request_code, sent_code, verify_code, wrong_code
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
FAILS_KEY = f"referral:otp:{{{PHONE}}}:fails"


def answer_codes(responses: list[Any]) -> Counter[str]:
    """200 → "ok", otherwise the error code; an exception in a thread fails the test."""
    codes: Counter[str] = Counter()
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
        codes["ok" if response.status_code == 200 else response.json()["code"]] += 1
    return codes


def test_verify_code_concurrent_uses_of_one_code_let_exactly_one_in(outbox):
    request_code(APIClient())
    code = sent_code(outbox)

    responses = run_concurrently(THREADS, lambda _: verify_code(APIClient(), PHONE, code))

    assert answer_codes(responses) == {"ok": 1, "otp_expired": THREADS - 1}
    winner = next(response for response in responses if response.status_code == 200)
    assert winner.json()["is_new_user"] is True
    assert User.objects.filter(phone=PHONE).count() == 1
    assert User.objects.count() == 1


def test_verify_code_concurrent_wrong_guesses_never_exceed_max_attempts(outbox, settings):
    settings.OTP_MAX_ATTEMPTS = 5
    settings.OTP_FAILURES_PER_PHONE_PER_DAY = 10
    request_code(APIClient())
    wrong = wrong_code(sent_code(outbox))

    responses = run_concurrently(THREADS, lambda _: verify_code(APIClient(), PHONE, wrong))

    assert answer_codes(responses) == {
        "otp_invalid": 4,
        "otp_attempts_exceeded": 1,
        "otp_expired": THREADS - 5,
    }
    assert get_redis_connection("default").zcard(FAILS_KEY) == 5
    assert User.objects.count() == 0


def test_verify_code_concurrent_wrong_guesses_stop_at_the_daily_cap(outbox, settings):
    settings.OTP_MAX_ATTEMPTS = 50
    settings.OTP_FAILURES_PER_PHONE_PER_DAY = 3
    request_code(APIClient())
    wrong = wrong_code(sent_code(outbox))

    responses = run_concurrently(THREADS, lambda _: verify_code(APIClient(), PHONE, wrong))

    codes = answer_codes(responses)
    assert codes["otp_invalid"] == 2
    assert codes["otp_attempts_exceeded"] == THREADS - 2
    assert get_redis_connection("default").zcard(FAILS_KEY) == 3

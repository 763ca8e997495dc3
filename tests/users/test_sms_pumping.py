"""SMS-pumping defence (API.md › Configuration): allowed countries and the per-prefix window."""

from datetime import UTC, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from tests.concurrency import run_concurrently
from tests.login import request_code
from tests.redis_keys import stored_keys

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
NOT_SENT_THERE = {
    "code": "validation_error",
    "message": "The request has invalid fields.",
    "errors": {"phone": ["Login codes are not sent to this country."]},
}
SEND_LIMIT = {
    "code": "throttled",
    "message": "Too many codes were requested. Try again later.",
    "errors": {},
}


@pytest.fixture
def generous_limits(settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1000


@pytest.mark.parametrize(
    ("phone", "allowed"),
    [
        ("+79991234567", True),  # Russia
        ("+77012345678", True),  # Kazakhstan shares +7
        ("+375291234567", True),  # Belarus
        ("+12025550123", False),  # United States
        ("+447911123456", False),  # United Kingdom
    ],
)
def test_request_code_allowed_countries_only(api_client, outbox, settings, phone, allowed):
    settings.OTP_ALLOWED_COUNTRIES = ["RU", "KZ", "BY"]

    response = request_code(api_client, phone)

    if allowed:
        assert response.status_code == 200
        assert [sms.phone for sms in outbox] == [phone]
    else:
        assert response.status_code == 400
        assert response.json() == NOT_SENT_THERE
        assert outbox == []
        assert stored_keys() == []  # nothing stored, nothing counted


def test_request_code_every_country_when_none_is_listed(api_client, outbox, settings):
    settings.OTP_ALLOWED_COUNTRIES = []

    response = request_code(api_client, "+12025550123")

    assert response.status_code == 200
    assert len(outbox) == 1


def test_request_code_test_number_of_another_country_is_allowed(api_client, outbox, settings):
    settings.OTP_ALLOWED_COUNTRIES = ["RU"]
    settings.OTP_TEST_NUMBERS = "+12025550123:0000"

    response = request_code(api_client, "+12025550123")

    assert response.status_code == 200
    assert outbox == []  # test numbers are never sent


def test_request_code_prefix_window_caps_a_number_range(
    api_client, outbox, settings, generous_limits
):
    settings.OTP_SENDS_PER_PREFIX_PER_HOUR = 3
    with time_machine.travel(START, tick=False) as clock:
        allowed = [request_code(api_client, f"+7999123{n:04d}") for n in range(1, 4)]
        refused = request_code(api_client, "+79991230004")
        other_prefix = request_code(api_client, "+79991240004")
        clock.shift(3600)
        later = request_code(api_client, "+79991230005")

    assert [response.status_code for response in allowed] == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json() == SEND_LIMIT
    assert refused["Retry-After"] == "3600"
    assert other_prefix.status_code == 200
    assert later.status_code == 200
    assert "+79991230004" not in [sms.phone for sms in outbox]


def test_request_code_prefix_window_off_by_default(api_client, outbox, settings, generous_limits):
    assert settings.OTP_SENDS_PER_PREFIX_PER_HOUR == 0

    responses = [request_code(api_client, f"+7999123{n:04d}") for n in range(1, 8)]

    assert {response.status_code for response in responses} == {200}


def test_request_code_prefix_window_is_exact_under_concurrency(outbox, settings, generous_limits):
    settings.OTP_SENDS_PER_PREFIX_PER_HOUR = 3

    results = run_concurrently(
        12, lambda index: request_code(APIClient(), f"+7999555{index:04d}").status_code
    )

    assert sorted(results) == [200] * 3 + [429] * 9
    assert len(outbox) == 3

"""Two `make serve` servers on different ports sharing PostgreSQL and Redis, as behind a load
balancer: codes, tokens, limits and failure caps are one state, whichever server answers."""

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.client import (
    ACTIVATE,
    LOGOUT,
    PROFILE,
    REFRESH,
    REQUEST_CODE,
    VERIFY_CODE,
    Answer,
    call,
    random_phone,
)
from tests.e2e.live import LiveServer, start_server

pytestmark = pytest.mark.e2e


SENDS_PER_HOUR = 4
MAX_ATTEMPTS = 5
FAILURES_PER_DAY = 6
INVITE_FAILURES_PER_HOUR = 4
SERVER_START_TIMEOUT = 180
SHARED_ENV = {
    "OTP_RESEND_COOLDOWN_SECONDS": "0",
    "OTP_SENDS_PER_PHONE_PER_HOUR": str(SENDS_PER_HOUR),
    "OTP_SENDS_PER_PHONE_PER_DAY": "1000",
    "OTP_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "OTP_FAILURES_PER_PHONE_PER_DAY": str(FAILURES_PER_DAY),
    "INVITE_ACTIVATE_FAILURES_PER_HOUR": str(INVITE_FAILURES_PER_HOUR),
    "GUNICORN_WORKERS": "1",
}


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers with the same settings, on the session's PostgreSQL and Redis."""
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(start_server, timeout=SERVER_START_TIMEOUT, **SHARED_ENV) for _ in range(2)
        ]
    started: list[LiveServer] = []
    errors: list[BaseException] = []
    for future in futures:
        try:
            started.append(future.result())
        except Exception as exc:  # reported below, after the other one is stopped
            errors.append(exc)
    try:
        assert not errors, errors
        assert started[0].url != started[1].url
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def assert_limited(answer: Answer, code: str) -> None:
    assert answer.status == 429, (answer.status, answer.body)
    assert answer.code == code, answer.body
    assert int(answer.headers["Retry-After"]) >= 1


def test_a_code_sent_by_one_server_is_verified_by_the_other_once(pair):
    first, second = pair
    sent = call(first, "POST", REQUEST_CODE, {"phone": random_phone()})
    assert sent.status == 200, sent.body
    credentials = {"phone": sent.body["phone"], "code": sent.body["debug_code"]}

    verified = call(second, "POST", VERIFY_CODE, credentials)
    replayed = call(first, "POST", VERIFY_CODE, credentials)

    assert verified.status == 200, verified.body
    assert verified.body["user"]["phone"] == sent.body["phone"]
    assert replayed.status == 400
    assert replayed.code == "otp_expired"
    assert call(first, "GET", PROFILE, token=verified.body["access"]).body == verified.body["user"]


def test_a_refresh_token_rotated_on_one_server_is_refused_by_the_other(pair):
    first, second = pair
    sent = call(first, "POST", REQUEST_CODE, {"phone": random_phone()})
    login = call(
        first, "POST", VERIFY_CODE, {"phone": sent.body["phone"], "code": sent.body["debug_code"]}
    ).body

    rotated = call(first, "POST", REFRESH, {"refresh": login["refresh"]})
    reused = call(second, "POST", REFRESH, {"refresh": login["refresh"]})
    rotated_again = call(second, "POST", REFRESH, {"refresh": rotated.body["refresh"]})
    logged_out = call(
        first, "POST", LOGOUT, {"refresh": rotated_again.body["refresh"]}, token=login["access"]
    )
    after_logout = call(second, "POST", REFRESH, {"refresh": rotated_again.body["refresh"]})

    assert rotated.status == 200, rotated.body
    assert reused.status == 401
    assert reused.code == "token_not_valid"
    assert rotated_again.status == 200, rotated_again.body
    assert logged_out.status == 204
    assert after_logout.status == 401
    assert after_logout.code == "token_not_valid"


def test_send_limits_count_across_both_servers(pair):
    first, second = pair
    phone = random_phone()

    sends = [
        call(server, "POST", REQUEST_CODE, {"phone": phone})
        for server in [first, second] * (SENDS_PER_HOUR // 2 + 1)
    ]

    assert [answer.status for answer in sends[:SENDS_PER_HOUR]] == [200] * SENDS_PER_HOUR
    for answer in sends[SENDS_PER_HOUR:]:
        assert_limited(answer, "throttled")


def test_wrong_codes_count_across_both_servers(pair):
    first, second = pair
    phone = random_phone()
    code = call(first, "POST", REQUEST_CODE, {"phone": phone}).body["debug_code"]

    # One code: its wrong tries add up over both servers until the last one burns it.
    tries = [
        call(server, "POST", VERIFY_CODE, {"phone": phone, "code": wrong(code)})
        for server in [first, second, first, second, first]
    ]
    burned = call(second, "POST", VERIFY_CODE, {"phone": phone, "code": code})
    # The next code: one more wrong try reaches the daily cap, counted over both servers.
    new_code = call(second, "POST", REQUEST_CODE, {"phone": phone}).body["debug_code"]
    locking = call(first, "POST", VERIFY_CODE, {"phone": phone, "code": wrong(new_code)})
    right_code = call(second, "POST", VERIFY_CODE, {"phone": phone, "code": new_code})
    send = call(first, "POST", REQUEST_CODE, {"phone": phone})

    assert [answer.code for answer in tries[:-1]] == ["otp_invalid"] * (MAX_ATTEMPTS - 1)
    assert_limited(tries[-1], "otp_attempts_exceeded")
    assert burned.status == 400
    assert burned.code == "otp_expired"
    assert_limited(locking, "otp_attempts_exceeded")
    assert_limited(right_code, "otp_attempts_exceeded")
    assert_limited(send, "otp_attempts_exceeded")


def test_invite_guesses_count_across_both_servers(pair):
    first, second = pair
    sent = call(first, "POST", REQUEST_CODE, {"phone": random_phone()})
    token = call(
        second, "POST", VERIFY_CODE, {"phone": sent.body["phone"], "code": sent.body["debug_code"]}
    ).body["access"]

    guesses = [
        call(
            server,
            "POST",
            ACTIVATE,
            {"invite_code": f"ZZ{secrets.randbelow(10**4):04d}"},
            token=token,
        )
        for server in [first, second] * (INVITE_FAILURES_PER_HOUR // 2 + 1)
    ]

    codes = [answer.code for answer in guesses]
    assert codes[:INVITE_FAILURES_PER_HOUR] == ["invite_code_not_found"] * INVITE_FAILURES_PER_HOUR
    for answer in guesses[INVITE_FAILURES_PER_HOUR:]:
        assert_limited(answer, "throttled")

"""A slow SMS gateway holds request-code calls, never the other requests (DESIGN.md › Performance
targets: the delay must not starve other requests)."""

import threading
import time

import pytest

from tests.e2e.client import PROFILE, REQUEST_CODE, VERIFY_CODE, Answer, call, random_phone

pytestmark = pytest.mark.e2e

GATEWAY_DELAY = 8.0
IN_FLIGHT = 50
READER = "+79990000777"


def test_a_request_code_flood_does_not_block_a_profile_read(start_live_server):
    # Two workers with the threads a production worker has (gunicorn_conf.py's default).
    server = start_live_server(
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="128",
        SMS_DELAY_MIN_SECONDS=str(GATEWAY_DELAY),
        SMS_DELAY_MAX_SECONDS=str(GATEWAY_DELAY),
        OTP_TEST_NUMBERS=f"{READER}:1234",
        OTP_RESEND_COOLDOWN_SECONDS="0",
    )
    # A test number's code is fixed and sent nowhere, so the reader logs in without the delay.
    assert call(server, "POST", REQUEST_CODE, {"phone": READER}).status == 200
    token = call(server, "POST", VERIFY_CODE, {"phone": READER, "code": "1234"}).body["access"]

    answers: list[tuple[Answer, float]] = []

    def request_code() -> None:
        answer = call(server, "POST", REQUEST_CODE, {"phone": random_phone()})
        answers.append((answer, time.monotonic()))

    flood = [threading.Thread(target=request_code) for _ in range(IN_FLIGHT)]
    began = time.monotonic()
    for thread in flood:
        thread.start()
    time.sleep(1.5)  # every call has reached the gateway by then
    read_began = time.monotonic()
    profile = call(server, "GET", PROFILE, token=token)
    read_seconds = time.monotonic() - read_began
    for thread in flood:
        thread.join()

    assert profile.status == 200
    # Generous for a loaded machine, and far below the gateway's delay.
    assert read_seconds < GATEWAY_DELAY / 4
    # The calls were all waiting on the gateway while the profile was read: none answered
    # before the delay, and every one was accepted.
    assert [answer.status for answer, _ in answers] == [200] * IN_FLIGHT
    assert min(finished for _, finished in answers) - began >= GATEWAY_DELAY

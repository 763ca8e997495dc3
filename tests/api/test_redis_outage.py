"""Redis goes away: the OTP endpoints answer 503 with Retry-After, send nothing, never fail open."""

import copy
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import reverse

from tests.login import PHONE, request_code, sent_code, verify_code

pytestmark = pytest.mark.django_db

SERVICE_UNAVAILABLE = {
    "code": "service_unavailable",
    "message": "The service is temporarily unavailable. Try again shortly.",
    "errors": {},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ThrowawayRedis:
    process: subprocess.Popen[bytes]
    port: int

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    """A private redis-server that the cache points at until the test ends; the test may kill it."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (scripts/services.sh installs it)")
    port = free_port()
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.02)
        probe.close()
        caches = copy.deepcopy(django_settings.CACHES)
        caches["default"] = {
            **caches["default"],
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
        # Restored inside this fixture, before the autouse Redis flush of conftest tears down.
        with override_settings(CACHES=caches):
            yield ThrowawayRedis(process=process, port=port)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_request_code_redis_down_is_unavailable_and_sends_nothing(
    api_client, outbox, throwaway_redis
):
    assert request_code(api_client, "+79990000001").status_code == 200
    outbox.clear()
    throwaway_redis.kill()

    response = request_code(api_client)

    assert response.status_code == 503
    assert response.json() == SERVICE_UNAVAILABLE
    assert 1 <= int(response["Retry-After"]) <= 60
    assert outbox == []


def test_verify_code_redis_down_is_unavailable(api_client, outbox, throwaway_redis):
    request_code(api_client)
    code = sent_code(outbox)
    throwaway_redis.kill()

    response = verify_code(api_client, PHONE, code)

    assert response.status_code == 503
    assert response.json() == SERVICE_UNAVAILABLE
    assert 1 <= int(response["Retry-After"]) <= 60


def test_verify_code_redis_down_for_known_user_is_unavailable(
    api_client, outbox, make_user, throwaway_redis
):
    make_user(phone=PHONE)
    throwaway_redis.kill()

    response = verify_code(api_client, PHONE, "1234")

    assert response.status_code == 503
    assert response.json() == SERVICE_UNAVAILABLE


def test_readyz_redis_down_reports_the_failing_check(api_client, throwaway_redis):
    assert api_client.get(reverse("readyz")).status_code == 200
    throwaway_redis.kill()

    response = api_client.get(reverse("readyz"))

    assert response.status_code == 503
    assert response.json() == {
        **SERVICE_UNAVAILABLE,
        "status": "error",
        "checks": {"database": "ok", "redis": "error"},
    }
    assert 1 <= int(response["Retry-After"]) <= 60


def test_throwaway_redis_is_the_one_in_use(api_client, outbox, throwaway_redis):
    request_code(api_client)

    keys = redis.Redis(host="127.0.0.1", port=throwaway_redis.port).keys("referral:otp:*")

    assert keys

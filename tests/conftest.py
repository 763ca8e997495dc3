"""Shared fixtures. The suite runs against the real PostgreSQL and Redis that `make test` starts."""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import translation
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from tests.concurrency import CONCURRENCY_LIMIT
from tests.factories import create_user
from users.models import User
from users.sms import MemoryBackend, SmsMessage


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise pytest.UsageError(
            "The tests run against real PostgreSQL and Redis: use `make test`, or "
            "`make services` and export the DATABASE_URL and REDIS_URL it prints."
        )
    if not os.environ.get("REDIS_URL"):
        raise pytest.UsageError("REDIS_URL is not set: use `make test` or `make services`.")
    # The races release up to CONCURRENCY_LIMIT threads together, each holding a pooled
    # connection while it waits for a row lock. With fewer connections than threads the rest
    # queue for one, and on a loaded machine they reached the pool's timeout: a failure of the
    # test bench, not of the code under test. Set before the first connection opens the pool.
    pool = django_settings.DATABASES["default"]["OPTIONS"]["pool"]
    pool["max_size"] = max(pool["max_size"], CONCURRENCY_LIMIT)


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    """The SMS gateway is the one boundary replaced: messages land in a list."""
    settings.SMS_BACKEND = "users.sms.MemoryBackend"
    settings.OTP_EXPOSE_CODE = False
    settings.OTP_TEST_NUMBERS = ""
    settings.ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    get_redis_connection("default").flushdb()
    yield
    get_redis_connection("default").flushdb()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language: Django's LocaleMiddleware leaves a request's
    language active in its thread, and a test client request runs in the test's thread."""
    yield
    translation.deactivate()


@pytest.fixture
def outbox() -> Iterator[list[SmsMessage]]:
    MemoryBackend.outbox.clear()
    yield MemoryBackend.outbox
    MemoryBackend.outbox.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """A user created the way sign-up creates one (random invite code), with any field set."""
    return create_user


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


@pytest.fixture
def auth_client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def staff_user(make_user: Callable[..., User]) -> User:
    return make_user(is_staff=True)


@pytest.fixture
def staff_client(staff_user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=staff_user)
    return client

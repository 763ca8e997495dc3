"""Fixtures for the web pages: browsers as Django's test client, signed in by session."""

from collections.abc import Callable

import pytest
from django.test import Client

from users.models import User


@pytest.fixture
def browser() -> Client:
    """A browser without a session (the test client skips CSRF checks unless asked)."""
    return Client()


@pytest.fixture
def browser_for(db: None) -> Callable[[User], Client]:
    """`browser_for(user)`: a browser with a signed-in session of `user`."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make

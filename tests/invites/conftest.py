"""Fixtures for invite codes and referrals: code owners, chains built by the real service."""

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from invites.services import invite_activate
from users.models import User


def fresh(user: User) -> User:
    """The user as the database holds it now, the way authentication loads it."""
    return User.objects.select_related("referred_by").get(pk=user.pk)


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    """Another user, whose invite code the caller activates."""
    return make_user()


@pytest.fixture
def refer(db: None) -> Callable[[User, User], User]:
    """`refer(referral, referrer)`: the referral activates the referrer's code (real service)."""

    def refer(referral: User, referrer: User) -> User:
        return invite_activate(user=fresh(referral), code=referrer.invite_code)

    return refer


@pytest.fixture
def client_for(db: None) -> Callable[[User], APIClient]:
    """An API client signed in as `user` (without the token round trip)."""

    def client_for(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=fresh(user))
        return client

    return client_for


@pytest.fixture
def low_failure_limit(settings: Any) -> int:
    """A small `INVITE_ACTIVATE_FAILURES_PER_HOUR`, so tests reach it in a few calls."""
    settings.INVITE_ACTIVATE_FAILURES_PER_HOUR = 3
    return 3


@pytest.fixture
def chain(
    make_user: Callable[..., User], refer: Callable[[User, User], User]
) -> Callable[[int], list[User]]:
    """`chain(n)`: users u0 … u(n-1) where each u(i+1) activated u(i)'s code."""

    def build(length: int) -> list[User]:
        users = [make_user() for _ in range(length)]
        for referrer, referral in itertools.pairwise(users):
            refer(referral, referrer)
        return [fresh(user) for user in users]

    return build

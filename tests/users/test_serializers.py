"""The hand-built output of the hot serializers matches what their declared fields produce.

The declared fields define the published schema; `to_representation` is written out by hand for
speed. Adding a field to one and not the other fails here.
"""

from collections.abc import Callable

import pytest
from rest_framework import serializers

from invites.services import invite_activate
from users.models import User
from users.selectors import active_user
from users.serializers import LoginSerializer, UserSerializer


def declared_output(serializer: serializers.Serializer, instance: object) -> object:
    """What DRF's generic Serializer builds from the declared fields."""
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.fixture
def users(make_user: Callable[..., User]) -> list[User]:
    owner = make_user()
    referral = invite_activate(user=make_user(), code=owner.invite_code)
    # As created, and as the API sees them: read by the selector that authentication uses.
    read = [active_user(user_id=owner.pk), active_user(user_id=referral.pk)]
    assert None not in read
    return [owner, referral, *(user for user in read if user is not None)]


def test_user_serializer_matches_its_declared_fields(users: list[User]) -> None:
    for user in users:
        serializer = UserSerializer(user)

        assert serializer.data == declared_output(serializer, user)
        assert list(serializer.data) == list(serializer.fields)


def test_user_serializer_shows_the_activated_code(users: list[User]) -> None:
    owner, referral = users[0], users[1]

    assert UserSerializer(referral).data["activated_invite_code"] == owner.invite_code
    assert UserSerializer(owner).data["activated_invite_code"] is None


def test_login_serializer_matches_its_declared_fields(users: list[User]) -> None:
    for user in users:
        body = {"access": "a.b.c", "refresh": "d.e.f", "is_new_user": True, "user": user}
        serializer = LoginSerializer(body)

        assert serializer.data == declared_output(serializer, body)
        assert list(serializer.data) == list(serializer.fields)

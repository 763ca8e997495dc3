"""The hot-path reads give what the ORM gives, in one query, with the referrer's code loaded."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from invites.services import invite_activate
from tests.factories import create_user
from users.models import User
from users.selectors import active_user, user_by_phone

pytestmark = pytest.mark.django_db

FIELDS = [field.attname for field in User._meta.concrete_fields]


def field_values(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in FIELDS}


@pytest.fixture(params=["without referrer", "with referrer"])
def subject(request: pytest.FixtureRequest) -> User:
    user = create_user()
    if request.param == "with referrer":
        owner = create_user()
        user = invite_activate(user=user, code=owner.invite_code)
        assert user.referred_by_id == owner.pk
    return user


def orm_user(user: User) -> User:
    return User.objects.select_related("referred_by").get(pk=user.pk)


def test_active_user_gives_the_orms_field_values(subject, django_assert_num_queries):
    expected = orm_user(subject)

    with django_assert_num_queries(1):
        found = active_user(user_id=subject.pk)

    assert found is not None
    assert field_values(found) == field_values(expected)
    assert found.date_joined.utcoffset() == timedelta(0)


def test_user_by_phone_gives_the_orms_field_values(subject, django_assert_num_queries):
    expected = orm_user(subject)

    with django_assert_num_queries(1):
        found = user_by_phone(phone=subject.phone)

    assert found is not None
    assert field_values(found) == field_values(expected)


READS: dict[str, Callable[[User], User | None]] = {
    "active_user": lambda user: active_user(user_id=user.pk),
    "user_by_phone": lambda user: user_by_phone(phone=user.phone),
}


@pytest.mark.parametrize("read", READS)
def test_selectors_activated_invite_code_needs_no_further_query(
    subject, read, django_assert_num_queries
):
    expected = orm_user(subject).activated_invite_code
    found = READS[read](subject)
    assert found is not None

    with django_assert_num_queries(0):
        code = found.activated_invite_code

    assert code == expected
    assert (code is None) == (subject.referred_by_id is None)


def test_active_user_inactive_user_is_none(make_user):
    user = make_user(is_active=False)

    assert active_user(user_id=user.pk) is None


def test_user_by_phone_finds_an_inactive_user_too(make_user):
    # Sign-in reads the user first and refuses a disabled account only after the code is right.
    user = make_user(is_active=False)

    found = user_by_phone(phone=user.phone)

    assert found is not None
    assert found.pk == user.pk
    assert found.is_active is False


def test_selectors_unknown_user_is_none(make_user):
    user = make_user()

    assert active_user(user_id=user.pk + 1_000_000) is None
    assert user_by_phone(phone="+79990000001") is None

"""referral_api.rows writes the row the ORM writes, and behaves as the ORM call it replaces."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from referral_api.rows import insert, upsert
from tests.factories import create_user, next_phone
from users.invite_codes import generate_invite_code
from users.models import Session, Sighting, User

pytestmark = pytest.mark.django_db


def stored(model: type[models.Model], pk: Any) -> dict[str, Any]:
    """Every column of the row as the database holds it."""
    fields = [field.attname for field in model._meta.concrete_fields]
    row = model._default_manager.filter(pk=pk).values(*fields).get()
    return {name: value for name, value in row.items() if name != model._meta.pk.attname}


def a_user(**fields: Any) -> User:
    return User(phone=next_phone(), invite_code=generate_invite_code(), **fields)


def test_it_is_the_fast_path_that_is_tested():
    assert connection.vendor == "postgresql"


def test_a_user_row_is_the_one_save_writes(django_assert_num_queries):
    joined = timezone.now() - timedelta(days=3)
    ours, orms = (
        a_user(date_joined=joined, is_staff=True),
        a_user(date_joined=joined, is_staff=True),
    )
    ours.password = orms.password = "!unusable"

    with django_assert_num_queries(1):
        insert(ours)
    orms.save(force_insert=True)

    assert ours.pk is not None
    assert not ours._state.adding
    assert ours._state.db == "default"
    expected = stored(User, orms.pk) | {"phone": ours.phone, "invite_code": ours.invite_code}
    assert stored(User, ours.pk) == expected


def test_a_session_row_keeps_its_own_key():
    user = create_user()
    now = timezone.now()
    session = Session(user=user, created_at=now, last_used_at=now, user_agent="Mozilla")
    key = session.pk

    insert(session)

    assert session.pk == key
    assert stored(Session, key) == {
        "user_id": user.pk,
        "created_at": now,
        "last_used_at": now,
        "user_agent": "Mozilla",
        "ended_at": None,
    }


def test_a_duplicate_raises_djangos_integrity_error_and_the_transaction_goes_on():
    taken = create_user()
    duplicate = a_user()
    duplicate.phone = taken.phone

    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic():
            insert(duplicate)
        assert User.objects.filter(phone=taken.phone).count() == 1


def test_upsert_inserts_new_rows_and_moves_only_the_update_fields_of_existing_ones(
    django_assert_num_queries,
):
    user = create_user()
    earlier, later = timezone.now() - timedelta(hours=2), timezone.now()
    Sighting.objects.create(user=user, kind="ip", digest="a" * 64, last_seen_at=earlier)
    rows = [
        Sighting(user=user, kind="ip", digest="a" * 64, last_seen_at=later),
        Sighting(user=user, kind="device", digest="b" * 64, last_seen_at=later),
    ]

    with django_assert_num_queries(1):
        upsert(rows, unique_fields=("user", "kind", "digest"), update_fields=("last_seen_at",))

    found = set(Sighting.objects.filter(user=user).values_list("kind", "digest", "last_seen_at"))
    assert found == {("ip", "a" * 64, later), ("device", "b" * 64, later)}


def test_a_model_with_save_receivers_goes_through_the_orm():
    seen = []

    def receiver(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
        seen.append((instance.phone, created))

    user = a_user()
    post_save.connect(receiver, sender=User)
    try:
        insert(user)
    finally:
        post_save.disconnect(receiver, sender=User)

    assert seen == [(user.phone, True)]
    assert User.objects.filter(pk=user.pk).exists()

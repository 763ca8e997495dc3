"""referral_api.rows writes the row the ORM writes, and behaves as the ORM call it replaces."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from referral_api.rows import Upsert, insert, insert_many, upsert, write
from rewards.models import RewardBalance, RewardEntry
from tests.factories import create_user, make_rule, next_phone
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


def test_upsert_adds_the_add_fields_to_an_existing_row_and_inserts_a_missing_one(
    django_assert_num_queries,
):
    owner, referral = create_user(), create_user()
    RewardBalance.objects.create(user=owner, unit="points", pending=100, credited=7)
    rows = [
        RewardBalance(user=owner, unit="points", pending=50),
        RewardBalance(user=referral, unit="points", pending=20),
    ]

    with django_assert_num_queries(1):
        upsert(rows, unique_fields=("user", "unit"), add_fields=("pending",))

    found = set(RewardBalance.objects.values_list("user_id", "pending", "credited", "reversed"))
    assert found == {(owner.pk, 150, 7, 0), (referral.pk, 20, 0, 0)}


def test_insert_many_writes_the_rows_bulk_create_writes_and_sets_each_key_in_order(
    django_assert_num_queries,
):
    rule = make_rule()
    owner, first, second = create_user(), create_user(), create_user()
    now = timezone.now()

    def entries(*referrals: User) -> list[RewardEntry]:
        return [
            RewardEntry(
                user=owner,
                referral=referral,
                kind=RewardEntry.Kind.REFERRER,
                rule=rule,
                amount=amount,
                unit="points",
                state=RewardEntry.State.HELD,
                risk_signals=["ip_burst", "velocity"],
                created_at=now,
            )
            for amount, referral in enumerate(referrals, start=1)
        ]

    ours = entries(first, second)
    with django_assert_num_queries(1):
        insert_many(ours)
    orms = RewardEntry.objects.bulk_create(entries(create_user(), create_user()))

    assert [RewardEntry.objects.get(pk=entry.pk).referral_id for entry in ours] == [
        first.pk,
        second.pk,
    ]
    for mine, theirs in zip(ours, orms, strict=True):
        assert stored(RewardEntry, mine.pk) == stored(RewardEntry, theirs.pk) | {
            "referral_id": mine.referral_id
        }


def sightings_of(user: User, at: Any) -> Upsert:
    return Upsert(
        [
            Sighting(user=user, kind="ip", digest="a" * 64, last_seen_at=at),
            Sighting(user=user, kind="device", digest="b" * 64, last_seen_at=at),
        ],
        unique_fields=("user", "kind", "digest"),
        update_fields=("last_seen_at",),
    )


def test_write_puts_a_new_user_and_the_rows_pointing_at_it_in_one_statement(
    django_assert_num_queries,
):
    now = timezone.now()
    user = a_user(date_joined=now)
    user.password = "!unusable"
    session = Session(user=user, created_at=now, last_used_at=now, user_agent="Mozilla")
    orms = a_user(date_joined=now)
    orms.password = "!unusable"
    orms.save(force_insert=True)

    with django_assert_num_queries(1):
        write(user, sightings_of(user, now), session)

    assert user.pk is not None
    assert stored(User, user.pk) == stored(User, orms.pk) | {
        "phone": user.phone,
        "invite_code": user.invite_code,
    }
    assert session.user_id == user.pk
    assert stored(Session, session.pk)["user_id"] == user.pk
    found = set(Sighting.objects.filter(user=user).values_list("kind", "digest", "last_seen_at"))
    assert found == {("ip", "a" * 64, now), ("device", "b" * 64, now)}
    for instance in (user, session):
        assert not instance._state.adding


def test_write_refreshes_an_existing_users_rows_and_inserts_the_new_one_in_one_statement(
    django_assert_num_queries,
):
    user = create_user()
    earlier, now = timezone.now() - timedelta(hours=2), timezone.now()
    Sighting.objects.create(user=user, kind="ip", digest="a" * 64, last_seen_at=earlier)
    session = Session(user=user, created_at=now, last_used_at=now)

    with django_assert_num_queries(1):
        write(sightings_of(user, now), session)

    found = set(Sighting.objects.filter(user=user).values_list("kind", "last_seen_at"))
    assert found == {("ip", now), ("device", now)}
    assert Session.objects.filter(pk=session.pk, user=user).exists()


def test_write_is_all_or_nothing():
    taken = Session.objects.create(
        user=create_user(), created_at=timezone.now(), last_used_at=timezone.now()
    )
    user = a_user()
    user.password = "!unusable"
    at = taken.created_at
    clash = Session(id=taken.pk, user=user, created_at=at, last_used_at=at)

    with pytest.raises(IntegrityError), transaction.atomic():
        write(user, sightings_of(user, timezone.now()), clash)

    # Written one by one, the user would have had its key before the session failed.
    assert user.pk is None
    assert not User.objects.filter(phone=user.phone).exists()
    assert not Sighting.objects.filter(digest="a" * 64).exists()


def test_write_with_save_receivers_writes_each_part_through_the_orm_and_links_them():
    seen = []

    def receiver(sender: type[Session], instance: Session, **kwargs: Any) -> None:
        seen.append(instance.user_id)

    now = timezone.now()
    user = a_user()
    session = Session(user=user, created_at=now, last_used_at=now)
    post_save.connect(receiver, sender=Session)
    try:
        write(user, sightings_of(user, now), session)
    finally:
        post_save.disconnect(receiver, sender=Session)

    assert user.pk is not None
    assert seen == [user.pk]
    assert Sighting.objects.filter(user=user).count() == 2

"""The database itself refuses referral data that breaks the rules, whatever the code does."""

import re
from collections.abc import Callable

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from invites.selectors import referrals_of
from tests.factories import create_user, user_recipe
from tests.invites.graph import find_cycle
from users.models import User

pytestmark = pytest.mark.django_db


def test_user_referred_by_self_is_refused(user: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(referred_by=user, referred_at=timezone.now())

    assert User.objects.get(pk=user.pk).referred_by is None


def test_user_referred_at_without_referrer_is_refused(user: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(referred_at=timezone.now())


def test_user_referrer_without_referred_at_is_refused(user: User, owner: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(referred_by=owner)


def test_user_referrer_and_referred_at_together_are_accepted(user: User, owner: User) -> None:
    User.objects.filter(pk=user.pk).update(referred_by=owner, referred_at=timezone.now())

    assert User.objects.get(pk=user.pk).activated_invite_code == owner.invite_code


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("abc123", IntegrityError),
        ("Abc123", IntegrityError),
        ("ABC12", IntegrityError),
        ("", IntegrityError),
        ("ABC-12", IntegrityError),
        ("ABC 12", IntegrityError),
        ("ÄBC123", IntegrityError),
        ("ABC1234", DataError),
    ],
)
def test_user_malformed_invite_code_is_refused(
    user: User, code: str, error: type[Exception]
) -> None:
    with pytest.raises(error), transaction.atomic():
        User.objects.filter(pk=user.pk).update(invite_code=code)

    assert User.objects.get(pk=user.pk).invite_code == user.invite_code


def test_user_duplicate_invite_code_is_refused(user: User, make_user: Callable[..., User]) -> None:
    other = make_user()

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=other.pk).update(invite_code=user.invite_code)


def test_user_duplicate_invite_code_on_insert_is_refused(user: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        user_recipe.make(invite_code=user.invite_code)

    assert User.objects.filter(invite_code=user.invite_code).count() == 1


def test_user_recipe_makes_rows_the_constraints_accept() -> None:
    # The duplicate-code test above relies on the recipe failing for that reason only.
    users = user_recipe.make(_quantity=3)

    assert User.objects.filter(pk__in=[user.pk for user in users]).count() == 3
    assert all(re.fullmatch(r"[A-Z0-9]{6}", user.invite_code) for user in users)
    assert all(user.referred_by is None and user.referred_at is None for user in users)


def test_user_duplicate_phone_is_refused(user: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create_user(phone=user.phone)

    assert User.objects.filter(phone=user.phone).count() == 1


def test_user_referrer_with_referrals_cannot_be_deleted(user: User, owner: User, refer) -> None:
    refer(user, owner)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=owner.pk).delete()


def test_user_create_assigns_upper_case_six_character_code(
    make_user: Callable[..., User],
) -> None:
    codes = [make_user().invite_code for _ in range(20)]

    assert all(re.fullmatch(r"[A-Z0-9]{6}", code) for code in codes)
    assert len(set(codes)) == 20


def test_user_referrals_index_serves_newest_first_by_referrer() -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, User._meta.db_table)

    index = constraints["user_referrals_idx"]
    assert index["columns"] == ["referred_by_id", "referred_at", "id"]
    assert index["orders"] == ["ASC", "DESC", "DESC"]


def test_user_referrals_index_holds_only_referred_users_and_still_serves_pages(
    user: User,
) -> None:
    page = referrals_of(user=user)[:21]
    sql, params = page.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'user_referrals_idx'")
        (definition,) = cursor.fetchone()
        # Planned as the server's prepared statements are: once, for any referrer.
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        # What is checked is that the index can serve the page in order; with the statistics
        # other tests leave behind, a bitmap scan plus a sort may look cheaper for a few rows.
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert definition.endswith("WHERE (referred_by_id IS NOT NULL)")
    assert "Index Scan using user_referrals_idx" in plan
    assert "Sort" not in plan


def test_user_str_is_the_phone(user: User) -> None:
    text = str(user)

    assert text == user.phone


@pytest.mark.parametrize(
    ("parents", "cycle"),
    [
        ({1: None, 2: 1, 3: 2, 4: 1}, None),
        ({1: 2, 2: 3, 3: 1, 4: 1}, [1, 2, 3]),
        ({1: None, 2: 3, 3: 4, 4: 5, 5: 2}, [2, 3, 4, 5]),
        ({1: 1}, [1]),
    ],
)
def test_find_cycle_reports_exactly_the_ring(
    parents: dict[int, int | None], cycle: list[int] | None
) -> None:
    found = find_cycle(parents)

    assert (sorted(found) if found else None) == cycle

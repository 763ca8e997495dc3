"""Referral chains of any depth: the cycle check reads one row, whatever the chain's length."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invites.exceptions import InviteCycleError
from invites.services import invite_activate
from tests.factories import create_user, next_phone
from tests.invites.conftest import fresh
from tests.invites.graph import assert_referral_graph_is_sound
from users.invite_codes import generate_invite_code
from users.models import User

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 1, tzinfo=UTC)


def chain_below(top: User, depth: int) -> list[User]:
    """`depth` users under `top`, each referred by the one before, as the write path leaves them
    (loaded in one statement: building them one activation at a time would take minutes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [User._meta.db_table, depth],
        )
        ids = [row[0] for row in cursor.fetchall()]
    parents = [top.pk, *ids[:-1]]
    # Distinct codes: 5,000 independent draws repeat one about once in 170 runs (birthday bound),
    # and the unique index would refuse the whole batch.
    taken = set(User.objects.values_list("invite_code", flat=True))
    codes: set[str] = set()
    while len(codes) < depth:
        code = generate_invite_code()
        if code not in taken:
            codes.add(code)
    users = [
        User(
            pk=user_id,
            phone=next_phone(),
            invite_code=code,
            referred_by_id=parent,
            referred_at=AT,
            referral_root=top.pk,
            referrals_count=0 if index == depth - 1 else 1,
        )
        for index, (user_id, parent, code) in enumerate(zip(ids, parents, codes, strict=True))
    ]
    User.objects.bulk_create(users)
    User.objects.filter(pk=top.pk).update(referrals_count=1)
    return users


def statements_of_an_activation_at_the_bottom(depth: int) -> list[str]:
    top = create_user()
    bottom = chain_below(top, depth)[-1]
    newcomer = create_user()
    with CaptureQueriesContext(connection) as queries:
        invite_activate(user=fresh(newcomer), code=bottom.invite_code)
    assert fresh(newcomer).referral_root == top.pk
    return [query["sql"] for query in queries.captured_queries]


def test_activation_at_the_bottom_of_a_deep_chain_costs_what_a_shallow_one_does():
    shallow = statements_of_an_activation_at_the_bottom(5)
    deep = statements_of_an_activation_at_the_bottom(5_000)

    assert len(deep) == len(shallow)
    assert not [sql for sql in deep if "RECURSIVE" in sql.upper()]
    assert_referral_graph_is_sound()


def test_activation_closing_a_cycle_through_a_deep_chain_is_refused():
    top = create_user()
    bottom = chain_below(top, 5_000)[-1]

    with pytest.raises(InviteCycleError):
        invite_activate(user=fresh(top), code=bottom.invite_code)

    assert fresh(top).referred_by_id is None
    assert_referral_graph_is_sound()


def test_root_activating_moves_its_whole_tree_to_the_new_root():
    top = create_user()
    tree = chain_below(top, 50)
    other_root = create_user()
    other_member = create_user()
    invite_activate(user=fresh(other_member), code=other_root.invite_code)

    invite_activate(user=fresh(top), code=other_member.invite_code)

    assert fresh(top).referral_root == other_root.pk
    assert {fresh(user).referral_root for user in tree} == {other_root.pk}
    assert_referral_graph_is_sound()

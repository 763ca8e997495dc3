"""The benchmark's COPY loaders leave the referral graph as the one write path would."""

from datetime import UTC, datetime

import pytest

from bench_tools.chains import copy_chain
from bench_tools.population import InviteCodes, copy_users, reserve_user_ids
from invites.models import ReferralDay
from invites.services import invite_activate
from tests.factories import create_user
from tests.invites.conftest import fresh
from tests.invites.graph import assert_referral_graph_is_sound
from users.models import User

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PHONES = 9_500_000  # far above the factories' numbers (from 5,000,000)


def test_copy_chain_builds_a_sound_chain_of_the_depth_asked():
    chain = copy_chain(depth=50, phone_start=PHONES, codes=InviteCodes(), at=AT)

    assert chain.bottom_id - chain.root_id == 50
    assert_referral_graph_is_sound()
    bottom = User.objects.get(pk=chain.bottom_id)
    assert bottom.referral_root == chain.root_id
    assert bottom.referrals_count == 0
    # Walking up from the bottom takes exactly `depth` steps to the root.
    steps, current = 0, bottom
    while current.referred_by_id is not None:
        current, steps = User.objects.get(pk=current.referred_by_id), steps + 1
    assert (steps, current.pk) == (50, chain.root_id)
    assert ReferralDay.objects.filter(date=AT.date(), referrals=1).count() == 50


def test_copy_chain_bottom_and_root_activate_as_any_users_do():
    chain = copy_chain(depth=50, phone_start=PHONES, codes=InviteCodes(), at=AT)
    bottom = User.objects.get(pk=chain.bottom_id)
    newcomer = create_user()

    invite_activate(user=fresh(newcomer), code=bottom.invite_code)
    # The root takes a code of its own: the whole chain moves under the new root.
    other_root = create_user()
    invite_activate(user=User.objects.get(pk=chain.root_id), code=other_root.invite_code)

    assert fresh(newcomer).referral_root == other_root.pk
    assert_referral_graph_is_sound()


def test_copy_users_roots_one_level_deep_referrals_at_their_referrer():
    first = reserve_user_ids(3)
    rows = [
        (first, PHONES, None, None, 2),
        (first + 1, PHONES + 1, first, AT, 0),
        (first + 2, PHONES + 2, first, AT, 0),
    ]

    copy_users(rows, codes=InviteCodes(), joined=AT)

    assert dict(User.objects.values_list("pk", "referral_root")) == {
        first: None,
        first + 1: first,
        first + 2: first,
    }
    assert_referral_graph_is_sound()

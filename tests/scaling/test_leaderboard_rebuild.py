"""`manage.py rebuild_leaderboards` builds each set under a key of the live key's hash slot and
renames it over the live one: on a Redis Cluster too (scripts/topologies.sh runs this there)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_redis import get_redis_connection

from invites import leaderboard
from tests.factories import record_referral

pytestmark = pytest.mark.django_db


def test_rebuild_leaderboards_after_redis_lost_them_restores_every_period(make_user):
    now = timezone.now()
    owners = [make_user(), make_user()]
    for owner, count in zip(owners, (3, 1), strict=True):
        for _ in range(count):
            record_referral(referral=make_user(), owner=owner, at=now)
    get_redis_connection("default").flushdb()

    call_command("rebuild_leaderboards", stdout=StringIO())

    for period in leaderboard.Period:
        stored = leaderboard.stored_scores(period=period, now=now)
        assert stored == {owners[0].pk: 3, owners[1].pk: 1}
        assert stored == leaderboard.expected_scores(period=period, now=now)
    top, _ = leaderboard.standings(period=leaderboard.Period.ALL, now=now, limit=10)
    assert [(standing.user_id, standing.rank) for standing in top] == [
        (owners[0].pk, 1),
        (owners[1].pk, 2),
    ]


def test_rebuild_leaderboards_without_referrals_empties_stale_sets(make_user):
    now = timezone.now()
    stale = make_user()
    # Redis only: PostgreSQL has none.
    leaderboard.record_referral(owner_id=stale.pk, phone=stale.phone, at=now)

    call_command("rebuild_leaderboards", stdout=StringIO())

    for period in leaderboard.Period:
        assert leaderboard.stored_scores(period=period, now=now) == {}


def test_rebuild_leaderboards_keeps_the_periods_expiry(make_user):
    now = timezone.now()
    record_referral(referral=make_user(), owner=make_user(), at=now)

    call_command("rebuild_leaderboards", stdout=StringIO())

    redis = get_redis_connection("default")
    assert redis.ttl("referral:leaderboard:all") == -1  # all time: never expires
    assert {redis.ttl(key) > 0 for key in redis.scan_iter("referral:leaderboard:*:*")} == {True}
    assert len(list(redis.scan_iter("referral:leaderboard:*:*"))) == 2

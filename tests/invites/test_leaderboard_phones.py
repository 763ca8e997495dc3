"""The masked phones kept in Redis beside each leaderboard (invites/leaderboard.py): fed with the
referral, rebuilt from PostgreSQL, read in the standings' script, masked as the leaderboard shows
them, and read from PostgreSQL only for members the hash lacks."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_redis import get_redis_connection
from redis.crc import key_slot
from rest_framework.test import APIClient

from invites import leaderboard
from tests.factories import record_referral
from tests.login import bearer
from users.models import User
from users.phone import mask_phone
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
# Country calling codes of one, two and three digits.
PHONES = ("+79991234567", "+447911123456", "+375291234567")
PHONES_OF_PERIOD = {
    leaderboard.Period.ALL: "{referral:leaderboard:all}:phones",
    leaderboard.Period.MONTH: "{referral:leaderboard:month:2026-12}:phones",
    leaderboard.Period.WEEK: "{referral:leaderboard:week:2026-W49}:phones",
}


@pytest.fixture
def owners(make_user: Callable[..., User], django_capture_on_commit_callbacks) -> list[User]:
    """Three owners with 3, 2 and 1 referrals an hour ago, fed to the leaderboards on commit."""
    owners = [make_user(phone=phone) for phone in PHONES]
    with django_capture_on_commit_callbacks(execute=True):
        for owner, count in zip(owners, (3, 2, 1), strict=True):
            for _ in range(count):
                record_referral(referral=make_user(), owner=owner, at=NOW - timedelta(hours=1))
    return owners


def masked_of(users: list[User]) -> dict[int, str]:
    return {user.pk: mask_phone(user.phone) for user in users}


def test_a_referral_keeps_its_owners_masked_phone_beside_every_period(owners) -> None:
    for period in leaderboard.Period:
        assert leaderboard.stored_phones(period=period, now=NOW) == masked_of(owners)
    assert masked_of(owners) == {
        owners[0].pk: "+7********67",
        owners[1].pk: "+44********56",
        owners[2].pk: "+375*******67",
    }


def test_redis_never_holds_a_whole_phone(owners) -> None:
    redis = get_redis_connection("default")
    held = []
    for key in redis.scan_iter("*"):
        kind = redis.type(key)
        if kind == b"hash":
            held += [*redis.hkeys(key), *redis.hvals(key)]
        elif kind == b"zset":
            held += redis.zrange(key, 0, -1)
        elif kind == b"string":
            held.append(redis.get(key))
    assert held
    for owner in owners:
        assert not [value for value in held if owner.phone[1:].encode() in value]


def test_the_phones_of_a_month_and_a_week_expire_with_their_set(owners) -> None:
    redis = get_redis_connection("default")

    assert redis.ttl(PHONES_OF_PERIOD[leaderboard.Period.ALL]) == -1
    for period in (leaderboard.Period.MONTH, leaderboard.Period.WEEK):
        assert 0 < redis.ttl(PHONES_OF_PERIOD[period]) <= leaderboard._TTL[period].total_seconds()


def test_rebuild_restores_the_masked_phones_of_each_period(owners, make_user) -> None:
    # An owner whose referral is older than this week and month ranks in "all" only.
    old = make_user(phone="+12025550143")
    record_referral(referral=make_user(), owner=old, at=NOW - timedelta(days=45))
    get_redis_connection("default").flushdb()

    with time_machine.travel(NOW, tick=False):
        call_command("rebuild_leaderboards", stdout=StringIO())

    assert leaderboard.stored_phones(period=leaderboard.Period.ALL, now=NOW) == masked_of(
        [*owners, old]
    )
    for period in (leaderboard.Period.MONTH, leaderboard.Period.WEEK):
        assert leaderboard.stored_phones(period=period, now=NOW) == masked_of(owners)
    redis = get_redis_connection("default")
    assert redis.ttl(PHONES_OF_PERIOD[leaderboard.Period.WEEK]) > 0
    assert not list(redis.scan_iter("*rebuilding*"))


def test_rebuild_without_referrals_drops_stale_phones(make_user) -> None:
    stale = make_user()
    leaderboard.record_referral(owner_id=stale.pk, phone=stale.phone, at=NOW)

    with time_machine.travel(NOW, tick=False):
        call_command("rebuild_leaderboards", stdout=StringIO())

    for period in leaderboard.Period:
        assert leaderboard.stored_phones(period=period, now=NOW) == {}


@pytest.mark.parametrize("period", list(leaderboard.Period))
def test_a_set_and_its_phones_share_a_cluster_slot(period: leaderboard.Period) -> None:
    # One script reads both: a Redis Cluster runs it only when its keys share a slot.
    key = leaderboard._key(period, NOW)

    assert key_slot(PHONES_OF_PERIOD[period].encode()) == key_slot(key.encode())
    assert leaderboard._phones_key(key) == PHONES_OF_PERIOD[period]


def test_the_standings_carry_the_masked_phones(owners) -> None:
    top, _ = leaderboard.standings(period=leaderboard.Period.WEEK, now=NOW, limit=10)

    assert [(standing.user_id, standing.masked_phone) for standing in top] == [
        (owner.pk, mask_phone(owner.phone)) for owner in owners
    ]


def leaderboard_read(user: User) -> tuple[dict, list[str]]:
    """The caller's leaderboard of this week, and the SQL it ran."""
    client = APIClient()
    with time_machine.travel(NOW, tick=False):
        client.credentials(**bearer(token_pair_for(user).access))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("invites:leaderboard-list"), {"period": "week"})
    assert response.status_code == 200, response.json()
    return response.json(), [query["sql"] for query in queries.captured_queries]


def test_the_leaderboard_reads_no_phone_from_postgresql(owners) -> None:
    body, queries = leaderboard_read(owners[2])

    assert [row["phone"] for row in body["results"]] == [mask_phone(o.phone) for o in owners]
    assert len(queries) == 1  # the caller (its token's session)


def test_members_missing_from_the_hash_are_read_from_postgresql_alone(owners) -> None:
    # A set fed before the hash existed, or a hash lost: the member's phone is not in Redis.
    get_redis_connection("default").hdel(PHONES_OF_PERIOD[leaderboard.Period.WEEK], owners[1].pk)

    body, queries = leaderboard_read(owners[2])

    assert [row["phone"] for row in body["results"]] == [mask_phone(o.phone) for o in owners]
    assert len(queries) == 2
    read = re.search(r'"id" IN \((\d+)\)', queries[1])
    assert read is not None, queries[1]
    assert read.group(1) == str(owners[1].pk)


def test_staff_still_see_whole_phones(owners, staff_user: User) -> None:
    client = APIClient()

    with time_machine.travel(NOW, tick=False):
        client.credentials(**bearer(token_pair_for(staff_user).access))
        response = client.get(reverse("invites:staff-leaderboard-list"), {"period": "week"})

    assert [row["phone"] for row in response.json()["results"]] == list(PHONES)

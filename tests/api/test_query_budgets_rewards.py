"""Database queries per request of the rewards, stats and leaderboard endpoints, with a real Bearer
token (its user costs one query): the budget holds however much history the caller has."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from invites import leaderboard
from rewards.models import RewardEntry
from tests.factories import create_user, make_rule, record_referral, user_recipe
from tests.login import bearer
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db


def client_of(user: User) -> APIClient:
    client = APIClient()
    client.credentials(**bearer(token_pair_for(user).access))
    return client


def add_referrals(owners: list[User], count: int) -> None:
    """`count` users referred by each owner just now, in one INSERT; then the leaderboards are
    rebuilt from PostgreSQL (the way operators repair them), which is quicker than feeding them."""
    now = timezone.now()
    User.objects.bulk_create(
        [
            user_recipe.prepare(referred_by=owner, referred_at=now)
            for owner in owners
            for _ in range(count)
        ]
    )
    User.objects.filter(pk__in=[owner.pk for owner in owners]).update(
        referrals_count=F("referrals_count") + count
    )
    leaderboard.rebuild(now=now)


def add_entries(owner: User, count: int) -> None:
    """`count` referrer entries of `owner`, a second apart, in two INSERTs."""
    rule = make_rule()
    referrals = user_recipe.make(_quantity=count, _bulk_create=True) if count else []
    start = timezone.now() - timedelta(days=1)
    RewardEntry.objects.bulk_create(
        RewardEntry(
            user=owner,
            referral=referral,
            kind=RewardEntry.Kind.REFERRER,
            rule=rule,
            amount=100,
            unit="points",
            state=RewardEntry.State.PENDING,
            created_at=start + timedelta(seconds=index),
        )
        for index, referral in enumerate(referrals)
    )


@pytest.mark.parametrize("count", [0, 10, 150])
def test_rewards_list_every_page_costs_at_most_two_queries(
    user: User, django_assert_max_num_queries, count: int
) -> None:
    add_entries(user, count)
    client = client_of(user)
    url: str | None = reverse("rewards:rewards-list") + "?page_size=40"
    seen = 0

    while url:
        with django_assert_max_num_queries(2):
            response = client.get(url)
        assert response.status_code == 200
        seen += len(response.json()["results"])
        url = response.json()["next"]

    assert seen == count


def test_rewards_balance_costs_at_most_two_queries(
    make_user, django_assert_max_num_queries
) -> None:
    me = make_user()
    for unit in ("points", "coins", "stars"):
        make_rule(unit=unit, auto_credit_days=None)
        for _ in range(3):
            record_referral(referral=make_user(), owner=me, at=timezone.now())
    client = client_of(me)

    with django_assert_max_num_queries(2):
        response = client.get(reverse("rewards:rewards-balance"))

    assert response.status_code == 200
    assert [item["unit"] for item in response.json()["balances"]] == ["coins", "points", "stars"]


@pytest.mark.parametrize("days", [0, 10, 45])
def test_stats_cost_at_most_two_queries(make_user, django_assert_max_num_queries, days) -> None:
    me = make_user()
    now = timezone.now()
    for back in range(days):
        record_referral(referral=make_user(), owner=me, at=now - timedelta(days=back))
    client = client_of(me)

    with django_assert_max_num_queries(2):
        response = client.get(reverse("invites:profile-stats"))

    assert response.status_code == 200
    assert response.json()["referrals_count"] == days
    assert response.json()["referrals_last_30_days"] == min(days, 30)


@pytest.mark.parametrize("count", [10, 150])
@pytest.mark.parametrize("period", ["all", "month", "week"])
def test_leaderboard_costs_one_query(
    django_assert_num_queries, db: None, count: int, period: str
) -> None:
    me = create_user()
    add_referrals(user_recipe.make(_quantity=120, _bulk_create=True), 2)
    add_referrals([me], count)
    client = client_of(me)

    # The caller; the standings and the top's masked phones come from Redis in one script.
    with django_assert_num_queries(1):
        response = client.get(
            reverse("invites:leaderboard-list"), {"period": period, "limit": "100"}
        )

    assert response.status_code == 200
    assert len(response.json()["results"]) == 100
    assert response.json()["me"] == {"rank": 1, "referrals": count}


@pytest.mark.parametrize("count", [10, 150])
def test_staff_leaderboard_costs_at_most_two_queries(
    staff_user: User, django_assert_max_num_queries, count: int
) -> None:
    add_referrals(user_recipe.make(_quantity=count, _bulk_create=True), 1)
    client = client_of(staff_user)

    with django_assert_max_num_queries(2):
        response = client.get(reverse("invites:staff-leaderboard-list"), {"limit": 100})

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(count, 100)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"state": "pending"},
        {"phone": "OWNER"},
        {"phone": "OWNER", "state": "pending"},
        {"phone": "+79160000000"},
    ],
)
def test_staff_rewards_list_costs_at_most_three_queries(
    staff_user: User, make_user, django_assert_max_num_queries, query: dict[str, str]
) -> None:
    owner = make_user()
    add_entries(owner, 150)
    client = client_of(staff_user)
    if query.get("phone") == "OWNER":
        query = {**query, "phone": owner.phone}

    with django_assert_max_num_queries(3):
        response = client.get(reverse("rewards:staff-rewards-list"), query)

    assert response.status_code == 200
    assert len(response.json()["results"]) == (0 if query.get("phone") == "+79160000000" else 20)


def test_staff_reward_rules_list_costs_at_most_two_queries(
    staff_user: User, django_assert_max_num_queries
) -> None:
    for amount in range(1, 30):
        make_rule(referrer_amount=amount)
    client = client_of(staff_user)

    with django_assert_max_num_queries(2):
        response = client.get(reverse("rewards:staff-reward-rules-list"))

    assert response.status_code == 200
    assert len(response.json()["results"]) == 20

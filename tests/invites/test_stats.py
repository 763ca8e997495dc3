"""The caller's referral stats (API.md › 16): counts and a 30-day timeline of UTC dates."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from invites.services import invite_activate
from tests.factories import record_referral
from users.models import User

pytestmark = pytest.mark.django_db

URL = "invites:profile-stats"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def timeline(last: date, counts: dict[date, int] | None = None) -> list[dict[str, Any]]:
    """The 30 days ending `last`, oldest first, with `counts` on their days and 0 elsewhere."""
    counts = counts or {}
    days = [last - timedelta(days=back) for back in range(29, -1, -1)]
    return [{"date": day.isoformat(), "referrals": counts.get(day, 0)} for day in days]


def stats_at(client: APIClient, moment: datetime) -> dict[str, Any]:
    with time_machine.travel(moment, tick=False):
        response = client.get(reverse(URL))
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def referred(make_user: Callable[..., User]) -> Callable[[User, datetime], User]:
    """`referred(owner, at)`: a new user activated `owner`'s code at `at`."""

    def referred(owner: User, at: datetime) -> User:
        return record_referral(referral=make_user(), owner=owner, at=at)

    return referred


def test_stats_without_referrals_is_30_days_of_zero_ending_today(
    auth_client: APIClient,
) -> None:
    body = stats_at(auth_client, NOW)

    assert body == {
        "referrals_count": 0,
        "referrals_last_7_days": 0,
        "referrals_last_30_days": 0,
        "timeline": timeline(TODAY),
    }
    assert body["timeline"][0]["date"] == "2026-11-02"
    assert body["timeline"][-1]["date"] == "2026-12-01"


def test_stats_counts_each_referral_on_its_utc_date(user: User, client_for, referred) -> None:
    day = timedelta(days=1)
    for at in [
        NOW - timedelta(hours=1),  # today
        NOW - timedelta(hours=2),  # today
        NOW - 6 * day,  # the 7th day back: in the last 7
        NOW - 7 * day,  # the 8th: only in the last 30
        NOW - 29 * day,  # the first day of the timeline
        NOW - 30 * day,  # before it: only in the total
        NOW - 400 * day,
    ]:
        referred(user, at)

    body = stats_at(client_for(user), NOW)

    assert body == {
        "referrals_count": 7,
        "referrals_last_7_days": 3,
        "referrals_last_30_days": 5,
        "timeline": timeline(
            TODAY,
            {
                TODAY: 2,
                TODAY - 6 * day: 1,
                TODAY - 7 * day: 1,
                TODAY - 29 * day: 1,
            },
        ),
    }


def test_stats_sums_are_the_sums_of_the_timeline(user: User, client_for, referred) -> None:
    for back in range(0, 40, 3):
        referred(user, NOW - timedelta(days=back, hours=back % 5))

    body = stats_at(client_for(user), NOW)

    counts = [item["referrals"] for item in body["timeline"]]
    assert len(counts) == 30
    assert body["referrals_last_7_days"] == sum(counts[-7:])
    assert body["referrals_last_30_days"] == sum(counts)
    assert body["referrals_count"] == 14


def test_stats_referral_just_before_utc_midnight_counts_on_that_date(
    user: User, client_for, referred
) -> None:
    referred(user, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    referred(user, datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC))

    body = stats_at(client_for(user), NOW)

    assert body["timeline"][-2:] == [
        {"date": "2026-11-30", "referrals": 1},
        {"date": "2026-12-01", "referrals": 1},
    ]


def test_stats_activation_through_the_service_counts_on_the_date_of_the_clock(
    user: User, make_user, client_for
) -> None:
    with time_machine.travel(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), tick=False):
        invite_activate(user=make_user(), code=user.invite_code)
    with time_machine.travel(datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC), tick=False):
        invite_activate(user=make_user(), code=user.invite_code)

    body = stats_at(client_for(user), NOW)

    assert body["timeline"][-2:] == [
        {"date": "2026-11-30", "referrals": 1},
        {"date": "2026-12-01", "referrals": 1},
    ]
    assert body["referrals_count"] == 2


def test_stats_timeline_window_moves_at_utc_midnight(user: User, client_for, referred) -> None:
    # The first day of the window that ends 2026-12-01, and the first of the last 7.
    referred(user, datetime(2026, 11, 2, 0, 0, tzinfo=UTC))
    referred(user, datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC))
    client = client_for(user)

    before = stats_at(client, datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC))
    after = stats_at(client, datetime(2026, 12, 2, 0, 0, 0, tzinfo=UTC))

    assert before == {
        "referrals_count": 2,
        "referrals_last_7_days": 1,
        "referrals_last_30_days": 2,
        "timeline": timeline(date(2026, 12, 1), {date(2026, 11, 2): 1, date(2026, 11, 25): 1}),
    }
    assert after == {
        "referrals_count": 2,
        "referrals_last_7_days": 0,
        "referrals_last_30_days": 1,
        "timeline": timeline(date(2026, 12, 2), {date(2026, 11, 25): 1}),
    }


def test_stats_timeline_crosses_a_year(user: User, client_for, referred) -> None:
    referred(user, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    referred(user, datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC))

    body = stats_at(client_for(user), datetime(2027, 1, 1, 8, 0, tzinfo=UTC))

    assert body["timeline"][0] == {"date": "2026-12-03", "referrals": 0}
    assert body["timeline"][-2:] == [
        {"date": "2026-12-31", "referrals": 1},
        {"date": "2027-01-01", "referrals": 1},
    ]


def test_stats_show_only_the_callers_own(user: User, make_user, client_for, referred) -> None:
    other = make_user()
    referred(other, NOW - timedelta(hours=1))
    referred(user, NOW - timedelta(days=1))

    body = stats_at(client_for(user), NOW)

    assert body == {
        "referrals_count": 1,
        "referrals_last_7_days": 1,
        "referrals_last_30_days": 1,
        "timeline": timeline(TODAY, {TODAY - timedelta(days=1): 1}),
    }


def test_stats_of_a_referee_count_only_their_own_invitations(
    user: User, make_user, client_for, referred
) -> None:
    referred(make_user(), NOW - timedelta(hours=3))
    record_referral(referral=user, owner=make_user(), at=NOW - timedelta(hours=2))

    body = stats_at(client_for(user), NOW)

    assert body["referrals_count"] == 0
    assert body["referrals_last_30_days"] == 0


def test_stats_unauthenticated_is_refused(api_client: APIClient) -> None:
    response = api_client.get(reverse(URL))

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'

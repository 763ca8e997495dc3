"""Leaderboards over HTTP (API.md › 17, 23): periods and their UTC boundaries, shared ranks,
masked phones, the caller's own standing, and staff's view."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from rest_framework.test import APIClient

from referral_api.error_codes import ErrorCode
from tests.factories import create_user, record_referral
from tests.login import log_in
from users.models import User

pytestmark = pytest.mark.django_db

URL = "invites:leaderboard-list"
STAFF_URL = "invites:staff-leaderboard-list"
# A Wednesday: its ISO week began on Monday 2026-11-30, its month on Tuesday 2026-12-01.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
UNRANKED = {"rank": None, "referrals": 0}


def masked(user: User) -> str:
    """A +7 number as the leaderboard shows it."""
    return "+7" + "*" * 8 + user.phone[-2:]


def get(client: APIClient, name: str = URL, *, at: datetime = NOW, **query: Any) -> Any:
    with time_machine.travel(at, tick=False):
        return client.get(reverse(name), query)


def board(client: APIClient, *, at: datetime = NOW, **query: Any) -> dict[str, Any]:
    response = get(client, at=at, **query)
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def referred(
    make_user: Callable[..., User], django_capture_on_commit_callbacks
) -> Callable[..., User]:
    """`referred(owner, at, count=1)`: `count` new users activated `owner`'s code at `at`.

    The leaderboard is fed when the referral commits: the callbacks run here.
    """

    def referred(owner: User, at: datetime = NOW - timedelta(hours=1), count: int = 1) -> User:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(count):
                record_referral(referral=make_user(), owner=owner, at=at)
        return owner

    return referred


def ranked(*rows: tuple[int, User, int]) -> list[dict[str, Any]]:
    return [
        {"rank": rank, "phone": masked(user), "referrals": referrals}
        for rank, user, referrals in rows
    ]


def by_rank_and_phone(body: dict[str, Any]) -> dict[str, Any]:
    """The body with tied rows in a fixed order (the contract orders ties no further)."""
    rows = sorted(body["results"], key=lambda row: (row["rank"], row["phone"]))
    return {**body, "results": rows}


# ---------------------------------------------------------------- ranking


def test_leaderboard_ranks_most_first_and_ties_share_a_rank(
    user: User, make_user, client_for, referred
) -> None:
    first, second, third, fourth = (make_user() for _ in range(4))
    referred(first, count=5)
    referred(second, count=3)
    referred(third, count=3)
    referred(fourth, count=1)

    body = board(client_for(user))

    tied = sorted([second, third], key=masked)
    assert by_rank_and_phone(body) == {
        "period": "all",
        "starts_at": None,
        "results": ranked((1, first, 5), (2, tied[0], 3), (2, tied[1], 3), (4, fourth, 1)),
        "me": UNRANKED,
    }


def test_leaderboard_me_is_the_callers_rank_even_outside_the_top(
    user: User, make_user, client_for, referred
) -> None:
    leader, runner_up = make_user(), make_user()
    referred(leader, count=4)
    referred(runner_up, count=3)
    referred(user, count=2)

    body = board(client_for(user), limit=1)

    assert body == {
        "period": "all",
        "starts_at": None,
        "results": ranked((1, leader, 4)),
        "me": {"rank": 3, "referrals": 2},
    }


def test_leaderboard_me_shares_the_rank_of_a_tie(
    user: User, make_user, client_for, referred
) -> None:
    leader, tied = make_user(), make_user()
    referred(leader, count=4)
    referred(tied, count=2)
    referred(user, count=2)
    referred(make_user(), count=1)

    body = board(client_for(user))

    assert body["me"] == {"rank": 2, "referrals": 2}
    assert [row["rank"] for row in body["results"]] == [1, 2, 2, 4]


def test_leaderboard_without_any_referral_is_empty_and_me_unranked(
    auth_client: APIClient,
) -> None:
    body = board(auth_client, period="week")

    assert body == {
        "period": "week",
        "starts_at": "2026-11-30T00:00:00Z",
        "results": [],
        "me": UNRANKED,
    }


def test_leaderboard_users_without_referrals_are_not_ranked(
    user: User, make_user, client_for, referred
) -> None:
    ranked_owner = make_user()
    referred(ranked_owner)
    referral_only = User.objects.get(referred_by=ranked_owner)

    body = board(client_for(user))

    assert body["results"] == ranked((1, ranked_owner, 1))
    assert referral_only.phone not in {row["phone"] for row in body["results"]}
    assert body["me"] == UNRANKED


def test_leaderboard_a_referral_counts_for_the_code_owner_only(
    make_user, client_for, referred
) -> None:
    owner = make_user()
    referred(owner)
    referral = User.objects.get(referred_by=owner)

    owner_view = board(client_for(owner))
    referral_view = board(client_for(referral))

    assert owner_view["me"] == {"rank": 1, "referrals": 1}
    assert referral_view["me"] == UNRANKED


# ---------------------------------------------------------------- periods


@pytest.fixture
def around_the_week_start(make_user, referred) -> dict[str, User]:
    """Owners whose referrals fall just before and just after NOW's week and month begin."""
    return {
        "sunday": referred(make_user(), datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC), 3),
        "monday": referred(make_user(), datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC), 2),
        "december": referred(make_user(), datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC), 1),
    }


def test_leaderboard_all_counts_every_referral(client_for, around_the_week_start) -> None:
    owners = around_the_week_start

    body = board(client_for(owners["monday"]), period="all")

    assert body == {
        "period": "all",
        "starts_at": None,
        "results": ranked(
            (1, owners["sunday"], 3), (2, owners["monday"], 2), (3, owners["december"], 1)
        ),
        "me": {"rank": 2, "referrals": 2},
    }


def test_leaderboard_week_starts_on_monday_even_in_the_previous_month(
    client_for, around_the_week_start
) -> None:
    owners = around_the_week_start

    body = board(client_for(owners["monday"]), period="week")

    assert body == {
        "period": "week",
        "starts_at": "2026-11-30T00:00:00Z",
        "results": ranked((1, owners["monday"], 2), (2, owners["december"], 1)),
        "me": {"rank": 1, "referrals": 2},
    }


def test_leaderboard_month_starts_on_the_first(client_for, around_the_week_start) -> None:
    owners = around_the_week_start

    body = board(client_for(owners["monday"]), period="month")

    assert body == {
        "period": "month",
        "starts_at": "2026-12-01T00:00:00Z",
        "results": ranked((1, owners["december"], 1)),
        "me": UNRANKED,
    }


def test_leaderboard_iso_week_one_starting_in_december(make_user, client_for, referred) -> None:
    # 2025-W01 runs from Monday 2024-12-30 to Sunday 2025-01-05.
    sunday = referred(make_user(), datetime(2024, 12, 29, 23, 59, 59, tzinfo=UTC), 3)
    monday = referred(make_user(), datetime(2024, 12, 30, 0, 0, 0, tzinfo=UTC), 2)
    new_year = referred(make_user(), datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC), 1)
    client = client_for(sunday)
    now = datetime(2025, 1, 5, 23, 59, 59, tzinfo=UTC)

    week = board(client, at=now, period="week")
    month = board(client, at=now, period="month")
    every = board(client, at=now, period="all")

    assert week == {
        "period": "week",
        "starts_at": "2024-12-30T00:00:00Z",
        "results": ranked((1, monday, 2), (2, new_year, 1)),
        "me": UNRANKED,
    }
    assert month == {
        "period": "month",
        "starts_at": "2025-01-01T00:00:00Z",
        "results": ranked((1, new_year, 1)),
        "me": UNRANKED,
    }
    assert every["results"] == ranked((1, sunday, 3), (2, monday, 2), (3, new_year, 1))
    assert every["me"] == {"rank": 1, "referrals": 3}


def test_leaderboard_last_iso_week_of_a_53_week_year(make_user, client_for, referred) -> None:
    # 2026 has 53 ISO weeks: W53 runs from Monday 2026-12-28 to Sunday 2027-01-03.
    before = referred(make_user(), datetime(2026, 12, 27, 23, 59, 59, tzinfo=UTC))
    inside = referred(make_user(), datetime(2027, 1, 3, 23, 59, 59, tzinfo=UTC))

    body = board(client_for(inside), at=datetime(2027, 1, 3, 23, 59, 59, tzinfo=UTC), period="week")

    assert body == {
        "period": "week",
        "starts_at": "2026-12-28T00:00:00Z",
        "results": ranked((1, inside, 1)),
        "me": {"rank": 1, "referrals": 1},
    }
    assert masked(before) not in {row["phone"] for row in body["results"]}


@pytest.mark.parametrize(
    ("period", "last_moment", "first_moment", "starts_at"),
    [
        (
            "month",
            datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC),
            "2026-12-01T00:00:00Z",
        ),
        (
            "week",
            datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC),
            "2026-12-07T00:00:00Z",
        ),
    ],
)
def test_leaderboard_period_starts_afresh_at_utc_midnight(
    user: User,
    client_for,
    referred,
    period: str,
    last_moment: datetime,
    first_moment: datetime,
    starts_at: str,
) -> None:
    referred(user, last_moment - timedelta(seconds=1))
    client = client_for(user)

    before = board(client, at=last_moment, period=period)
    after = board(client, at=first_moment, period=period)
    every = board(client, at=first_moment, period="all")

    assert before["results"] == [{"rank": 1, "phone": masked(user), "referrals": 1}]
    assert before["me"] == {"rank": 1, "referrals": 1}
    assert after == {"period": period, "starts_at": starts_at, "results": [], "me": UNRANKED}
    assert every["me"] == {"rank": 1, "referrals": 1}


def test_leaderboard_referral_at_the_first_second_of_a_period_counts_in_it(
    user: User, client_for, referred
) -> None:
    referred(user, datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC))

    body = board(client_for(user), at=datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC), period="week")

    assert body["me"] == {"rank": 1, "referrals": 1}


# ---------------------------------------------------------------- limit and period input


def test_leaderboard_limit_defaults_to_10(user: User, make_user, client_for, referred) -> None:
    owners = [referred(make_user(), count=index + 1) for index in range(12)]

    default = board(client_for(user))
    everyone = board(client_for(user), limit=100)

    assert [row["referrals"] for row in default["results"]] == list(range(12, 2, -1))
    assert [row["phone"] for row in everyone["results"]] == [
        masked(owner) for owner in owners[::-1]
    ]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"limit": "0"}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ({"limit": "-1"}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ({"limit": "101"}, {"limit": ["Ensure this value is less than or equal to 100."]}),
        ({"limit": "x"}, {"limit": ["A valid integer is required."]}),
        ({"limit": ""}, {"limit": ["A valid integer is required."]}),
        ({"limit": "1.5"}, {"limit": ["A valid integer is required."]}),
        ({"limit": "1" * 2000}, {"limit": ["String value too large."]}),
        ({"period": "year"}, {"period": ['"year" is not a valid choice.']}),
        ({"period": "ALL"}, {"period": ['"ALL" is not a valid choice.']}),
        ({"period": ""}, {"period": ['"" is not a valid choice.']}),
        (
            {"period": "day", "limit": "0"},
            {
                "period": ['"day" is not a valid choice.'],
                "limit": ["Ensure this value is greater than or equal to 1."],
            },
        ),
    ],
)
@pytest.mark.parametrize("name", [URL, STAFF_URL])
def test_leaderboard_invalid_query_is_validation_error(
    staff_client: APIClient, name: str, query: dict[str, str], errors: dict[str, list[str]]
) -> None:
    response = staff_client.get(reverse(name), query)

    assert response.status_code == 400
    assert response.json() == {
        "code": ErrorCode.VALIDATION_ERROR,
        "message": "The request has invalid fields.",
        "errors": errors,
    }


@pytest.mark.parametrize("limit", ["1", "100"])
def test_leaderboard_limit_bounds_are_accepted(
    user: User, make_user, client_for, referred, limit: str
) -> None:
    for count in (1, 2):
        referred(make_user(), count=count)

    body = board(client_for(user), limit=limit)

    assert len(body["results"]) == min(int(limit), 2)


# ---------------------------------------------------------------- masking


def test_leaderboard_masks_phones_of_every_country_code_length(
    user: User, client_for, referred
) -> None:
    phones = {
        "+79161234567": "+7********67",  # Russia: +7
        "+12025550143": "+1********43",  # United States: +1
        "+447911123456": "+44********56",  # United Kingdom: +44
        "+380501234589": "+380*******89",  # Ukraine: +380
        "+998901234512": "+998*******12",  # Uzbekistan: +998
    }
    for count, phone in enumerate(phones, start=1):
        referred(create_user(phone=phone), count=count)

    body = board(client_for(user))

    assert body["results"] == [
        {"rank": rank, "phone": phones[phone], "referrals": 6 - rank}
        for rank, phone in enumerate(reversed(phones), start=1)
    ]
    for phone, shown in phones.items():
        assert len(shown) == len(phone)


# ---------------------------------------------------------------- staff


def test_staff_leaderboard_shows_whole_phones_and_user_ids_without_me(
    staff_client: APIClient, make_user, referred
) -> None:
    leader, runner_up = make_user(), make_user()
    referred(leader, count=2)
    referred(runner_up, datetime(2026, 11, 29, 12, 0, tzinfo=UTC))

    every = get(staff_client, STAFF_URL)
    week = get(staff_client, STAFF_URL, period="week", limit=5)

    assert every.status_code == 200
    assert every.json() == {
        "period": "all",
        "starts_at": None,
        "results": [
            {"rank": 1, "user_id": leader.pk, "phone": leader.phone, "referrals": 2},
            {"rank": 2, "user_id": runner_up.pk, "phone": runner_up.phone, "referrals": 1},
        ],
    }
    assert week.json() == {
        "period": "week",
        "starts_at": "2026-11-30T00:00:00Z",
        "results": [{"rank": 1, "user_id": leader.pk, "phone": leader.phone, "referrals": 2}],
    }


def test_staff_leaderboard_is_refused_to_a_non_staff_user(auth_client: APIClient) -> None:
    response = get(auth_client, STAFF_URL)

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
        "errors": {},
    }


def test_leaderboard_unauthenticated_is_refused(api_client: APIClient) -> None:
    response = get(api_client)

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# ---------------------------------------------------------------- fed as referrals commit


@pytest.mark.django_db(transaction=True)
def test_leaderboard_shows_an_activation_in_every_period_once_it_commits(make_user) -> None:
    owner, referral = make_user(), make_user()
    caller = APIClient()
    caller.force_authenticate(user=referral)
    viewer = APIClient()
    viewer.force_authenticate(user=owner)

    activated = caller.post(
        reverse("invites:profile-activate-invite"), {"invite_code": owner.invite_code}
    )
    boards = {
        period: viewer.get(reverse(URL), {"period": period}) for period in ("all", "month", "week")
    }

    assert activated.status_code == 200
    for period, response in boards.items():
        assert response.json()["results"] == [
            {"rank": 1, "phone": masked(owner), "referrals": 1}
        ], period
        assert response.json()["me"] == {"rank": 1, "referrals": 1}, period


@pytest.mark.django_db(transaction=True)
def test_leaderboard_shows_a_sign_up_with_an_invite_code_once_it_commits(make_user, outbox) -> None:
    owner = make_user()
    viewer = APIClient()
    viewer.force_authenticate(user=owner)

    log_in(APIClient(), outbox, "+79161230001", invite_code=owner.invite_code)
    boards = [
        viewer.get(reverse(URL), {"period": period}).json() for period in ("all", "month", "week")
    ]

    assert [body["me"] for body in boards] == [{"rank": 1, "referrals": 1}] * 3


def referral_then_failure(*, referral: User, owner: User) -> None:
    """A referral recorded in a transaction that then fails, and so rolls back."""
    with transaction.atomic():
        record_referral(referral=referral, owner=owner, at=NOW)
        raise RuntimeError("a later step failed")


def test_leaderboard_is_not_fed_by_a_referral_that_rolls_back(
    make_user, client_for, django_capture_on_commit_callbacks
) -> None:
    owner, referral = make_user(), make_user()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        referral_then_failure(referral=referral, owner=owner)

    assert callbacks == []
    assert board(client_for(owner))["me"] == UNRANKED

"""The caller's referrals (API.md › 7): newest first, cursor pages, two queries a page."""

from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db.models import F
from django.urls import reverse
from rest_framework.test import APIClient

from tests.invites.graph import assert_referral_graph_is_sound
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

URL = "invites:profile-referrals"
START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def add_referrals(make_user: Callable[..., User]):
    """`add_referrals(owner, n)`: n users who activated owner's code, one minute apart.

    Returns them newest first, the order the endpoint lists them in.
    """

    def add(owner: User, count: int, *, step: timedelta = timedelta(minutes=1)) -> list[User]:
        base = START + timedelta(days=owner.pk)
        # Rows as the referral write path leaves them (referrer, time, the chain's root), made
        # directly for speed; the counter below as well.
        root = owner.referral_root or owner.pk
        made = [
            make_user(referred_by=owner, referred_at=base + step * index, referral_root=root)
            for index in range(count)
        ]
        User.objects.filter(pk=owner.pk).update(referrals_count=F("referrals_count") + count)
        owner.refresh_from_db()
        return sorted(made, key=lambda referral: (referral.referred_at, referral.pk), reverse=True)

    return add


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user).access}")
    return client


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def walk(client: APIClient, url: str) -> list[dict[str, Any]]:
    """Every page from `url` on, following `next`."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(response.json())
        url = response.json()["next"]
    return pages


def test_referrals_lists_newest_first_with_phone_and_activation_time(
    auth_client: APIClient, user: User, add_referrals
) -> None:
    referrals = add_referrals(user, 3)

    response = auth_client.get(reverse(URL))

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "count": 3,
        "results": [
            {"phone": referral.phone, "activated_at": iso_z(referral.referred_at)}
            for referral in referrals
        ],
    }
    assert response.json()["results"][0]["activated_at"].endswith(":02:00Z")


def test_referrals_none_yet_is_an_empty_page(auth_client: APIClient) -> None:
    response = auth_client.get(reverse(URL))

    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "count": 0, "results": []}


@pytest.mark.parametrize(
    ("query", "expected_size"),
    [
        ("", 20),
        ("?page_size=1", 1),
        ("?page_size=37", 37),
        ("?page_size=100", 100),
        ("?page_size=101", 100),
        ("?page_size=1000", 100),
    ],
)
def test_referrals_page_size_defaults_to_20_and_is_capped_at_100(
    auth_client: APIClient, user: User, add_referrals, query: str, expected_size: int
) -> None:
    add_referrals(user, 105)

    body = auth_client.get(reverse(URL) + query).json()

    assert len(body["results"]) == expected_size
    assert body["count"] == 105
    assert body["next"] is not None


@pytest.mark.parametrize(
    ("page_size", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-1", "Ensure this value is greater than or equal to 1."),
        ("abc", "A valid integer is required."),
        ("", "A valid integer is required."),
        ("1.5", "A valid integer is required."),
    ],
)
def test_referrals_invalid_page_size_is_validation_error(
    auth_client: APIClient, page_size: str, message: str
) -> None:
    response = auth_client.get(reverse(URL), {"page_size": page_size})

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"page_size": [message]},
    }


def forged(querystring: str) -> str:
    """A cursor encoded the way DRF encodes its own, around any content."""
    return b64encode(querystring.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "%%%", "!!!!", "cD0y=="]
    + [forged(content) for content in ["p=2", "p=2026-11", "o=1000&p=x", "r=maybe"]]
    + [forged("p=2026-11-21 10:00:00"), forged("p=")],
)
def test_referrals_invalid_cursor_is_validation_error(
    auth_client: APIClient, user: User, add_referrals, cursor: str
) -> None:
    add_referrals(user, 2)

    response = auth_client.get(reverse(URL), {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"cursor": ["This cursor is not valid."]},
    }


def test_referrals_forged_but_well_formed_cursor_is_a_page(
    auth_client: APIClient, user: User, add_referrals
) -> None:
    referrals = add_referrals(user, 5)
    position = referrals[1].referred_at.isoformat()

    response = auth_client.get(reverse(URL), {"cursor": forged(urlencode({"p": position}))})

    assert response.status_code == 200
    assert [item["phone"] for item in response.json()["results"]] == [
        referral.phone for referral in referrals[2:]
    ]


def test_referrals_walking_next_returns_each_referral_once_in_order(
    auth_client: APIClient, user: User, add_referrals
) -> None:
    referrals = add_referrals(user, 45)

    pages = walk(auth_client, reverse(URL) + "?page_size=10")

    assert [len(page["results"]) for page in pages] == [10, 10, 10, 10, 5]
    assert {page["count"] for page in pages} == {45}
    assert [item["phone"] for page in pages for item in page["results"]] == [
        referral.phone for referral in referrals
    ]
    assert pages[0]["previous"] is None
    assert all(page["previous"] for page in pages[1:])


def test_referrals_walking_default_pages_covers_all(
    auth_client: APIClient, user: User, add_referrals
) -> None:
    referrals = add_referrals(user, 45)

    pages = walk(auth_client, reverse(URL))

    assert [len(page["results"]) for page in pages] == [20, 20, 5]
    assert [item["phone"] for page in pages for item in page["results"]] == [
        referral.phone for referral in referrals
    ]


def test_referrals_same_activation_time_still_each_listed_once(
    auth_client: APIClient, user: User, add_referrals
) -> None:
    referrals = add_referrals(user, 12, step=timedelta(0))

    pages = walk(auth_client, reverse(URL) + "?page_size=5")

    assert [item["phone"] for page in pages for item in page["results"]] == [
        referral.phone for referral in referrals
    ]


def test_referrals_previous_link_walks_back(
    auth_client: APIClient, user: User, add_referrals
) -> None:
    referrals = add_referrals(user, 25)
    first = auth_client.get(reverse(URL), {"page_size": 10}).json()
    second = auth_client.get(first["next"]).json()

    back = auth_client.get(second["previous"]).json()

    assert [item["phone"] for item in back["results"]] == [r.phone for r in referrals[:10]]


def test_referrals_show_only_the_callers_own(
    auth_client: APIClient, user: User, make_user: Callable[..., User], add_referrals
) -> None:
    mine = add_referrals(user, 3)
    other = make_user()
    add_referrals(other, 4)
    add_referrals(mine[0], 2)  # referrals of my referral are not mine

    pages = walk(auth_client, reverse(URL) + "?page_size=2")

    assert sorted(item["phone"] for page in pages for item in page["results"]) == sorted(
        referral.phone for referral in mine
    )
    assert {page["count"] for page in pages} == {3}
    assert_referral_graph_is_sound()


def test_referrals_cursor_of_another_user_shows_only_the_callers_own(
    user: User, make_user: Callable[..., User], add_referrals, client_for
) -> None:
    other = make_user()
    add_referrals(other, 6)
    mine = add_referrals(user, 2)
    foreign_next = client_for(other).get(reverse(URL), {"page_size": 2}).json()["next"]

    body = client_for(user).get(foreign_next).json()

    assert {item["phone"] for item in body["results"]} <= {r.phone for r in mine}


def test_referrals_unauthenticated_is_refused(api_client: APIClient) -> None:
    response = api_client.get(reverse(URL))

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }


def test_referrals_forged_token_is_refused(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = api_client.get(reverse(URL))

    assert response.status_code == 401
    assert response.json() == {
        "code": "token_not_valid",
        "message": "The token is invalid or expired.",
        "errors": {},
    }


# ---------------------------------------------------------------- query budgets


@pytest.mark.parametrize("count", [0, 150])
def test_profile_with_jwt_costs_at_most_two_queries(
    user: User, add_referrals, django_assert_max_num_queries, count: int
) -> None:
    add_referrals(user, count)
    client = bearer_client(user)

    with django_assert_max_num_queries(2):
        response = client.get(reverse("invites:profile-detail"))

    assert response.status_code == 200
    assert response.json()["referrals_count"] == count


def test_profile_with_jwt_shows_activated_code_within_budget(
    user: User, owner: User, refer, django_assert_max_num_queries
) -> None:
    refer(user, owner)
    client = bearer_client(user)

    with django_assert_max_num_queries(2):
        response = client.get(reverse("invites:profile-detail"))

    assert response.json()["activated_invite_code"] == owner.invite_code


@pytest.mark.parametrize("count", [0, 5, 150])
def test_referrals_every_page_costs_at_most_two_queries(
    user: User, add_referrals, django_assert_max_num_queries, count: int
) -> None:
    add_referrals(user, count)
    client = bearer_client(user)
    url: str | None = reverse(URL) + "?page_size=40"
    seen = 0

    while url:
        with django_assert_max_num_queries(2):
            response = client.get(url)
        assert response.status_code == 200
        seen += len(response.json()["results"])
        url = response.json()["next"]

    assert seen == count

"""The caller's rewards over HTTP (API.md › 14–15): the ledger in cursor pages, and the balances."""

from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from rewards.models import RewardEntry, RewardRule
from rewards.services import reward_credit, reward_reverse, reward_rule_deactivate
from tests.factories import make_rule, record_referral, user_recipe
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

LIST = "rewards:rewards-list"
BALANCE = "rewards:rewards-balance"
START = datetime(2026, 11, 21, 10, 5, tzinfo=UTC)
# Rules exist before the referrals the tests record at fixed instants.
RULES_FROM = START - timedelta(days=1)
MINUTE = timedelta(minutes=1)
NOT_AUTHENTICATED = {
    "code": "not_authenticated",
    "message": "Authentication credentials were not provided.",
    "errors": {},
}


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def entry_of(user: User, kind: str, referral: User) -> RewardEntry:
    return RewardEntry.objects.get(user=user, kind=kind, referral=referral)


def bulk_entries(owner: User, count: int) -> list[RewardEntry]:
    """`count` credited referrer entries of `owner`, a minute apart, in two INSERTs; newest first.

    Pages need many entries; how entries are written is what the service tests cover.
    """
    rule = RewardRule.objects.filter(is_active=True).first() or make_rule(at=RULES_FROM)
    referrals = user_recipe.make(_quantity=count, _bulk_create=True)
    entries = RewardEntry.objects.bulk_create(
        RewardEntry(
            user=owner,
            referral=referral,
            kind=RewardEntry.Kind.REFERRER,
            rule=rule,
            amount=rule.referrer_amount,
            unit=rule.unit,
            state=RewardEntry.State.CREDITED,
            created_at=START + MINUTE * index,
            credited_at=START + MINUTE * index,
        )
        for index, referral in enumerate(referrals)
    )
    return entries[::-1]


def walk(client: APIClient, url: str) -> list[dict[str, Any]]:
    """Every page from `url` on, following `next`."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        url = response.json()["next"]
    return pages


@pytest.fixture
def client_of() -> Callable[[User], APIClient]:
    def client_of(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return client_of


# ---------------------------------------------------------------- the list


def test_rewards_list_shows_own_entries_newest_first_with_referral_phone(
    make_user, client_of
) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=50, auto_credit_days=7)
    me, inviter, stranger = make_user(), make_user(), make_user()
    first = record_referral(referral=make_user(), owner=me, at=START)
    second = record_referral(referral=make_user(), owner=me, at=START + MINUTE)
    record_referral(referral=me, owner=inviter, at=START + 2 * MINUTE)
    record_referral(referral=make_user(), owner=stranger, at=START + 3 * MINUTE)

    response = client_of(me).get(reverse(LIST))

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": entry_of(me, "referee", me).pk,
                "kind": "referee",
                "amount": 50,
                "unit": "points",
                "state": "pending",
                "referral_phone": None,
                "created_at": "2026-11-21T10:07:00Z",
                "credit_due_at": "2026-11-28T10:07:00Z",
                "credited_at": None,
                "reversed_at": None,
            },
            {
                "id": entry_of(me, "referrer", second).pk,
                "kind": "referrer",
                "amount": 100,
                "unit": "points",
                "state": "pending",
                "referral_phone": second.phone,
                "created_at": "2026-11-21T10:06:00Z",
                "credit_due_at": "2026-11-28T10:06:00Z",
                "credited_at": None,
                "reversed_at": None,
            },
            {
                "id": entry_of(me, "referrer", first).pk,
                "kind": "referrer",
                "amount": 100,
                "unit": "points",
                "state": "pending",
                "referral_phone": first.phone,
                "created_at": "2026-11-21T10:05:00Z",
                "credit_due_at": "2026-11-28T10:05:00Z",
                "credited_at": None,
                "reversed_at": None,
            },
        ],
    }


def test_rewards_list_referee_sees_only_own_entry_without_phone(make_user, client_of) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=50, auto_credit_days=None)
    inviter, me = make_user(), make_user()
    record_referral(referral=me, owner=inviter, at=START)

    response = client_of(me).get(reverse(LIST))

    assert response.json()["results"] == [
        {
            "id": entry_of(me, "referee", me).pk,
            "kind": "referee",
            "amount": 50,
            "unit": "points",
            "state": "pending",
            "referral_phone": None,
            "created_at": "2026-11-21T10:05:00Z",
            "credit_due_at": None,
            "credited_at": None,
            "reversed_at": None,
        }
    ]


def test_rewards_list_held_entry_shows_as_pending(make_user, client_of) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=0, auto_credit_days=3)
    me, referral = make_user(), make_user()
    record_referral(referral=referral, owner=me, at=START)
    # What the abuse checks write: held, no due date, the signals that held it.
    RewardEntry.objects.filter(user=me).update(
        state=RewardEntry.State.HELD, credit_due_at=None, risk_signals=["same_ip"]
    )

    response = client_of(me).get(reverse(LIST))

    assert response.json()["results"] == [
        {
            "id": entry_of(me, "referrer", referral).pk,
            "kind": "referrer",
            "amount": 100,
            "unit": "points",
            "state": "pending",
            "referral_phone": referral.phone,
            "created_at": "2026-11-21T10:05:00Z",
            "credit_due_at": None,
            "credited_at": None,
            "reversed_at": None,
        }
    ]


def test_rewards_list_credited_and_reversed_entries_show_their_times(
    make_user, staff_user, client_of
) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=0, auto_credit_days=None)
    me, first, second = make_user(), make_user(), make_user()
    record_referral(referral=first, owner=me, at=START)
    record_referral(referral=second, owner=me, at=START + MINUTE)
    credited, reversed_ = entry_of(me, "referrer", first), entry_of(me, "referrer", second)
    with time_machine.travel(START + timedelta(days=1), tick=False):
        reward_credit(entry_id=credited.pk, staff=staff_user)
    with time_machine.travel(START + timedelta(days=2), tick=False):
        reward_reverse(entry_id=reversed_.pk, staff=staff_user, reason="duplicate account")

    response = client_of(me).get(reverse(LIST))

    assert response.json()["results"] == [
        {
            "id": reversed_.pk,
            "kind": "referrer",
            "amount": 100,
            "unit": "points",
            "state": "reversed",
            "referral_phone": second.phone,
            "created_at": "2026-11-21T10:06:00Z",
            "credit_due_at": None,
            "credited_at": None,
            "reversed_at": "2026-11-23T10:05:00Z",
        },
        {
            "id": credited.pk,
            "kind": "referrer",
            "amount": 100,
            "unit": "points",
            "state": "credited",
            "referral_phone": first.phone,
            "created_at": "2026-11-21T10:05:00Z",
            "credit_due_at": None,
            "credited_at": "2026-11-22T10:05:00Z",
            "reversed_at": None,
        },
    ]


def test_rewards_list_entries_keep_the_amounts_and_unit_of_their_rule(make_user, client_of) -> None:
    me = make_user()
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=50, unit="points")
    old = record_referral(referral=make_user(), owner=me, at=START)
    make_rule(at=RULES_FROM, referrer_amount=7, referee_amount=3, unit="coins", auto_credit_days=0)
    new = record_referral(referral=make_user(), owner=me, at=START + MINUTE)
    reward_rule_deactivate(rule_id=RewardRule.objects.get(is_active=True).pk, staff=None)

    response = client_of(me).get(reverse(LIST))

    assert [
        (item["referral_phone"], item["amount"], item["unit"], item["state"], item["credited_at"])
        for item in response.json()["results"]
    ] == [
        (new.phone, 7, "coins", "credited", "2026-11-21T10:06:00Z"),
        (old.phone, 100, "points", "credited", "2026-11-21T10:05:00Z"),
    ]


def test_rewards_list_without_entries_is_an_empty_page(make_user, client_of) -> None:
    make_rule(at=RULES_FROM)

    response = client_of(make_user()).get(reverse(LIST))

    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "results": []}


def test_rewards_list_walking_next_returns_each_entry_once_newest_first(
    make_user, client_of
) -> None:
    me = make_user()
    entries = bulk_entries(me, 25)
    bulk_entries(make_user(), 5)

    pages = walk(client_of(me), reverse(LIST) + "?page_size=10")

    assert [len(page["results"]) for page in pages] == [10, 10, 5]
    assert [item["id"] for page in pages for item in page["results"]] == [
        entry.pk for entry in entries
    ]


def test_rewards_list_page_size_defaults_to_20_and_is_capped_at_100(make_user, client_of) -> None:
    me = make_user()
    bulk_entries(me, 101)
    client = client_of(me)

    default = client.get(reverse(LIST)).json()
    capped = client.get(reverse(LIST), {"page_size": 1000}).json()

    assert len(default["results"]) == 20
    assert len(capped["results"]) == 100
    assert capped["next"] is not None


def test_rewards_list_previous_link_walks_back(make_user, client_of) -> None:
    me = make_user()
    entries = bulk_entries(me, 6)
    client = client_of(me)
    second = client.get(client.get(reverse(LIST), {"page_size": 3}).json()["next"]).json()

    back = client.get(second["previous"]).json()

    assert [item["id"] for item in second["results"]] == [entry.pk for entry in entries[3:]]
    assert [item["id"] for item in back["results"]] == [entry.pk for entry in entries[:3]]


def test_rewards_list_cursor_of_another_user_shows_only_the_callers_own(
    make_user, client_of
) -> None:
    me, other = make_user(), make_user()
    mine = bulk_entries(me, 4)
    bulk_entries(other, 4)
    foreign_next = client_of(other).get(reverse(LIST), {"page_size": 2}).json()["next"]

    body = client_of(me).get(foreign_next).json()

    assert {item["id"] for item in body["results"]} <= {entry.pk for entry in mine}


@pytest.mark.parametrize(
    ("page_size", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-5", "Ensure this value is greater than or equal to 1."),
        ("x", "A valid integer is required."),
        ("", "A valid integer is required."),
    ],
)
def test_rewards_list_invalid_page_size_is_validation_error(
    auth_client: APIClient, page_size: str, message: str
) -> None:
    response = auth_client.get(reverse(LIST), {"page_size": page_size})

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"page_size": [message]},
    }


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        b64encode(b"p=yesterday").decode(),
        b64encode(b"o=-5").decode(),
        b64encode(b"\xff\xfe").decode(),
    ],
)
def test_rewards_list_invalid_cursor_is_validation_error(
    user: User, client_of, cursor: str
) -> None:
    bulk_entries(user, 3)

    response = client_of(user).get(reverse(LIST), {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"cursor": ["This cursor is not valid."]},
    }


def test_rewards_list_unauthenticated_is_refused(api_client: APIClient) -> None:
    response = api_client.get(reverse(LIST))

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_rewards_list_with_a_real_token_lists_the_tokens_user(make_user) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=50)
    me = make_user()
    referral = record_referral(referral=make_user(), owner=me, at=START)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(me).access}")

    response = client.get(reverse(LIST))

    assert response.status_code == 200
    assert [(item["kind"], item["referral_phone"]) for item in response.json()["results"]] == [
        ("referrer", referral.phone)
    ]


# ---------------------------------------------------------------- balances


def test_rewards_balance_without_entries_is_an_empty_list(auth_client: APIClient) -> None:
    response = auth_client.get(reverse(BALANCE))

    assert response.status_code == 200
    assert response.json() == {"balances": []}


def test_rewards_balance_has_one_item_per_unit_sorted_by_unit(make_user, client_of) -> None:
    me = make_user()
    make_rule(
        at=RULES_FROM, referrer_amount=100, referee_amount=50, unit="points", auto_credit_days=0
    )
    record_referral(referral=make_user(), owner=me, at=START)
    make_rule(at=RULES_FROM, referrer_amount=7, referee_amount=3, unit="coins", auto_credit_days=5)
    record_referral(referral=make_user(), owner=me, at=START + MINUTE)
    record_referral(referral=make_user(), owner=me, at=START + 2 * MINUTE)
    make_rule(
        at=RULES_FROM, referrer_amount=1, referee_amount=1, unit="zeta_9", auto_credit_days=None
    )
    record_referral(referral=me, owner=make_user(), at=START + 3 * MINUTE)

    response = client_of(me).get(reverse(BALANCE))

    assert response.status_code == 200
    assert response.json() == {
        "balances": [
            {"unit": "coins", "pending": 14, "credited": 0, "reversed": 0},
            {"unit": "points", "pending": 0, "credited": 100, "reversed": 0},
            {"unit": "zeta_9", "pending": 1, "credited": 0, "reversed": 0},
        ]
    }


def test_rewards_balance_follows_credits_reversals_and_holds(
    make_user, staff_user, client_of
) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=0, auto_credit_days=None)
    me = make_user()
    referrals = [
        record_referral(referral=make_user(), owner=me, at=START + MINUTE * index)
        for index in range(4)
    ]
    held, credited, clawed_back, reversed_pending = (
        entry_of(me, "referrer", referral) for referral in referrals
    )
    client = client_of(me)
    before = client.get(reverse(BALANCE)).json()
    RewardEntry.objects.filter(pk=held.pk).update(state=RewardEntry.State.HELD)
    reward_credit(entry_id=credited.pk, staff=staff_user)
    reward_credit(entry_id=clawed_back.pk, staff=staff_user)
    reward_reverse(entry_id=clawed_back.pk, staff=staff_user, reason="fraud")
    reward_reverse(entry_id=reversed_pending.pk, staff=staff_user, reason="fraud")

    after = client.get(reverse(BALANCE)).json()

    assert before == {
        "balances": [{"unit": "points", "pending": 400, "credited": 0, "reversed": 0}]
    }
    assert after == {
        "balances": [{"unit": "points", "pending": 100, "credited": 100, "reversed": 200}]
    }


def test_rewards_balance_shows_only_the_callers_own(make_user, client_of) -> None:
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=50)
    me, other = make_user(), make_user()
    record_referral(referral=make_user(), owner=other, at=START)

    response = client_of(me).get(reverse(BALANCE))

    assert response.json() == {"balances": []}


def test_rewards_balance_unauthenticated_is_refused(api_client: APIClient) -> None:
    response = api_client.get(reverse(BALANCE))

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'

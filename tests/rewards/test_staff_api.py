"""Staff's reward tools over HTTP (API.md › 18–23): rules, every user's entries, credit, reverse."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from referral_api.error_codes import ErrorCode
from rewards.models import RewardBalance, RewardEntry, RewardRule
from rewards.services import reward_credit, reward_reverse
from tests.factories import make_rule, record_referral
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

RULES = "rewards:staff-reward-rules-list"
DEACTIVATE = "rewards:staff-reward-rules-deactivate"
ENTRIES = "rewards:staff-rewards-list"
CREDIT = "rewards:staff-rewards-credit"
REVERSE = "rewards:staff-rewards-reverse"
START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
# Rules exist before the referrals the tests record at fixed instants.
RULES_FROM = START - timedelta(days=1)
MINUTE = timedelta(minutes=1)

INVALID = "The request has invalid fields."
NOT_FOUND = {"code": ErrorCode.NOT_FOUND, "message": "Not found.", "errors": {}}
STATE_CONFLICT = {
    "code": ErrorCode.REWARD_STATE_CONFLICT,
    "message": "This reward entry was reversed; it can no longer be credited.",
    "errors": {},
}


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user).access}")
    return client


def invalid(errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"code": ErrorCode.VALIDATION_ERROR, "message": INVALID, "errors": errors}


def non_numeric(name: str) -> str:
    """The path of a detail action with `abc` where the id goes."""
    return reverse(name, kwargs={"pk": 1}).replace("/1/", "/abc/")


def balance(user: User, unit: str = "points") -> tuple[int, int, int]:
    row = RewardBalance.objects.get(user=user, unit=unit)
    return row.pending, row.credited, row.reversed


@pytest.fixture
def entry(make_user) -> RewardEntry:
    """A pending referrer entry (only staff credit it), of a referral at START."""
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=0, auto_credit_days=None)
    owner = make_user()
    record_referral(referral=make_user(), owner=owner, at=START)
    return RewardEntry.objects.get(user=owner)


def body_of(entry: RewardEntry, **changes: Any) -> dict[str, Any]:
    """The staff body of a pending referrer entry of the `entry` fixture, with `changes`."""
    return {
        "id": entry.pk,
        "kind": "referrer",
        "amount": 100,
        "unit": "points",
        "state": "pending",
        "referral_phone": entry.referral.phone,
        "created_at": "2026-11-21T10:00:00Z",
        "credit_due_at": None,
        "credited_at": None,
        "reversed_at": None,
        "user_id": entry.user_id,
        "user_phone": entry.user.phone,
        "risk_signals": [],
        "credited_by": None,
        "reversed_by": None,
        "reversal_reason": "",
        **changes,
    }


# ---------------------------------------------------------------- who may call


# (name, method, the id it acts on, its body): every staff operation, with a valid request.
STAFF_OPERATIONS = [
    pytest.param(RULES, "get", None, None, id="list-rules"),
    pytest.param(RULES, "post", None, {"referrer_amount": 1, "referee_amount": 1}, id="add-rule"),
    pytest.param(DEACTIVATE, "post", "rule", None, id="deactivate-rule"),
    pytest.param(ENTRIES, "get", None, None, id="list-entries"),
    pytest.param(CREDIT, "post", "entry", None, id="credit"),
    pytest.param(REVERSE, "post", "entry", {"reason": "fraud"}, id="reverse"),
    pytest.param("invites:staff-leaderboard-list", "get", None, None, id="leaderboard"),
]


def call(client: APIClient, name: str, method: str, target: str | None, body: Any, entry) -> Any:
    ids = {"rule": entry.rule_id, "entry": entry.pk}
    url = reverse(name, kwargs={"pk": ids[target]}) if target else reverse(name)
    return getattr(client, method)(url, body)


def unchanged(entry: RewardEntry) -> bool:
    entry_now = RewardEntry.objects.get(pk=entry.pk)
    rules = list(RewardRule.objects.values_list("pk", "is_active"))
    return entry_now.state == "pending" and rules == [(entry.rule_id, True)]


@pytest.mark.parametrize(("name", "method", "target", "body"), STAFF_OPERATIONS)
def test_staff_operation_non_staff_bearer_user_is_forbidden(
    make_user, entry, name, method, target, body
) -> None:
    client = bearer_client(make_user())

    response = call(client, name, method, target, body, entry)

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
        "errors": {},
    }
    assert unchanged(entry)


@pytest.mark.parametrize(("name", "method", "target", "body"), STAFF_OPERATIONS)
def test_staff_operation_without_token_is_unauthenticated(
    api_client: APIClient, entry, name, method, target, body
) -> None:
    response = call(api_client, name, method, target, body, entry)

    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert unchanged(entry)


@pytest.mark.parametrize(("name", "method", "target", "body"), STAFF_OPERATIONS)
def test_staff_operation_forged_token_is_refused(
    api_client: APIClient, entry, name, method, target, body
) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = call(api_client, name, method, target, body, entry)

    assert response.status_code == 401
    assert response.json() == {
        "code": "token_not_valid",
        "message": "The token is invalid or expired.",
        "errors": {},
    }
    assert unchanged(entry)


def test_staff_tools_with_a_real_staff_token_work_end_to_end(make_user) -> None:
    staff = make_user(is_staff=True)
    client = bearer_client(staff)
    owner = make_user()

    created = client.post(
        reverse(RULES), {"referrer_amount": 100, "referee_amount": 50, "auto_credit_days": None}
    )
    record_referral(referral=make_user(), owner=owner, at=datetime.now(UTC))
    listed = client.get(reverse(ENTRIES), {"phone": owner.phone, "state": "pending"})
    entry_id = listed.json()["results"][0]["id"]
    credited = client.post(reverse(CREDIT, kwargs={"pk": entry_id}))
    reversed_ = client.post(reverse(REVERSE, kwargs={"pk": entry_id}), {"reason": "fraud"})
    deactivated = client.post(reverse(DEACTIVATE, kwargs={"pk": created.json()["id"]}))

    assert created.status_code == 201
    assert [item["user_id"] for item in listed.json()["results"]] == [owner.pk]
    assert (credited.status_code, credited.json()["credited_by"]) == (200, staff.pk)
    assert (reversed_.status_code, reversed_.json()["reversed_by"]) == (200, staff.pk)
    assert (deactivated.status_code, deactivated.json()["is_active"]) == (200, False)
    assert balance(owner) == (0, 0, 100)


# ---------------------------------------------------------------- rules


def test_reward_rules_create_answers_the_rule_and_records_who_and_when(
    staff_client: APIClient, staff_user: User
) -> None:
    with time_machine.travel(START, tick=False):
        response = staff_client.post(
            reverse(RULES),
            {
                "referrer_amount": 100,
                "referee_amount": 50,
                "unit": "points",
                "auto_credit_days": 7,
                "referrer_daily_cap": 20,
            },
        )

    rule = RewardRule.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": rule.pk,
        "referrer_amount": 100,
        "referee_amount": 50,
        "unit": "points",
        "auto_credit_days": 7,
        "referrer_daily_cap": 20,
        "is_active": True,
        "created_at": "2026-11-21T10:00:00Z",
        "deactivated_at": None,
    }
    assert rule.created_by == staff_user


def test_reward_rules_create_fills_the_defaults(staff_client: APIClient) -> None:
    response = staff_client.post(reverse(RULES), {"referrer_amount": 0, "referee_amount": 1})

    assert response.status_code == 201
    assert {key: response.json()[key] for key in ("unit", "auto_credit_days")} == {
        "unit": "points",
        "auto_credit_days": 0,
    }
    assert response.json()["referrer_daily_cap"] is None


def test_reward_rules_create_deactivates_the_previous_rule(
    staff_client: APIClient, staff_user: User
) -> None:
    previous = make_rule()

    with time_machine.travel(START, tick=False):
        response = staff_client.post(reverse(RULES), {"referrer_amount": 5, "referee_amount": 5})

    previous.refresh_from_db()
    assert response.status_code == 201
    assert list(RewardRule.objects.filter(is_active=True).values_list("pk", flat=True)) == [
        response.json()["id"]
    ]
    assert (previous.is_active, previous.deactivated_at, previous.deactivated_by) == (
        False,
        START,
        staff_user,
    )


@pytest.mark.parametrize(
    ("amounts", "values"),
    [
        ({"referrer_amount": 0, "referee_amount": 1}, (0, 1)),
        ({"referrer_amount": 1_000_000_000, "referee_amount": 0}, (1_000_000_000, 0)),
    ],
)
def test_reward_rules_create_accepts_amounts_at_the_bounds(
    staff_client: APIClient, amounts: dict[str, int], values: tuple[int, int]
) -> None:
    response = staff_client.post(reverse(RULES), amounts)

    assert response.status_code == 201
    assert (response.json()["referrer_amount"], response.json()["referee_amount"]) == values


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({"unit": "a"}, ("a", 0, None)),
        ({"unit": "z" * 16}, ("z" * 16, 0, None)),
        ({"unit": "gold_2026"}, ("gold_2026", 0, None)),
        ({"auto_credit_days": None}, ("points", None, None)),
        ({"auto_credit_days": 365}, ("points", 365, None)),
        ({"referrer_daily_cap": 1}, ("points", 0, 1)),
        ({"referrer_daily_cap": 100_000}, ("points", 0, 100_000)),
        ({"referrer_daily_cap": None}, ("points", 0, None)),
    ],
)
def test_reward_rules_create_accepts_fields_at_the_bounds(
    staff_client: APIClient, fields: dict[str, Any], stored: tuple[Any, ...]
) -> None:
    response = staff_client.post(
        reverse(RULES), {"referrer_amount": 1, "referee_amount": 1, **fields}
    )

    body = response.json()
    assert response.status_code == 201
    assert (body["unit"], body["auto_credit_days"], body["referrer_daily_cap"]) == stored


NOT_INTEGER = ["A valid integer is required."]
NOT_NULL = ["This field may not be null."]
UNIT_FORMAT = ["1–16 characters of a–z, 0–9 and _."]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        # The amounts: integers 0–1,000,000,000, not both 0.
        (
            {"referrer_amount": 0, "referee_amount": 0},
            {"non_field_errors": ["The two amounts cannot both be 0."]},
        ),
        (
            {"referrer_amount": -1},
            {"referrer_amount": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"referee_amount": 1_000_000_001},
            {"referee_amount": ["Ensure this value is less than or equal to 1000000000."]},
        ),
        (
            {"referrer_amount": 10**30},
            {"referrer_amount": ["Ensure this value is less than or equal to 1000000000."]},
        ),
        ({"referrer_amount": "100"}, {"referrer_amount": NOT_INTEGER}),
        ({"referrer_amount": "abc"}, {"referrer_amount": NOT_INTEGER}),
        ({"referrer_amount": ""}, {"referrer_amount": NOT_INTEGER}),
        ({"referrer_amount": "1" * 2000}, {"referrer_amount": NOT_INTEGER}),
        ({"referrer_amount": 1.5}, {"referrer_amount": NOT_INTEGER}),
        ({"referrer_amount": 100.0}, {"referrer_amount": NOT_INTEGER}),
        ({"referee_amount": True}, {"referee_amount": NOT_INTEGER}),
        ({"referee_amount": False}, {"referee_amount": NOT_INTEGER}),
        ({"referee_amount": [1]}, {"referee_amount": NOT_INTEGER}),
        ({"referee_amount": {"value": 1}}, {"referee_amount": NOT_INTEGER}),
        ({"referrer_amount": None}, {"referrer_amount": NOT_NULL}),
        ({"referee_amount": None}, {"referee_amount": NOT_NULL}),
        # The unit: ^[a-z0-9_]{1,16}$.
        ({"unit": "Points"}, {"unit": UNIT_FORMAT}),
        ({"unit": "gold coins"}, {"unit": UNIT_FORMAT}),
        ({"unit": "pünkte"}, {"unit": UNIT_FORMAT}),
        ({"unit": "a-b"}, {"unit": UNIT_FORMAT}),
        (
            {"unit": "a" * 17},
            {"unit": ["Ensure this field has no more than 16 characters.", *UNIT_FORMAT]},
        ),
        ({"unit": ""}, {"unit": ["This field may not be blank."]}),
        ({"unit": None}, {"unit": NOT_NULL}),
        ({"unit": 5}, {"unit": UNIT_FORMAT}),
        ({"unit": True}, {"unit": UNIT_FORMAT}),
        ({"unit": ["points"]}, {"unit": UNIT_FORMAT}),
        # auto_credit_days: null or 0–365.
        (
            {"auto_credit_days": -1},
            {"auto_credit_days": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"auto_credit_days": 366},
            {"auto_credit_days": ["Ensure this value is less than or equal to 365."]},
        ),
        ({"auto_credit_days": "7"}, {"auto_credit_days": NOT_INTEGER}),
        ({"auto_credit_days": 7.5}, {"auto_credit_days": NOT_INTEGER}),
        ({"auto_credit_days": True}, {"auto_credit_days": NOT_INTEGER}),
        # referrer_daily_cap: null or 1–100,000.
        (
            {"referrer_daily_cap": 0},
            {"referrer_daily_cap": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"referrer_daily_cap": 100_001},
            {"referrer_daily_cap": ["Ensure this value is less than or equal to 100000."]},
        ),
        ({"referrer_daily_cap": "20"}, {"referrer_daily_cap": NOT_INTEGER}),
        ({"referrer_daily_cap": False}, {"referrer_daily_cap": NOT_INTEGER}),
        # Several at once: each field says what is wrong with it.
        (
            {"referrer_amount": None, "unit": "X", "auto_credit_days": 400},
            {
                "referrer_amount": NOT_NULL,
                "unit": UNIT_FORMAT,
                "auto_credit_days": ["Ensure this value is less than or equal to 365."],
            },
        ),
    ],
)
def test_reward_rules_create_invalid_field_is_validation_error(
    staff_client: APIClient, fields: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    make_rule()

    response = staff_client.post(
        reverse(RULES), {"referrer_amount": 100, "referee_amount": 50, **fields}
    )

    assert response.status_code == 400
    assert response.json() == invalid(errors)
    assert RewardRule.objects.count() == 1
    assert RewardRule.objects.get().is_active


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (
            "{}",
            {
                "referrer_amount": ["This field is required."],
                "referee_amount": ["This field is required."],
            },
        ),
        ("[1, 2]", {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ('"points"', {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        ("100", {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}),
        ("null", {"non_field_errors": ["No data provided"]}),
    ],
)
def test_reward_rules_create_body_not_an_object_is_validation_error(
    staff_client: APIClient, raw: str, errors: dict[str, list[str]]
) -> None:
    response = staff_client.post(reverse(RULES), raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == invalid(errors)
    assert not RewardRule.objects.exists()


def test_reward_rules_create_malformed_json_is_parse_error(staff_client: APIClient) -> None:
    response = staff_client.post(
        reverse(RULES), '{"referrer_amount": 1,', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": ErrorCode.PARSE_ERROR,
        "message": "JSON parse error - Expecting property name enclosed in double quotes: "
        "line 1 column 23 (char 22)",
        "errors": {},
    }
    assert not RewardRule.objects.exists()


def test_reward_rules_list_is_newest_first(staff_client: APIClient) -> None:
    for hour, amount in enumerate([10, 20, 30]):
        with time_machine.travel(START + timedelta(hours=hour), tick=False):
            staff_client.post(
                reverse(RULES),
                {"referrer_amount": amount, "referee_amount": 0, "auto_credit_days": None},
            )
    first, second, third = RewardRule.objects.order_by("created_at")

    response = staff_client.get(reverse(RULES))

    def rule(pk: int, amount: int, created: str, deactivated: str | None) -> dict[str, Any]:
        return {
            "id": pk,
            "referrer_amount": amount,
            "referee_amount": 0,
            "unit": "points",
            "auto_credit_days": None,
            "referrer_daily_cap": None,
            "is_active": deactivated is None,
            "created_at": created,
            "deactivated_at": deactivated,
        }

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            rule(third.pk, 30, "2026-11-21T12:00:00Z", None),
            rule(second.pk, 20, "2026-11-21T11:00:00Z", "2026-11-21T12:00:00Z"),
            rule(first.pk, 10, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"),
        ],
    }


def test_reward_rules_list_pages_with_page_size(staff_client: APIClient) -> None:
    rules = [make_rule(referrer_amount=amount) for amount in range(1, 6)][::-1]
    url: str | None = reverse(RULES) + "?page_size=2"
    seen = []

    while url:
        body = staff_client.get(url).json()
        seen.append([item["id"] for item in body["results"]])
        url = body["next"]

    assert seen == [[rules[0].pk, rules[1].pk], [rules[2].pk, rules[3].pk], [rules[4].pk]]


def test_reward_rules_list_invalid_cursor_is_validation_error(staff_client: APIClient) -> None:
    response = staff_client.get(reverse(RULES), {"cursor": "not a cursor"})

    assert response.status_code == 400
    assert response.json() == invalid({"cursor": ["This cursor is not valid."]})


def test_reward_rules_deactivate_answers_the_rule_and_records_who_and_when(
    staff_client: APIClient, staff_user: User
) -> None:
    with time_machine.travel(START, tick=False):
        rule = make_rule(referrer_amount=100, referee_amount=50, auto_credit_days=7)
    with time_machine.travel(START + timedelta(days=1), tick=False):
        response = staff_client.post(reverse(DEACTIVATE, kwargs={"pk": rule.pk}))

    rule.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        "id": rule.pk,
        "referrer_amount": 100,
        "referee_amount": 50,
        "unit": "points",
        "auto_credit_days": 7,
        "referrer_daily_cap": None,
        "is_active": False,
        "created_at": "2026-11-21T10:00:00Z",
        "deactivated_at": "2026-11-22T10:00:00Z",
    }
    assert rule.deactivated_by == staff_user
    assert not RewardRule.objects.filter(is_active=True).exists()


def test_reward_rules_deactivate_twice_changes_nothing(
    staff_client: APIClient, staff_user: User, make_user
) -> None:
    rule = make_rule()
    with time_machine.travel(START, tick=False):
        first = staff_client.post(reverse(DEACTIVATE, kwargs={"pk": rule.pk}))
    other_staff = APIClient()
    other_staff.force_authenticate(user=make_user(is_staff=True))

    with time_machine.travel(START + timedelta(days=1), tick=False):
        second = other_staff.post(reverse(DEACTIVATE, kwargs={"pk": rule.pk}))

    rule.refresh_from_db()
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.json()["deactivated_at"] == "2026-11-21T10:00:00Z"
    assert rule.deactivated_by == staff_user


def test_reward_rules_deactivate_an_old_rule_leaves_the_active_one(
    staff_client: APIClient,
) -> None:
    old = make_rule()
    active = make_rule()

    response = staff_client.post(reverse(DEACTIVATE, kwargs={"pk": old.pk}))

    assert response.status_code == 200
    assert list(RewardRule.objects.filter(is_active=True)) == [active]


def test_reward_rules_deactivate_unknown_id_is_not_found(staff_client: APIClient) -> None:
    rule = make_rule()

    response = staff_client.post(reverse(DEACTIVATE, kwargs={"pk": rule.pk + 1000}))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert RewardRule.objects.get().is_active


@pytest.mark.parametrize("name", [DEACTIVATE, CREDIT, REVERSE])
def test_staff_detail_action_non_numeric_id_is_json_not_found(
    staff_client: APIClient, name: str
) -> None:
    response = staff_client.post(non_numeric(name), {"reason": "fraud"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


# ---------------------------------------------------------------- every user's entries


@pytest.fixture
def ledger(make_user, staff_user: User) -> dict[str, RewardEntry]:
    """One entry in each state, a minute apart (pending oldest), of two owners."""
    make_rule(at=RULES_FROM, referrer_amount=100, referee_amount=0, auto_credit_days=None)
    first, second = make_user(), make_user()
    owners = {"pending": first, "held": second, "credited": first, "reversed": second}
    entries = {}
    for index, (state, owner) in enumerate(owners.items()):
        record_referral(referral=make_user(), owner=owner, at=START + MINUTE * index)
        entries[state] = RewardEntry.objects.get(user=owner, created_at=START + MINUTE * index)
    RewardEntry.objects.filter(pk=entries["held"].pk).update(
        state="held", risk_signals=["same_device", "velocity"]
    )
    with time_machine.travel(START + timedelta(days=1), tick=False):
        reward_credit(entry_id=entries["credited"].pk, staff=staff_user)
        reward_reverse(entry_id=entries["reversed"].pk, staff=staff_user, reason="dup account")
    return entries


def staff_body(entry: RewardEntry, staff: User) -> dict[str, Any]:
    """What staff see of a `ledger` entry."""
    at = "2026-11-22T10:00:00Z"
    return {
        "id": entry.pk,
        "kind": "referrer",
        "amount": 100,
        "unit": "points",
        "state": entry.state,
        "referral_phone": entry.referral.phone,
        "created_at": entry.created_at.isoformat().replace("+00:00", "Z"),
        "credit_due_at": None,
        "credited_at": at if entry.state == "credited" else None,
        "reversed_at": at if entry.state == "reversed" else None,
        "user_id": entry.user_id,
        "user_phone": entry.user.phone,
        "risk_signals": list(entry.risk_signals),
        "credited_by": staff.pk if entry.state == "credited" else None,
        "reversed_by": staff.pk if entry.state == "reversed" else None,
        "reversal_reason": "dup account" if entry.state == "reversed" else "",
    }


def test_staff_rewards_list_shows_every_users_entries_as_they_are(
    staff_client: APIClient, staff_user: User, ledger: dict[str, RewardEntry]
) -> None:
    response = staff_client.get(reverse(ENTRIES))

    newest_first = [RewardEntry.objects.get(pk=ledger[state].pk) for state in ledger][::-1]
    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [staff_body(entry, staff_user) for entry in newest_first],
    }
    held = response.json()["results"][2]
    assert (held["state"], held["risk_signals"]) == ("held", ["same_device", "velocity"])


@pytest.mark.parametrize("state", ["pending", "held", "credited", "reversed"])
def test_staff_rewards_list_filters_by_state(
    staff_client: APIClient, ledger: dict[str, RewardEntry], state: str
) -> None:
    response = staff_client.get(reverse(ENTRIES), {"state": state})

    assert response.status_code == 200
    assert [(item["id"], item["state"]) for item in response.json()["results"]] == [
        (ledger[state].pk, state)
    ]


@pytest.mark.parametrize("state", ["paid", "PENDING", "", "pending,held"])
def test_staff_rewards_list_invalid_state_is_validation_error(
    staff_client: APIClient, ledger: dict[str, RewardEntry], state: str
) -> None:
    response = staff_client.get(reverse(ENTRIES), {"state": state})

    assert response.status_code == 400
    assert response.json() == invalid({"state": [f'"{state}" is not a valid choice.']})


def test_staff_rewards_list_filters_by_encoded_phone(
    staff_client: APIClient, ledger: dict[str, RewardEntry]
) -> None:
    owner = ledger["pending"].user

    response = staff_client.get(reverse(ENTRIES) + f"?phone=%2B{owner.phone[1:]}")

    assert [item["id"] for item in response.json()["results"]] == [
        ledger["credited"].pk,
        ledger["pending"].pk,
    ]
    assert {item["user_phone"] for item in response.json()["results"]} == {owner.phone}


def test_staff_rewards_list_unencoded_plus_is_read_as_plus(
    staff_client: APIClient, ledger: dict[str, RewardEntry]
) -> None:
    owner = ledger["held"].user

    # A `+` left unencoded in a query string arrives as a space.
    response = staff_client.get(reverse(ENTRIES) + f"?phone={owner.phone}")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [
        ledger["reversed"].pk,
        ledger["held"].pk,
    ]


def test_staff_rewards_list_filters_by_phone_and_state(
    staff_client: APIClient, ledger: dict[str, RewardEntry]
) -> None:
    owner = ledger["pending"].user

    response = staff_client.get(reverse(ENTRIES), {"phone": owner.phone, "state": "credited"})

    assert [item["id"] for item in response.json()["results"]] == [ledger["credited"].pk]


def test_staff_rewards_list_unknown_phone_is_an_empty_page(
    staff_client: APIClient, ledger: dict[str, RewardEntry]
) -> None:
    response = staff_client.get(reverse(ENTRIES), {"phone": "+79990000001"})

    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "results": []}


def test_staff_rewards_list_phone_of_a_user_without_entries_is_an_empty_page(
    staff_client: APIClient, ledger: dict[str, RewardEntry], staff_user: User
) -> None:
    response = staff_client.get(reverse(ENTRIES), {"phone": staff_user.phone})

    assert response.json() == {"next": None, "previous": None, "results": []}


@pytest.mark.parametrize("phone", ["123", "not a phone", "+7999", "+" + "9" * 40])
def test_staff_rewards_list_invalid_phone_is_validation_error(
    staff_client: APIClient, phone: str
) -> None:
    response = staff_client.get(reverse(ENTRIES), {"phone": phone})

    assert response.status_code == 400
    assert response.json()["code"] == ErrorCode.VALIDATION_ERROR
    assert list(response.json()["errors"]) == ["phone"]


def test_staff_rewards_list_invalid_phone_whole_body(staff_client: APIClient) -> None:
    response = staff_client.get(reverse(ENTRIES), {"phone": "123"})

    assert response.status_code == 400
    assert response.json() == invalid(
        {"phone": ["Enter a valid phone number in international format, e.g. +79991234567."]}
    )


def test_staff_rewards_list_walks_pages_newest_first(
    staff_client: APIClient, ledger: dict[str, RewardEntry]
) -> None:
    url: str | None = reverse(ENTRIES) + "?page_size=3"
    seen = []

    while url:
        body = staff_client.get(url).json()
        seen.append([item["id"] for item in body["results"]])
        url = body["next"]

    newest_first = [ledger[state].pk for state in ledger][::-1]
    assert seen == [newest_first[:3], newest_first[3:]]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"page_size": "0"}, {"page_size": ["Ensure this value is greater than or equal to 1."]}),
        ({"cursor": "zzz"}, {"cursor": ["This cursor is not valid."]}),
    ],
)
def test_staff_rewards_list_invalid_page_is_validation_error(
    staff_client: APIClient, ledger: dict[str, RewardEntry], query: dict[str, str], errors
) -> None:
    response = staff_client.get(reverse(ENTRIES), query)

    assert response.status_code == 400
    assert response.json() == invalid(errors)


# ---------------------------------------------------------------- credit


def test_staff_credit_pending_entry_credits_it_and_records_who_and_when(
    staff_client: APIClient, staff_user: User, entry: RewardEntry
) -> None:
    with time_machine.travel(START + timedelta(days=2), tick=False):
        response = staff_client.post(reverse(CREDIT, kwargs={"pk": entry.pk}))

    assert response.status_code == 200
    assert response.json() == body_of(
        entry, state="credited", credited_at="2026-11-23T10:00:00Z", credited_by=staff_user.pk
    )
    assert balance(entry.user) == (0, 100, 0)


def test_staff_credit_held_entry_credits_it_and_keeps_its_signals(
    staff_client: APIClient, staff_user: User, entry: RewardEntry
) -> None:
    RewardEntry.objects.filter(pk=entry.pk).update(state="held", risk_signals=["same_ip"])

    with time_machine.travel(START + timedelta(days=2), tick=False):
        response = staff_client.post(reverse(CREDIT, kwargs={"pk": entry.pk}))

    assert response.status_code == 200
    assert response.json() == body_of(
        entry,
        state="credited",
        credited_at="2026-11-23T10:00:00Z",
        credited_by=staff_user.pk,
        risk_signals=["same_ip"],
    )
    assert balance(entry.user) == (0, 100, 0)


def test_staff_credit_credited_entry_changes_nothing(
    staff_client: APIClient, staff_user: User, entry: RewardEntry, make_user
) -> None:
    with time_machine.travel(START + timedelta(days=2), tick=False):
        first = staff_client.post(reverse(CREDIT, kwargs={"pk": entry.pk}))
    other_staff = APIClient()
    other_staff.force_authenticate(user=make_user(is_staff=True))

    with time_machine.travel(START + timedelta(days=3), tick=False):
        second = other_staff.post(reverse(CREDIT, kwargs={"pk": entry.pk}))

    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.json()["credited_by"] == staff_user.pk
    assert balance(entry.user) == (0, 100, 0)


def test_staff_credit_reversed_entry_is_a_state_conflict(
    staff_client: APIClient, entry: RewardEntry
) -> None:
    reward_reverse(entry_id=entry.pk, staff=None, reason="fraud")

    response = staff_client.post(reverse(CREDIT, kwargs={"pk": entry.pk}))

    entry.refresh_from_db()
    assert response.status_code == 409
    assert response.json() == STATE_CONFLICT
    assert (entry.state, entry.credited_at, entry.credited_by) == ("reversed", None, None)
    assert balance(entry.user) == (0, 0, 100)


def test_staff_credit_unknown_id_is_not_found(staff_client: APIClient, entry: RewardEntry) -> None:
    response = staff_client.post(reverse(CREDIT, kwargs={"pk": entry.pk + 1000}))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# ---------------------------------------------------------------- reverse


def test_staff_reverse_credited_entry_reverses_it_and_records_who_when_and_why(
    staff_client: APIClient, staff_user: User, entry: RewardEntry, make_user
) -> None:
    crediting_staff = make_user(is_staff=True)
    with time_machine.travel(START + timedelta(days=1), tick=False):
        reward_credit(entry_id=entry.pk, staff=crediting_staff)

    with time_machine.travel(START + timedelta(days=2), tick=False):
        response = staff_client.post(
            reverse(REVERSE, kwargs={"pk": entry.pk}), {"reason": "duplicate account"}
        )

    assert response.status_code == 200
    assert response.json() == body_of(
        entry,
        state="reversed",
        credited_at="2026-11-22T10:00:00Z",
        credited_by=crediting_staff.pk,
        reversed_at="2026-11-23T10:00:00Z",
        reversed_by=staff_user.pk,
        reversal_reason="duplicate account",
    )
    assert balance(entry.user) == (0, 0, 100)


@pytest.mark.parametrize("state", ["pending", "held"])
def test_staff_reverse_waiting_entry_reverses_it(
    staff_client: APIClient, staff_user: User, entry: RewardEntry, state: str
) -> None:
    RewardEntry.objects.filter(pk=entry.pk).update(state=state)

    with time_machine.travel(START + timedelta(days=2), tick=False):
        response = staff_client.post(reverse(REVERSE, kwargs={"pk": entry.pk}), {"reason": "x"})

    assert response.status_code == 200
    assert response.json() == body_of(
        entry,
        state="reversed",
        reversed_at="2026-11-23T10:00:00Z",
        reversed_by=staff_user.pk,
        reversal_reason="x",
    )
    assert balance(entry.user) == (0, 0, 100)


def test_staff_reverse_reversed_entry_changes_nothing(
    staff_client: APIClient, staff_user: User, entry: RewardEntry
) -> None:
    with time_machine.travel(START + timedelta(days=1), tick=False):
        first = staff_client.post(reverse(REVERSE, kwargs={"pk": entry.pk}), {"reason": "first"})

    with time_machine.travel(START + timedelta(days=2), tick=False):
        second = staff_client.post(reverse(REVERSE, kwargs={"pk": entry.pk}), {"reason": "second"})

    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.json()["reversal_reason"] == "first"
    assert balance(entry.user) == (0, 0, 100)


def test_staff_reverse_accepts_a_500_character_reason(
    staff_client: APIClient, entry: RewardEntry
) -> None:
    response = staff_client.post(reverse(REVERSE, kwargs={"pk": entry.pk}), {"reason": "r" * 500})

    assert response.status_code == 200
    assert response.json()["reversal_reason"] == "r" * 500


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"reason": ["This field is required."]}),
        ({"reason": ""}, {"reason": ["This field may not be blank."]}),
        ({"reason": "   "}, {"reason": ["This field may not be blank."]}),
        ({"reason": "r" * 501}, {"reason": ["Ensure this field has no more than 500 characters."]}),
        ({"reason": None}, {"reason": ["This field may not be null."]}),
        ({"reason": 123}, {"reason": ["Not a valid string."]}),
        ({"reason": True}, {"reason": ["Not a valid string."]}),
        ({"reason": ["fraud"]}, {"reason": ["Not a valid string."]}),
        ({"reason": {"text": "fraud"}}, {"reason": ["Not a valid string."]}),
    ],
)
def test_staff_reverse_without_a_valid_reason_is_validation_error(
    staff_client: APIClient, entry: RewardEntry, body: dict[str, Any], errors
) -> None:
    response = staff_client.post(reverse(REVERSE, kwargs={"pk": entry.pk}), body)

    entry.refresh_from_db()
    assert response.status_code == 400
    assert response.json() == invalid(errors)
    assert entry.state == "pending"


def test_staff_reverse_unknown_id_is_not_found(staff_client: APIClient, entry: RewardEntry) -> None:
    response = staff_client.post(
        reverse(REVERSE, kwargs={"pk": entry.pk + 1000}), {"reason": "fraud"}
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_staff_writes_leave_the_owners_own_view_consistent(
    staff_client: APIClient, entry: RewardEntry, make_user
) -> None:
    owner_client = APIClient()
    owner_client.force_authenticate(user=entry.user)

    staff_client.post(reverse(CREDIT, kwargs={"pk": entry.pk}))
    credited = owner_client.get(reverse("rewards:rewards-balance")).json()
    staff_client.post(reverse(REVERSE, kwargs={"pk": entry.pk}), {"reason": "fraud"})
    reversed_ = owner_client.get(reverse("rewards:rewards-balance")).json()

    assert credited == {
        "balances": [{"unit": "points", "pending": 0, "credited": 100, "reversed": 0}]
    }
    assert reversed_ == {
        "balances": [{"unit": "points", "pending": 0, "credited": 0, "reversed": 100}]
    }
    assert owner_client.get(reverse("rewards:rewards-list")).json()["results"][0]["state"] == (
        "reversed"
    )

"""The rewards admin: the ledger filtered and searched, bulk credit and reverse through the same
services as the API, rules added there (and never edited), entries never added or deleted."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from rewards.admin import ADMIN_REVERSAL_REASON
from rewards.models import RewardBalance, RewardEntry, RewardRule
from rewards.services import reward_reverse
from tests.factories import create_user, make_rule, record_referral
from users.models import User

pytestmark = pytest.mark.django_db

ENTRIES = "admin:rewards_rewardentry_changelist"
START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
# Rules exist before the referrals the tests record at fixed instants.
RULES_FROM = START - timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def admin_user(db: None) -> User:
    return create_user(is_staff=True, is_superuser=True)


@pytest.fixture
def admin(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


def listed(response: Any) -> set[int]:
    """The ids of the entries a changelist page shows."""
    assert response.status_code == 200
    return {entry.pk for entry in response.context["cl"].result_list}


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def balance(user: User, unit: str = "points") -> tuple[int, int, int]:
    row = RewardBalance.objects.get(user=user, unit=unit)
    return row.pending, row.credited, row.reversed


@pytest.fixture
def ledger(make_user) -> dict[str, RewardEntry]:
    """Pending entries in points and in coins, and a held one, of owners with known phones."""
    make_rule(
        at=RULES_FROM, referrer_amount=100, referee_amount=0, auto_credit_days=None, unit="points"
    )
    points_owner = make_user(phone="+79161110001")
    record_referral(referral=make_user(), owner=points_owner, at=START)
    record_referral(referral=make_user(), owner=points_owner, at=START + MINUTE)
    make_rule(
        at=RULES_FROM, referrer_amount=7, referee_amount=0, auto_credit_days=None, unit="coins"
    )
    coins_owner = make_user(phone="+79162220002")
    record_referral(referral=make_user(), owner=coins_owner, at=START + 2 * MINUTE)
    points = RewardEntry.objects.filter(user=points_owner).order_by("created_at")
    held = points[1]
    RewardEntry.objects.filter(pk=held.pk).update(state="held", risk_signals=["same_ip"])
    return {
        "pending": points[0],
        "held": RewardEntry.objects.get(pk=held.pk),
        "coins": RewardEntry.objects.get(user=coins_owner),
    }


# ---------------------------------------------------------------- the changelist


def test_admin_entries_changelist_lists_every_entry(admin: Client, ledger) -> None:
    response = admin.get(reverse(ENTRIES))

    assert listed(response) == {entry.pk for entry in ledger.values()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state__exact": "held"}, {"held"}),
        ({"state__exact": "pending"}, {"pending", "coins"}),
        ({"state__exact": "credited"}, set()),
        ({"unit": "coins"}, {"coins"}),
        ({"unit": "points"}, {"pending", "held"}),
        ({"unit": "points", "state__exact": "pending"}, {"pending"}),
    ],
)
def test_admin_entries_changelist_filters_by_state_and_unit(
    admin: Client, ledger, query: dict[str, str], expected: set[str]
) -> None:
    response = admin.get(reverse(ENTRIES), query)

    assert listed(response) == {ledger[name].pk for name in expected}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("+79161110001", {"pending", "held"}),
        ("+79162220002", {"coins"}),
        ("+79169999999", set()),
    ],
)
def test_admin_entries_changelist_searches_by_owner_phone(
    admin: Client, ledger, search: str, expected: set[str]
) -> None:
    response = admin.get(reverse(ENTRIES), {"q": search})

    assert listed(response) == {ledger[name].pk for name in expected}


def test_admin_entries_changelist_searches_by_referral_phone(admin: Client, ledger) -> None:
    response = admin.get(reverse(ENTRIES), {"q": ledger["coins"].referral.phone})

    assert listed(response) == {ledger["coins"].pk}


def test_admin_entries_changelist_is_refused_to_a_non_staff_user(
    client: Client, make_user, ledger
) -> None:
    client.force_login(make_user())

    response = client.get(reverse(ENTRIES))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# ---------------------------------------------------------------- bulk actions


def act(admin: Client, action: str, entries: list[RewardEntry]) -> Any:
    return admin.post(
        reverse(ENTRIES),
        {"action": action, "_selected_action": [entry.pk for entry in entries]},
    )


def test_admin_credit_selected_credits_through_the_service(
    admin: Client, admin_user: User, ledger
) -> None:
    owner = ledger["pending"].user

    with time_machine.travel(START + timedelta(days=1), tick=False):
        response = act(admin, "credit_selected", [ledger["pending"], ledger["held"]])

    assert response.status_code == 302
    assert messages_of(response) == ["2 entries done."]
    for name in ("pending", "held"):
        entry = RewardEntry.objects.get(pk=ledger[name].pk)
        assert (entry.state, entry.credited_by, entry.credited_at) == (
            "credited",
            admin_user,
            START + timedelta(days=1),
        )
    assert balance(owner) == (0, 200, 0)
    assert RewardEntry.objects.get(pk=ledger["coins"].pk).state == "pending"


def test_admin_reverse_selected_reverses_through_the_service(
    admin: Client, admin_user: User, ledger
) -> None:
    with time_machine.travel(START + timedelta(days=1), tick=False):
        response = act(admin, "reverse_selected", [ledger["held"], ledger["coins"]])

    assert response.status_code == 302
    assert messages_of(response) == ["2 entries done."]
    for name in ("held", "coins"):
        entry = RewardEntry.objects.get(pk=ledger[name].pk)
        assert (entry.state, entry.reversed_by, entry.reversed_at, entry.reversal_reason) == (
            "reversed",
            admin_user,
            START + timedelta(days=1),
            ADMIN_REVERSAL_REASON,
        )
    assert balance(ledger["held"].user) == (100, 0, 100)
    assert balance(ledger["coins"].user, "coins") == (0, 0, 7)


def test_admin_credit_selected_refuses_a_reversed_entry_and_reports_it(
    admin: Client, admin_user: User, ledger
) -> None:
    reward_reverse(entry_id=ledger["held"].pk, staff=None, reason="fraud")

    response = act(admin, "credit_selected", [ledger["pending"], ledger["held"]])

    refused = RewardEntry.objects.get(pk=ledger["held"].pk)
    assert messages_of(response) == ["1 entries done.", "1 entries refused (reversed)."]
    assert (refused.state, refused.credited_by, refused.credited_at) == ("reversed", None, None)
    assert RewardEntry.objects.get(pk=ledger["pending"].pk).credited_by == admin_user
    assert balance(ledger["pending"].user) == (0, 100, 100)


def test_admin_reverse_selected_twice_changes_nothing_the_second_time(
    admin: Client, ledger
) -> None:
    act(admin, "reverse_selected", [ledger["pending"]])
    admin.get(reverse(ENTRIES))  # shows (and so clears) the first action's messages
    first = RewardEntry.objects.get(pk=ledger["pending"].pk)

    response = act(admin, "reverse_selected", [ledger["pending"]])

    second = RewardEntry.objects.get(pk=ledger["pending"].pk)
    assert messages_of(response) == ["1 entries done."]
    assert (second.reversed_at, second.state) == (first.reversed_at, "reversed")
    assert balance(ledger["pending"].user) == (100, 0, 100)


def test_admin_entries_cannot_be_deleted_in_bulk(admin: Client, ledger) -> None:
    changelist = admin.get(reverse(ENTRIES))

    response = act(admin, "delete_selected", list(ledger.values()))

    actions = [name for name, _ in changelist.context["action_form"].fields["action"].choices]
    assert actions == ["", "credit_selected", "reverse_selected"]
    assert RewardEntry.objects.count() == 3
    assert messages_of(response) == ["No action selected."]


# ---------------------------------------------------------------- entries are read only


def test_admin_entries_cannot_be_added(admin: Client, ledger) -> None:
    response = admin.get(reverse("admin:rewards_rewardentry_add"))

    assert response.status_code == 403


def test_admin_entry_cannot_be_deleted(admin: Client, ledger) -> None:
    url = reverse("admin:rewards_rewardentry_delete", args=[ledger["pending"].pk])

    shown = admin.get(url)
    posted = admin.post(url, {"post": "yes"})

    assert (shown.status_code, posted.status_code) == (403, 403)
    assert RewardEntry.objects.filter(pk=ledger["pending"].pk).exists()


def test_admin_entry_change_form_changes_nothing(admin: Client, ledger) -> None:
    entry = ledger["pending"]
    url = reverse("admin:rewards_rewardentry_change", args=[entry.pk])

    form = admin.get(url)
    admin.post(url, {"state": "credited", "amount": 999_999, "reversal_reason": "edited"})

    after = RewardEntry.objects.get(pk=entry.pk)
    assert form.status_code == 200
    assert list(form.context["adminform"].form.fields) == []
    assert (after.state, after.amount, after.reversal_reason) == ("pending", 100, "")


# ---------------------------------------------------------------- rules


RULE_FORM = {
    "referrer_amount": "30",
    "referee_amount": "10",
    "unit": "stars",
    "auto_credit_days": "2",
    "referrer_daily_cap": "",
}


def test_admin_rule_added_becomes_the_only_active_rule(admin: Client, admin_user: User) -> None:
    previous = make_rule()

    with time_machine.travel(START, tick=False):
        response = admin.post(reverse("admin:rewards_rewardrule_add"), RULE_FORM)

    previous.refresh_from_db()
    active = RewardRule.objects.get(is_active=True)
    assert response.status_code == 302
    assert RewardRule.objects.count() == 2
    assert (
        active.referrer_amount,
        active.referee_amount,
        active.unit,
        active.auto_credit_days,
        active.referrer_daily_cap,
        active.created_at,
        active.created_by,
    ) == (30, 10, "stars", 2, None, START, admin_user)
    assert (previous.is_active, previous.deactivated_at, previous.deactivated_by) == (
        False,
        START,
        admin_user,
    )


def test_admin_rule_added_applies_to_the_next_referral(admin: Client, make_user) -> None:
    admin.post(reverse("admin:rewards_rewardrule_add"), RULE_FORM)
    owner = make_user()

    # After the rule was added: a referral gets the rule active at its own instant.
    record_referral(referral=make_user(), owner=owner, at=datetime.now(UTC))

    entry = RewardEntry.objects.get(user=owner)
    assert (entry.amount, entry.unit, entry.state) == (30, "stars", "pending")


@pytest.mark.parametrize(
    "fields",
    [
        {"referrer_amount": "0", "referee_amount": "0"},
        {"referrer_amount": "-1"},
        {"referrer_amount": "1000000001"},
        {"unit": "Stars"},
        {"unit": "a b"},
        {"referrer_amount": "x"},
    ],
)
def test_admin_rule_invalid_form_creates_nothing(admin: Client, fields: dict[str, str]) -> None:
    previous = make_rule()

    response = admin.post(reverse("admin:rewards_rewardrule_add"), {**RULE_FORM, **fields})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert list(RewardRule.objects.all()) == [previous]
    assert RewardRule.objects.get().is_active


def test_admin_rule_is_read_only_once_created(admin: Client) -> None:
    rule = make_rule(referrer_amount=100, referee_amount=50)
    url = reverse("admin:rewards_rewardrule_change", args=[rule.pk])

    form = admin.get(url)
    posted = admin.post(url, {**RULE_FORM, "is_active": ""})

    rule.refresh_from_db()
    assert form.status_code == 200
    assert list(form.context["adminform"].form.fields) == []
    assert posted.status_code == 302
    assert (rule.referrer_amount, rule.referee_amount, rule.unit, rule.is_active) == (
        100,
        50,
        "points",
        True,
    )


def test_admin_rule_cannot_be_deleted(admin: Client) -> None:
    rule = make_rule()
    url = reverse("admin:rewards_rewardrule_delete", args=[rule.pk])

    response = admin.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert RewardRule.objects.filter(pk=rule.pk).exists()


def test_admin_balances_are_read_only(admin: Client, ledger) -> None:
    row = RewardBalance.objects.get(user=ledger["coins"].user)

    added = admin.get(reverse("admin:rewards_rewardbalance_add"))
    deleted = admin.post(
        reverse("admin:rewards_rewardbalance_delete", args=[row.pk]), {"post": "yes"}
    )
    admin.post(reverse("admin:rewards_rewardbalance_change", args=[row.pk]), {"pending": "0"})

    assert (added.status_code, deleted.status_code) == (403, 403)
    assert balance(ledger["coins"].user, "coins") == (7, 0, 0)

"""The rewards ledger through its services: rules, entries written with each referral, credits,
reversals and the credit job. Every move ends with the balances equal to the ledger."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from invites.models import ReferralDay
from invites.services import invite_activate
from rewards.audit import balance_mismatches
from rewards.exceptions import RewardNotFoundError, RewardStateConflictError
from rewards.models import RewardEntry, RewardRule
from rewards.services import (
    credit_due_rewards,
    reward_credit,
    reward_entries_for_referral,
    reward_reverse,
    reward_rule_create,
    reward_rule_deactivate,
)
from tests.factories import balance_of, create_user, make_rule, next_phone
from users.models import User
from users.services import user_sign_up

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

Refer = Callable[[User], User]


def by_activation(owner: User) -> User:
    """A new user activates `owner`'s code after signing up."""
    return invite_activate(user=create_user(), code=owner.invite_code)


def by_sign_up(owner: User) -> User:
    """A new user signs up with `owner`'s code."""
    return user_sign_up(phone=next_phone(), inviter=owner).user


@pytest.fixture(params=[by_activation, by_sign_up], ids=["activation", "sign_up"])
def refer(request: pytest.FixtureRequest) -> Refer:
    """`refer(owner)`: a new referral of `owner`, by either path a referral is recorded."""
    return request.param


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user()


def entries(**filters: Any) -> list[tuple[Any, ...]]:
    """The ledger as (user, referral, kind, rule, amount, unit, state, created, due, credited)."""
    return list(
        RewardEntry.objects.filter(**filters)
        .order_by("referral_id", "kind")
        .values_list(
            "user_id",
            "referral_id",
            "kind",
            "rule_id",
            "amount",
            "unit",
            "state",
            "created_at",
            "credit_due_at",
            "credited_at",
        )
    )


def held_entries(owner: User, referral: User, signals: list[str]) -> None:
    """The entries of a referral flagged by the abuse checks, written as referral_record does."""
    with transaction.atomic():
        reward_entries_for_referral(
            referral=referral, owner=owner, at=timezone.now(), risk_signals=signals
        )


# ---------------------------------------------------------------- rules


def test_reward_rule_create_deactivates_the_previous_rule(staff_user: User) -> None:
    with time_machine.travel(START, tick=False) as clock:
        first = make_rule()
        clock.shift(timedelta(minutes=5))

        second = reward_rule_create(staff=staff_user, referrer_amount=7, referee_amount=3)

    first.refresh_from_db()
    assert (first.is_active, first.deactivated_at, first.deactivated_by) == (
        False,
        START + timedelta(minutes=5),
        staff_user,
    )
    assert (second.is_active, second.created_at, second.created_by) == (
        True,
        START + timedelta(minutes=5),
        staff_user,
    )
    assert list(RewardRule.objects.filter(is_active=True)) == [second]


def test_reward_rule_create_refused_rule_keeps_the_previous_one_active() -> None:
    first = make_rule()

    # Both amounts 0: the database refuses the row; the deactivation is rolled back with it.
    with pytest.raises(IntegrityError):
        reward_rule_create(staff=None, referrer_amount=0, referee_amount=0)

    first.refresh_from_db()
    assert (first.is_active, first.deactivated_at, first.deactivated_by) == (True, None, None)
    assert RewardRule.objects.count() == 1


def test_reward_rule_second_active_row_is_refused_by_the_database() -> None:
    make_rule()

    with pytest.raises(IntegrityError), transaction.atomic():
        RewardRule.objects.create(referrer_amount=1, referee_amount=1, is_active=True)

    assert RewardRule.objects.filter(is_active=True).count() == 1


def test_reward_rule_deactivate_leaves_no_active_rule(staff_user: User) -> None:
    rule = make_rule()

    with time_machine.travel(START, tick=False):
        result = reward_rule_deactivate(rule_id=rule.pk, staff=staff_user)

    assert (result.is_active, result.deactivated_at, result.deactivated_by) == (
        False,
        START,
        staff_user,
    )
    assert not RewardRule.objects.filter(is_active=True).exists()


def test_reward_rule_deactivate_twice_keeps_the_first_deactivation(
    staff_user: User, make_user: Callable[..., User]
) -> None:
    rule = make_rule()
    with time_machine.travel(START, tick=False):
        reward_rule_deactivate(rule_id=rule.pk, staff=staff_user)

    with time_machine.travel(START + timedelta(days=1), tick=False):
        again = reward_rule_deactivate(rule_id=rule.pk, staff=make_user(is_staff=True))

    assert (again.is_active, again.deactivated_at, again.deactivated_by) == (
        False,
        START,
        staff_user,
    )


def test_reward_rule_deactivate_unknown_id_is_not_found() -> None:
    rule = make_rule()

    with pytest.raises(RewardNotFoundError):
        reward_rule_deactivate(rule_id=rule.pk + 1, staff=None)

    rule.refresh_from_db()
    assert rule.is_active


# ---------------------------------------------------------------- entries at referral time


def test_referral_writes_both_entries_with_the_rule_copied(refer: Refer, owner: User) -> None:
    rule = make_rule(referrer_amount=120, referee_amount=30, unit="coins", auto_credit_days=0)

    referral = refer(owner)

    at = referral.referred_at
    assert at is not None
    assert entries() == [
        (referral.pk, referral.pk, "referee", rule.pk, 30, "coins", "credited", at, None, at),
        (owner.pk, referral.pk, "referrer", rule.pk, 120, "coins", "credited", at, None, at),
    ]
    assert balance_of(owner, "coins") == (0, 120, 0)
    assert balance_of(referral, "coins") == (0, 30, 0)
    assert balance_mismatches() == []


@pytest.mark.parametrize(
    ("referrer_amount", "referee_amount", "kinds"),
    [(0, 50, ["referee"]), (100, 0, ["referrer"])],
)
def test_referral_amount_zero_writes_no_entry(
    refer: Refer, owner: User, referrer_amount: int, referee_amount: int, kinds: list[str]
) -> None:
    make_rule(referrer_amount=referrer_amount, referee_amount=referee_amount)

    referral = refer(owner)

    assert list(RewardEntry.objects.values_list("kind", flat=True)) == kinds
    assert balance_of(owner) == (0, referrer_amount, 0)
    assert balance_of(referral) == (0, referee_amount, 0)
    assert balance_mismatches() == []


def test_referral_without_active_rule_writes_no_entry_but_counts(refer: Refer, owner: User) -> None:
    reward_rule_deactivate(rule_id=make_rule().pk, staff=None)

    referral = refer(owner)

    assert not RewardEntry.objects.exists()
    owner.refresh_from_db()
    assert owner.referrals_count == 1
    assert User.objects.get(pk=referral.pk).referred_by_id == owner.pk
    assert list(ReferralDay.objects.values_list("owner_id", "referrals")) == [(owner.pk, 1)]
    assert balance_of(owner) == (0, 0, 0)


@pytest.mark.parametrize(
    ("auto_credit_days", "state", "due", "credited"),
    [
        (0, "credited", None, START),
        (1, "pending", START + timedelta(days=1), None),
        (14, "pending", START + timedelta(days=14), None),
        (None, "pending", None, None),
    ],
)
def test_referral_auto_credit_days_decides_state_and_due_date(
    refer: Refer,
    owner: User,
    auto_credit_days: int | None,
    state: str,
    due: datetime | None,
    credited: datetime | None,
) -> None:
    with time_machine.travel(START, tick=False):
        make_rule(auto_credit_days=auto_credit_days)

        refer(owner)

    assert list(
        RewardEntry.objects.order_by("kind").values_list(
            "kind", "state", "created_at", "credit_due_at", "credited_at"
        )
    ) == [
        ("referee", state, START, due, credited),
        ("referrer", state, START, due, credited),
    ]
    expected = (0, 100, 0) if state == "credited" else (100, 0, 0)
    assert balance_of(owner) == expected
    assert balance_mismatches() == []


def test_referral_later_rule_never_changes_existing_entries(refer: Refer, owner: User) -> None:
    first = make_rule(referrer_amount=100, referee_amount=50, auto_credit_days=None)
    earlier = refer(owner)
    before = entries()

    second = make_rule(referrer_amount=7, referee_amount=3, unit="coins", auto_credit_days=0)
    later = refer(owner)

    assert entries(referral=earlier) == before
    assert {rule for _, _, _, rule, *_ in before} == {first.pk}
    assert [
        (kind, rule, amount, unit, state)
        for _, _, kind, rule, amount, unit, state, *_ in entries(referral=later)
    ] == [
        ("referee", second.pk, 3, "coins", "credited"),
        ("referrer", second.pk, 7, "coins", "credited"),
    ]
    assert balance_of(owner) == (100, 0, 0)
    assert balance_of(owner, "coins") == (0, 7, 0)
    assert balance_mismatches() == []


def test_referral_daily_cap_counts_per_utc_day(refer: Refer, owner: User) -> None:
    with time_machine.travel(datetime(2026, 3, 1, 23, 59, 57, tzinfo=UTC), tick=False) as clock:
        make_rule(referrer_daily_cap=2)
        same_day = []
        for _ in range(3):
            same_day.append(refer(owner))
            clock.shift(timedelta(seconds=1))
        # 00:00:00 UTC on the next day: a new day, the owner earns again.
        next_day = refer(owner)

    referrer_of = list(
        RewardEntry.objects.filter(kind="referrer")
        .order_by("id")
        .values_list("referral_id", flat=True)
    )
    assert referrer_of == [same_day[0].pk, same_day[1].pk, next_day.pk]
    referees = RewardEntry.objects.filter(kind="referee").values_list("user_id", flat=True)
    assert sorted(referees) == sorted(user.pk for user in [*same_day, next_day])
    owner.refresh_from_db()
    assert owner.referrals_count == 4
    assert balance_of(owner) == (0, 300, 0)
    assert balance_mismatches() == []


def test_referral_daily_cap_counts_only_the_owners_referrer_entries(
    refer: Refer, owner: User, make_user: Callable[..., User]
) -> None:
    make_rule(referrer_daily_cap=1)
    other = make_user()
    # The owner got a referee entry today, and another owner a referrer entry: neither counts.
    invite_activate(user=owner, code=other.invite_code)

    referral = refer(owner)

    assert entries(user=owner, kind="referrer")[0][1] == referral.pk
    assert balance_of(owner) == (0, 100 + 50, 0)
    assert balance_of(other) == (0, 100, 0)


def test_reward_entries_for_referral_use_the_rule_active_at_the_referral_instant(
    make_user: Callable[..., User],
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        first = make_rule(referrer_amount=100, referee_amount=50)
        clock.shift(timedelta(hours=1))
        second = make_rule(referrer_amount=7, referee_amount=3)
        clock.shift(timedelta(hours=1))
        reward_rule_deactivate(rule_id=second.pk, staff=None)
    owner = make_user()
    referrals = [make_user() for _ in range(3)]
    instants = [START + timedelta(minutes=minutes) for minutes in (30, 90, 150)]

    # Each referral's instant was taken before the rules changed under it (it waited for locks).
    for referral, at in zip(referrals, instants, strict=True):
        with transaction.atomic():
            reward_entries_for_referral(referral=referral, owner=owner, at=at)

    assert [
        (referral, kind, rule, amount) for _, referral, kind, rule, amount, *_ in entries()
    ] == [
        (referrals[0].pk, "referee", first.pk, 50),
        (referrals[0].pk, "referrer", first.pk, 100),
        (referrals[1].pk, "referee", second.pk, 3),
        (referrals[1].pk, "referrer", second.pk, 7),
    ]
    assert balance_mismatches() == []


def test_reward_entries_for_referral_risk_signals_hold_the_entries(
    make_user: Callable[..., User],
) -> None:
    make_rule(auto_credit_days=0)
    owner, referral = make_user(), make_user()

    held_entries(owner, referral, ["same_device", "burst"])

    assert list(
        RewardEntry.objects.order_by("kind").values_list(
            "kind", "state", "risk_signals", "credit_due_at", "credited_at"
        )
    ) == [
        ("referee", "held", ["same_device", "burst"], None, None),
        ("referrer", "held", ["same_device", "burst"], None, None),
    ]
    # Held entries show as pending to their owner.
    assert balance_of(owner) == (100, 0, 0)
    assert balance_of(referral) == (50, 0, 0)
    assert balance_mismatches() == []


def test_reward_entries_for_referral_twice_is_refused_and_writes_nothing(
    make_user: Callable[..., User],
) -> None:
    make_rule()
    owner, referral = make_user(), make_user()
    with transaction.atomic():
        reward_entries_for_referral(referral=referral, owner=owner, at=timezone.now())
    before = entries()

    with pytest.raises(IntegrityError), transaction.atomic():
        reward_entries_for_referral(referral=referral, owner=owner, at=timezone.now())

    assert entries() == before
    assert balance_of(owner) == (0, 100, 0)
    assert balance_of(referral) == (0, 50, 0)
    assert balance_mismatches() == []


# ---------------------------------------------------------------- credit and reverse


def entry_in(state: str) -> RewardEntry:
    """A new referral's referrer entry (100 points, its referee's is 50) in `state`."""
    make_rule(auto_credit_days=None)
    owner, referral = create_user(), create_user()
    if state == "held":
        held_entries(owner, referral, ["same_device"])
    else:
        invite_activate(user=referral, code=owner.invite_code)
    entry = RewardEntry.objects.get(user=owner)
    if state == "credited":
        reward_credit(entry_id=entry.pk, staff=None)
    elif state == "reversed":
        reward_reverse(entry_id=entry.pk, staff=None, reason="setup")
    return RewardEntry.objects.get(pk=entry.pk)


@pytest.mark.parametrize("state", ["pending", "held"])
def test_reward_credit_pending_or_held_is_credited(staff_user: User, state: str) -> None:
    entry = entry_in(state)

    with time_machine.travel(START, tick=False):
        result = reward_credit(entry_id=entry.pk, staff=staff_user)

    entry.refresh_from_db()
    assert (entry.state, entry.credited_at, entry.credited_by) == ("credited", START, staff_user)
    assert (result.state, result.credited_at) == ("credited", START)
    assert balance_of(entry.user) == (0, 100, 0)
    assert balance_mismatches() == []


def test_reward_credit_credited_entry_is_unchanged(staff_user: User) -> None:
    with time_machine.travel(START, tick=False):
        entry = entry_in("credited")

    with time_machine.travel(START + timedelta(days=1), tick=False):
        reward_credit(entry_id=entry.pk, staff=staff_user)

    entry.refresh_from_db()
    assert (entry.state, entry.credited_at, entry.credited_by) == ("credited", START, None)
    assert balance_of(entry.user) == (0, 100, 0)
    assert balance_mismatches() == []


def test_reward_credit_reversed_entry_is_a_conflict(staff_user: User) -> None:
    entry = entry_in("reversed")

    with pytest.raises(RewardStateConflictError):
        reward_credit(entry_id=entry.pk, staff=staff_user)

    entry.refresh_from_db()
    assert (entry.state, entry.credited_at, entry.credited_by) == ("reversed", None, None)
    assert balance_of(entry.user) == (0, 0, 100)
    assert balance_mismatches() == []


@pytest.mark.parametrize("state", ["pending", "held", "credited"])
def test_reward_reverse_moves_the_amount_to_reversed(staff_user: User, state: str) -> None:
    entry = entry_in(state)

    with time_machine.travel(START, tick=False):
        result = reward_reverse(entry_id=entry.pk, staff=staff_user, reason="fake accounts")

    entry.refresh_from_db()
    assert (entry.state, entry.reversed_at, entry.reversed_by, entry.reversal_reason) == (
        "reversed",
        START,
        staff_user,
        "fake accounts",
    )
    assert result.state == "reversed"
    assert balance_of(entry.user) == (0, 0, 100)
    assert balance_mismatches() == []


def test_reward_reverse_twice_keeps_the_first_reversal(
    staff_user: User, make_user: Callable[..., User]
) -> None:
    entry = entry_in("credited")
    with time_machine.travel(START, tick=False):
        reward_reverse(entry_id=entry.pk, staff=staff_user, reason="fake accounts")

    with time_machine.travel(START + timedelta(hours=1), tick=False):
        reward_reverse(entry_id=entry.pk, staff=make_user(is_staff=True), reason="again")

    entry.refresh_from_db()
    assert (entry.state, entry.reversed_at, entry.reversed_by, entry.reversal_reason) == (
        "reversed",
        START,
        staff_user,
        "fake accounts",
    )
    assert balance_of(entry.user) == (0, 0, 100)
    assert balance_mismatches() == []


@pytest.mark.parametrize(
    "move",
    [
        lambda pk: reward_credit(entry_id=pk, staff=None),
        lambda pk: reward_reverse(entry_id=pk, staff=None, reason="x"),
    ],
    ids=["credit", "reverse"],
)
def test_reward_move_unknown_entry_is_not_found(move: Callable[[int], Any]) -> None:
    entry = entry_in("pending")

    with pytest.raises(RewardNotFoundError):
        move(entry.pk + 1000)

    assert balance_mismatches() == []


def test_reward_moves_keep_balances_equal_to_the_ledger(owner: User) -> None:
    make_rule(auto_credit_days=None)
    referrals = [by_activation(owner) for _ in range(4)]
    ids = dict(RewardEntry.objects.filter(user=owner).values_list("referral_id", "id"))
    first, second, third, _ = (ids[referral.pk] for referral in referrals)
    steps: list[tuple[Callable[[], Any], tuple[int, int, int]]] = [
        (lambda: reward_credit(entry_id=first, staff=None), (300, 100, 0)),
        (lambda: reward_credit(entry_id=second, staff=None), (200, 200, 0)),
        (lambda: reward_reverse(entry_id=second, staff=None, reason="x"), (200, 100, 100)),
        (lambda: reward_reverse(entry_id=third, staff=None, reason="x"), (100, 100, 200)),
        (lambda: reward_credit(entry_id=first, staff=None), (100, 100, 200)),
        (lambda: reward_reverse(entry_id=third, staff=None, reason="x"), (100, 100, 200)),
    ]

    seen = []
    for move, _ in steps:
        move()
        seen.append((balance_of(owner), balance_mismatches()))

    assert seen == [(expected, []) for _, expected in steps]


# ---------------------------------------------------------------- the credit job


def test_credit_due_rewards_credits_only_due_pending_entries(owner: User) -> None:
    with time_machine.travel(START, tick=False):
        make_rule(auto_credit_days=3)
        due = by_activation(owner)
        held_while_due = by_activation(owner)
        make_rule(auto_credit_days=5)
        future = by_activation(owner)
        make_rule(auto_credit_days=None)
        waiting = by_activation(owner)
    # Held entries never get a due date; even if one had, its state alone keeps it out.
    RewardEntry.objects.filter(referral=held_while_due).update(state="held")

    with time_machine.travel(START + timedelta(days=3), tick=False):
        credited = credit_due_rewards()

    assert credited == 2
    states = dict(RewardEntry.objects.filter(kind="referrer").values_list("referral_id", "state"))
    assert states == {
        due.pk: "credited",
        held_while_due.pk: "held",
        future.pk: "pending",
        waiting.pk: "pending",
    }
    assert set(
        RewardEntry.objects.filter(referral=due).values_list("credited_at", "credited_by")
    ) == {(START + timedelta(days=3), None)}
    assert balance_of(owner) == (300, 100, 0)
    assert balance_mismatches() == []


def test_credit_due_rewards_second_run_credits_nothing(owner: User) -> None:
    with time_machine.travel(START, tick=False):
        make_rule(auto_credit_days=1)
        by_activation(owner)
        by_activation(owner)

    runs = [credit_due_rewards(now=START + timedelta(days=1)) for _ in range(2)]

    assert runs == [4, 0]
    assert set(RewardEntry.objects.values_list("state", "credited_at")) == {
        ("credited", START + timedelta(days=1))
    }
    assert balance_of(owner) == (0, 200, 0)
    assert balance_mismatches() == []


def test_credit_due_rewards_more_than_one_batch_credits_all(owner: User) -> None:
    with time_machine.travel(START, tick=False):
        make_rule(auto_credit_days=1)
        for _ in range(5):
            by_activation(owner)

    credited = credit_due_rewards(now=START + timedelta(days=2), batch=3)

    assert credited == 10
    assert set(RewardEntry.objects.values_list("state", flat=True)) == {"credited"}
    assert balance_of(owner) == (0, 500, 0)
    assert balance_mismatches() == []

"""The rewards ledger under real concurrency: threads, separate connections, real PostgreSQL.

Each race runs in several rounds (a lost race is likely, not certain, to show in one round), and
every test ends with the balances equal to the ledger.
"""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from invites import services as invite_services
from invites.audit import referral_mismatches
from invites.services import invite_activate
from referral_api.errors import ApplicationError
from rewards.audit import balance_mismatches
from rewards.exceptions import RewardStateConflictError
from rewards.models import RewardBalance, RewardEntry, RewardRule
from rewards.services import (
    CREDIT_BATCH,
    credit_due_rewards,
    reward_credit,
    reward_entries_for_referral,
    reward_reverse,
    reward_rule_create,
)
from tests.concurrency import run_concurrently
from tests.factories import balance_of, create_user, make_rule, next_phone, user_recipe
from users.models import User
from users.services import user_sign_up

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = range(4)
CROWD = 20
RULES_MEANWHILE = 10


def load(pk: int) -> User:
    return User.objects.select_related("referred_by").get(pk=pk)


def outcome(result: Any) -> str:
    """A thread's result in one word: ok, the error code of a refusal, or the surprise itself."""
    if isinstance(result, User | RewardEntry | RewardRule | list):
        return "ok"
    if isinstance(result, ApplicationError):
        return result.code
    return repr(result)


def crowd_activates(owner: User, crowd: list[User]) -> list[str]:
    """Every user of `crowd` activates `owner`'s code at the same moment."""
    results = run_concurrently(
        len(crowd),
        lambda index: invite_activate(user=load(crowd[index].pk), code=owner.invite_code),
    )
    return [outcome(result) for result in results]


def kinds_of(owner: User) -> Counter[str]:
    """How many referrer entries `owner` has, and referee entries its referrals have."""
    return Counter(
        RewardEntry.objects.filter(referral__referred_by=owner).values_list("kind", flat=True)
    )


def audit() -> list[str]:
    """What `manage.py check_rewards` reports: balances, referral counters, leaderboards."""
    return balance_mismatches() + referral_mismatches(now=timezone.now())


# ---------------------------------------------------------------- one owner, many referrals


def test_invite_activate_crowd_on_one_code_writes_every_entry() -> None:
    make_rule(referrer_amount=100, referee_amount=50)
    rounds = [(create_user(), [create_user() for _ in range(CROWD)]) for _ in ROUNDS]

    results = [crowd_activates(owner, crowd) for owner, crowd in rounds]

    assert results == [["ok"] * CROWD] * len(ROUNDS)
    for owner, crowd in rounds:
        assert kinds_of(owner) == {"referrer": CROWD, "referee": CROWD}
        assert load(owner.pk).referrals_count == CROWD
        assert balance_of(owner) == (0, CROWD * 100, 0)
        assert {balance_of(user) for user in crowd} == {(0, 50, 0)}
    assert audit() == []


def test_invite_activate_crowd_on_one_code_respects_the_daily_cap() -> None:
    make_rule(referrer_amount=100, referee_amount=50, referrer_daily_cap=5)
    rounds = [(create_user(), [create_user() for _ in range(CROWD)]) for _ in ROUNDS]

    results = [crowd_activates(owner, crowd) for owner, crowd in rounds]

    assert results == [["ok"] * CROWD] * len(ROUNDS)
    for owner, _ in rounds:
        assert kinds_of(owner) == {"referrer": 5, "referee": CROWD}
        assert load(owner.pk).referrals_count == CROWD
        assert balance_of(owner) == (0, 500, 0)
    assert audit() == []


def test_user_sign_up_crowd_with_one_code_respects_the_daily_cap() -> None:
    make_rule(referrer_amount=100, referee_amount=50, referrer_daily_cap=5)
    owners = [create_user() for _ in ROUNDS]

    def sign_up_crowd(owner: User) -> list[Any]:
        phones = [next_phone() for _ in range(CROWD)]
        return run_concurrently(
            CROWD, lambda index: user_sign_up(phone=phones[index], inviter=owner).user
        )

    results = [sign_up_crowd(owner) for owner in owners]

    assert [[outcome(result) for result in got] for got in results] == [["ok"] * CROWD] * len(
        ROUNDS
    )
    for owner in owners:
        assert kinds_of(owner) == {"referrer": 5, "referee": CROWD}
        assert load(owner.pk).referrals_count == CROWD
    assert audit() == []


# ---------------------------------------------------------------- retries and duplicates


def test_invite_activate_same_user_twice_at_once_writes_one_pair() -> None:
    make_rule()
    rounds = [(create_user(), create_user()) for _ in range(8)]

    def activate_twice(user: User, owner: User) -> list[Any]:
        return run_concurrently(
            2, lambda _: invite_activate(user=load(user.pk), code=owner.invite_code)
        )

    results = [activate_twice(user, owner) for user, owner in rounds]

    assert [sorted(map(outcome, got)) for got in results] == [
        ["invite_already_activated", "ok"]
    ] * 8
    for user, owner in rounds:
        assert load(owner.pk).referrals_count == 1
        assert Counter(
            RewardEntry.objects.filter(referral=user).values_list("kind", flat=True)
        ) == {"referrer": 1, "referee": 1}
        assert balance_of(owner) == (0, 100, 0)
    assert audit() == []


def test_user_sign_up_same_phone_twice_at_once_writes_one_pair() -> None:
    make_rule()
    owners = [create_user() for _ in range(8)]

    def sign_up_twice(owner: User) -> list[Any]:
        phone = next_phone()
        return run_concurrently(2, lambda _: user_sign_up(phone=phone, inviter=owner).user)

    results = [sign_up_twice(owner) for owner in owners]

    assert [sorted(type(result).__name__ for result in got) for got in results] == [
        ["IntegrityError", "User"]
    ] * 8
    for owner in owners:
        assert load(owner.pk).referrals_count == 1
        assert kinds_of(owner) == {"referrer": 1, "referee": 1}
        assert balance_of(owner) == (0, 100, 0)
    assert audit() == []


def test_reward_entries_for_referral_twice_at_once_writes_one_pair() -> None:
    make_rule()
    rounds = [(create_user(), create_user()) for _ in range(8)]

    def write_twice(owner: User, referral: User) -> list[Any]:
        def write(_: int) -> list[RewardEntry]:
            with transaction.atomic():
                return reward_entries_for_referral(
                    referral=referral, owner=owner, at=timezone.now()
                )

        return run_concurrently(2, write)

    results = [write_twice(owner, referral) for owner, referral in rounds]

    assert [sorted(type(result).__name__ for result in got) for got in results] == [
        ["IntegrityError", "list"]
    ] * 8
    for owner, referral in rounds:
        assert RewardEntry.objects.filter(referral=referral).count() == 2
        assert (balance_of(owner), balance_of(referral)) == ((0, 100, 0), (0, 50, 0))
    assert balance_mismatches() == []


# ---------------------------------------------------------------- rules changing meanwhile


def test_reward_rule_create_twice_at_once_leaves_one_active() -> None:
    results = [
        run_concurrently(
            2,
            lambda index: reward_rule_create(
                staff=None, referrer_amount=10 + index, referee_amount=1
            ),
        )
        for _ in range(8)
    ]

    assert [[outcome(result) for result in got] for got in results] == [["ok", "ok"]] * 8
    rules = list(RewardRule.objects.order_by("created_at", "id"))
    assert [rule.is_active for rule in rules] == [False] * 15 + [True]
    # Every rule but the last one was deactivated by the next one, at the instant it began.
    assert [rule.deactivated_at for rule in rules[:-1]] == [rule.created_at for rule in rules[1:]]


def test_invite_activate_while_a_rule_is_created_uses_the_rule_active_then() -> None:
    rounds = []
    for round_ in ROUNDS:
        make_rule(referrer_amount=100 + round_, referee_amount=50)
        owner, crowd = create_user(), [create_user() for _ in range(CROWD)]

        def work(index: int, owner: User = owner, crowd: list[User] = crowd) -> Any:
            if index == CROWD:
                # One rule after the other while the activations queue on the owner's row.
                return [
                    reward_rule_create(staff=None, referrer_amount=k, referee_amount=k)
                    for k in range(1, RULES_MEANWHILE + 1)
                ]
            return invite_activate(user=load(crowd[index].pk), code=owner.invite_code)

        rounds.append(run_concurrently(CROWD + 1, work))

    assert [[outcome(result) for result in got] for got in rounds] == [["ok"] * (CROWD + 1)] * len(
        ROUNDS
    )
    wrong = []
    for entry in RewardEntry.objects.select_related("rule"):
        rule = entry.rule
        amount = rule.referrer_amount if entry.kind == "referrer" else rule.referee_amount
        active_then = rule.created_at <= entry.created_at and (
            rule.deactivated_at is None or entry.created_at < rule.deactivated_at
        )
        if (entry.amount, entry.unit) != (amount, rule.unit) or not active_then:
            wrong.append((entry.pk, entry.kind, entry.created_at, rule.pk, str(rule)))
    assert wrong == []
    assert RewardEntry.objects.count() == 2 * CROWD * len(ROUNDS)
    assert audit() == []


def test_invite_activate_rule_created_after_its_instant_uses_the_rule_active_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = make_rule(referrer_amount=100, referee_amount=50)
    owner, user = create_user(), create_user()
    reached, created = threading.Event(), threading.Event()
    original = invite_services.reward_entries_for_referral

    def after_a_rule_change(**kwargs: Any) -> list[RewardEntry]:
        # The referral's instant is taken and its rows are locked; a new rule is created before
        # it reads the rules: the worst interleaving, for sure. Only a delay; nothing is replaced.
        reached.set()
        created.wait(timeout=10)
        return original(**kwargs)

    monkeypatch.setattr(invite_services, "reward_entries_for_referral", after_a_rule_change)

    def work(index: int) -> Any:
        if index == 0:
            return invite_activate(user=load(user.pk), code=owner.invite_code)
        reached.wait(timeout=10)
        rule = reward_rule_create(staff=None, referrer_amount=7, referee_amount=3)
        created.set()
        return rule

    activated, new = run_concurrently(2, work)

    assert (outcome(activated), outcome(new)) == ("ok", "ok")
    assert activated.referred_at < new.created_at
    assert sorted(
        RewardEntry.objects.filter(referral=user).values_list("kind", "rule_id", "amount")
    ) == [("referee", old.pk, 50), ("referrer", old.pk, 100)]
    assert audit() == []


# ---------------------------------------------------------------- credits and reversals


def pending_entries(count: int) -> tuple[User, list[int]]:
    """An owner with `count` pending referrer entries of 100 points (referees' are 50)."""
    make_rule(auto_credit_days=None)
    owner = create_user()
    for _ in range(count):
        invite_activate(user=create_user(), code=owner.invite_code)
    ids = RewardEntry.objects.filter(user=owner).order_by("id").values_list("id", flat=True)
    return owner, list(ids)


def test_reward_credit_ten_times_at_once_moves_the_amount_once() -> None:
    owner, ids = pending_entries(5)
    staff = [create_user(is_staff=True) for _ in range(10)]

    def credit_ten_times(pk: int) -> list[Any]:
        return run_concurrently(10, lambda index: reward_credit(entry_id=pk, staff=staff[index]))

    results = [credit_ten_times(pk) for pk in ids]

    assert [[outcome(result) for result in got] for got in results] == [["ok"] * 10] * len(ids)
    assert {result.state for got in results for result in got} == {"credited"}
    for pk, got in zip(ids, results, strict=True):
        entry = RewardEntry.objects.get(pk=pk)
        # One move, by one staff member: every caller saw that same move.
        assert entry.credited_by in staff
        assert {(result.credited_by_id, result.credited_at) for result in got} == {
            (entry.credited_by_id, entry.credited_at)
        }
    assert balance_of(owner) == (0, 500, 0)
    assert balance_mismatches() == []


def test_reward_credit_racing_reverse_ends_reversed_and_balanced() -> None:
    owner, ids = pending_entries(50)
    staff = create_user(is_staff=True)

    def credit_and_reverse(pk: int) -> list[Any]:
        moves: list[Callable[[], Any]] = [
            lambda: reward_credit(entry_id=pk, staff=staff),
            lambda: reward_reverse(entry_id=pk, staff=staff, reason="fraud"),
        ]
        return run_concurrently(2, lambda index: moves[index]())

    seen = []
    for pk in ids:
        credit, reverse = credit_and_reverse(pk)
        seen.append(
            (
                # Credit then reverse, or reverse first and the credit refused.
                isinstance(credit, RewardEntry | RewardStateConflictError),
                isinstance(reverse, RewardEntry),
                balance_of(owner),
                balance_mismatches(),
            )
        )

    assert seen == [(True, True, (100 * (50 - done), 0, 100 * done), []) for done in range(1, 51)]
    entries = RewardEntry.objects.filter(pk__in=ids)
    assert set(entries.values_list("state", "reversed_by", "reversal_reason")) == {
        ("reversed", staff.pk, "fraud")
    }
    assert balance_of(owner) == (0, 0, 5000)


@pytest.mark.parametrize("batch", [CREDIT_BATCH, 37])
def test_credit_due_rewards_twice_at_once_credits_each_entry_once(batch: int) -> None:
    due = datetime(2026, 3, 1, tzinfo=UTC)
    rule = make_rule(auto_credit_days=3)
    owners = user_recipe.make(_quantity=10, _bulk_create=True)
    referrals = user_recipe.make(_quantity=500, _bulk_create=True)
    entries = []
    for index, referral in enumerate(referrals):
        pair = [(owners[index % 10], "referrer", 100), (referral, "referee", 50)]
        entries += [
            RewardEntry(
                user=user,
                referral=referral,
                kind=kind,
                rule=rule,
                amount=amount,
                unit="points",
                state="pending",
                created_at=due - timedelta(days=3),
                credit_due_at=due,
            )
            for user, kind, amount in pair
        ]
    RewardEntry.objects.bulk_create(entries)
    RewardBalance.objects.bulk_create(
        [RewardBalance(user=owner, unit="points", pending=50 * 100) for owner in owners]
        + [RewardBalance(user=referral, unit="points", pending=50) for referral in referrals]
    )
    assert balance_mismatches() == []

    results = run_concurrently(2, lambda _: credit_due_rewards(now=due, batch=batch))

    assert all(isinstance(result, int) for result in results), results
    assert sum(results) == 1000
    assert set(RewardEntry.objects.values_list("state", "credited_at")) == {("credited", due)}
    assert {balance_of(owner) for owner in owners} == {(0, 5000, 0)}
    assert balance_mismatches() == []

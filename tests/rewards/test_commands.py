"""The operators' commands: the credit job, the counters' audit and the leaderboards' rebuild."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import F
from django_redis import get_redis_connection

from invites import leaderboard
from invites.leaderboard import Period
from invites.models import ReferralDay
from invites.services import invite_activate
from rewards.models import RewardBalance
from tests.factories import create_user, make_rule
from users.models import User

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # a Wednesday
ALL_GOOD = "every counter agrees with the ledger and the referrals\n"


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


@pytest.fixture
def at_start() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as clock:
        yield clock


@pytest.fixture
def referred(
    at_start: time_machine.Traveller,
    django_capture_on_commit_callbacks: Any,
) -> tuple[User, User]:
    """An owner and the user who activated its code, with the leaderboards fed after commit."""
    make_rule(referrer_amount=100, referee_amount=50)
    owner, user = create_user(), create_user()
    with django_capture_on_commit_callbacks(execute=True):
        invite_activate(user=user, code=owner.invite_code)
    return owner, user


# ---------------------------------------------------------------- credit_due_rewards


def test_credit_due_rewards_command_reports_how_many(at_start: time_machine.Traveller) -> None:
    make_rule(auto_credit_days=2)
    owner = create_user()
    for _ in range(3):
        invite_activate(user=create_user(), code=owner.invite_code)
    at_start.shift(timedelta(days=2))

    first, second = run("credit_due_rewards"), run("credit_due_rewards")

    assert (first, second) == ("credited 6 reward entries\n", "credited 0 reward entries\n")
    assert RewardBalance.objects.get(user=owner).credited == 300


# ---------------------------------------------------------------- check_rewards


def test_check_rewards_consistent_prints_the_all_good_line(referred: tuple[User, User]) -> None:
    assert run("check_rewards") == ALL_GOOD


def test_check_rewards_empty_database_prints_the_all_good_line(
    at_start: time_machine.Traveller,
) -> None:
    assert run("check_rewards") == ALL_GOOD


def tamper_balance(owner: User) -> str:
    RewardBalance.objects.filter(user=owner).update(credited=F("credited") + 1)
    found = {"pending": 0, "credited": 101, "reversed": 0}
    ledger = {"pending": 0, "credited": 100, "reversed": 0}
    return f"balance of user {owner.pk} in points: {found}, ledger {ledger}"


def tamper_missing_balance(owner: User) -> str:
    RewardBalance.objects.filter(user=owner).delete()
    found = {"pending": 0, "credited": 0, "reversed": 0}
    ledger = {"pending": 0, "credited": 100, "reversed": 0}
    return f"balance of user {owner.pk} in points: {found}, ledger {ledger}"


def tamper_referrals_count(owner: User) -> str:
    User.objects.filter(pk=owner.pk).update(referrals_count=5)
    return f"user {owner.pk}: referrals_count 5, referrals 1"


def tamper_referral_day(owner: User) -> str:
    ReferralDay.objects.filter(owner=owner).update(referrals=2)
    return f"user {owner.pk} on {START.date()}: per-day count 2, referrals 1"


def tamper_missing_referral_day(owner: User) -> str:
    ReferralDay.objects.filter(owner=owner).delete()
    return f"user {owner.pk} on {START.date()}: per-day count 0, referrals 1"


def tamper_leaderboard(owner: User) -> str:
    get_redis_connection("default").zincrby(f"{leaderboard.KEY_PREFIX}:all", 1, owner.pk)
    return f"leaderboard all: users [{owner.pk}] differ from PostgreSQL"


def tamper_week_leaderboard(owner: User) -> str:
    get_redis_connection("default").delete(f"{leaderboard.KEY_PREFIX}:week:2026-W11")
    return f"leaderboard week: users [{owner.pk}] differ from PostgreSQL"


@pytest.mark.parametrize(
    "tamper",
    [
        tamper_balance,
        tamper_missing_balance,
        tamper_referrals_count,
        tamper_referral_day,
        tamper_missing_referral_day,
        tamper_leaderboard,
        tamper_week_leaderboard,
    ],
)
def test_check_rewards_tampered_counter_is_listed_and_fails(
    referred: tuple[User, User], tamper: Callable[[User], str]
) -> None:
    owner, _ = referred
    mismatch = tamper(owner)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_rewards", stdout=out)

    assert out.getvalue() == f"{mismatch}\n"
    assert str(raised.value) == "1 counters disagree with the rows they count"


def test_check_rewards_several_mismatches_are_all_listed(referred: tuple[User, User]) -> None:
    owner, _ = referred
    mismatches = [tamper_balance(owner), tamper_referrals_count(owner), tamper_leaderboard(owner)]
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_rewards", stdout=out)

    assert out.getvalue().splitlines() == mismatches
    assert str(raised.value) == "3 counters disagree with the rows they count"


# ---------------------------------------------------------------- rebuild_leaderboards


def test_rebuild_leaderboards_restores_flushed_sets(
    at_start: time_machine.Traveller,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second = create_user(), create_user()
    with django_capture_on_commit_callbacks(execute=True):
        at_start.move_to(START - timedelta(days=40))  # all time only
        invite_activate(user=create_user(), code=first.invite_code)
        at_start.move_to(START - timedelta(days=5))  # this month, not this week
        invite_activate(user=create_user(), code=second.invite_code)
        at_start.move_to(START)
        invite_activate(user=create_user(), code=first.invite_code)
        invite_activate(user=create_user(), code=second.invite_code)
    fed = {period: leaderboard.stored_scores(period=period, now=START) for period in Period}
    get_redis_connection("default").flushdb()

    output = run("rebuild_leaderboards")

    assert output == "all: 2 users ranked\nmonth: 2 users ranked\nweek: 2 users ranked\n"
    restored = {period: leaderboard.stored_scores(period=period, now=START) for period in Period}
    assert restored == {
        period: leaderboard.expected_scores(period=period, now=START) for period in Period
    }
    assert (
        restored
        == fed
        == {
            Period.ALL: {first.pk: 2, second.pk: 2},
            Period.MONTH: {first.pk: 1, second.pk: 2},
            Period.WEEK: {first.pk: 1, second.pk: 1},
        }
    )
    assert run("check_rewards") == ALL_GOOD


def test_rebuild_leaderboards_empty_period_deletes_a_stale_set(
    at_start: time_machine.Traveller,
) -> None:
    stale = create_user()
    get_redis_connection("default").zadd(f"{leaderboard.KEY_PREFIX}:all", {str(stale.pk): 3})

    output = run("rebuild_leaderboards")

    assert output == "all: 0 users ranked\nmonth: 0 users ranked\nweek: 0 users ranked\n"
    assert leaderboard.stored_scores(period=Period.ALL, now=START) == {}

"""The referral counters against the referrals: what `manage.py check_rewards` also verifies."""

from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, F
from django.db.models.functions import TruncDate

from invites import leaderboard
from invites.models import ReferralDay
from users.models import User


def referral_mismatches(*, now: datetime) -> list[str]:
    """Counters that differ from the referrals: users' counts, per-day counts, leaderboards."""
    problems = [
        f"user {user_id}: referrals_count {stored}, referrals {actual}"
        for user_id, stored, actual in User.objects.annotate(actual=Count("referrals"))
        .exclude(referrals_count=F("actual"))
        .values_list("id", "referrals_count", "actual")
    ]
    actual_days: dict[tuple[Any, Any], int] = {
        (row["referred_by"], row["day"]): row["n"]
        for row in User.objects.filter(referred_by__isnull=False)
        .annotate(day=TruncDate("referred_at", tzinfo=UTC))
        .values("referred_by", "day")
        .annotate(n=Count("id"))
    }
    stored_days: dict[tuple[Any, Any], int] = {
        (owner_id, day): count
        for owner_id, day, count in ReferralDay.objects.values_list("owner_id", "date", "referrals")
    }
    problems += [
        f"user {owner} on {day}: per-day count {stored_days.get((owner, day), 0)}, "
        f"referrals {actual_days.get((owner, day), 0)}"
        for owner, day in sorted(actual_days.keys() | stored_days.keys())
        if stored_days.get((owner, day), 0) != actual_days.get((owner, day), 0)
    ]
    for period in leaderboard.Period:
        expected = leaderboard.expected_scores(period=period, now=now)
        stored = leaderboard.stored_scores(period=period, now=now)
        if expected != stored:
            differing = sorted(
                expected.keys() ^ stored.keys()
                | {
                    user
                    for user in expected.keys() & stored.keys()
                    if expected[user] != stored[user]
                }
            )
            problems.append(f"leaderboard {period}: users {differing[:20]} differ from PostgreSQL")
    return problems

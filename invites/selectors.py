from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet

from invites.exceptions import InviteCodeNotFoundError
from invites.models import ReferralDay
from users.models import User

TIMELINE_DAYS = 30


def invite_owner(*, code: str) -> User:
    """The user whose invite code this is (codes are stored upper case)."""
    try:
        return User.objects.get(invite_code=code.strip().upper())
    except User.DoesNotExist:
        raise InviteCodeNotFoundError() from None


def referrals_of(*, user: User) -> QuerySet[User]:
    """Users who activated `user`'s code, newest first (served by the referrals index)."""
    return User.objects.filter(referred_by=user).order_by("-referred_at", "-id")


@dataclass(frozen=True)
class ReferralStats:
    referrals_count: int
    referrals_last_7_days: int
    referrals_last_30_days: int
    timeline: list[tuple[date, int]]


def referral_stats(*, user: User, today: date) -> ReferralStats:
    """Counts and the 30-day timeline (oldest first, ending `today`): at most 30 index rows."""
    first = today - timedelta(days=TIMELINE_DAYS - 1)
    per_day = dict(
        ReferralDay.objects.filter(owner=user, date__gte=first, date__lte=today).values_list(
            "date", "referrals"
        )
    )
    timeline = [
        (day, per_day.get(day, 0))
        for day in (first + timedelta(days=offset) for offset in range(TIMELINE_DAYS))
    ]
    return ReferralStats(
        referrals_count=user.referrals_count,
        referrals_last_7_days=sum(count for _, count in timeline[-7:]),
        referrals_last_30_days=sum(count for _, count in timeline),
        timeline=timeline,
    )


def phones_of(*, user_ids: list[int]) -> dict[int, str]:
    """Phones of the given users, in one query."""
    return dict(User.objects.filter(pk__in=user_ids).values_list("id", "phone"))

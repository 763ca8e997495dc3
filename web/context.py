"""What the profile page shows, read through the API's own selectors, pagination and rules."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from invites.pagination import ReferralCursorPagination
from invites.selectors import ReferralStats, referral_stats, referrals_of
from rewards.models import RewardBalance, RewardEntry
from rewards.selectors import reward_balances_of, reward_entries_of
from rewards.serializers import RewardEntrySerializer
from users.models import User

# Reward entries the profile lists (the newest); the API pages through all of them.
LATEST_ENTRIES = 5
# The stats chart's drawing area, in SVG user units (the page scales it to its width).
CHART_WIDTH = 600
CHART_HEIGHT = 120
BAR_GAP = 4

STATE_NAMES = {
    RewardEntry.State.PENDING: _("pending"),
    RewardEntry.State.CREDITED: _("credited"),
    RewardEntry.State.REVERSED: _("reversed"),
}
KIND_NAMES = {
    RewardEntry.Kind.REFERRER: _("for inviting"),
    RewardEntry.Kind.REFEREE: _("for accepting an invitation"),
}


@dataclass(frozen=True)
class ReferralsPage:
    rows: list[User]
    count: int
    # Query strings (`?cursor=…`) of the neighbouring pages, or None.
    newer: str | None
    older: str | None
    error: str | None = None


def _query_of(link: str | None) -> str | None:
    # The paginator builds absolute links; the page links relative to itself.
    return None if link is None else f"?{urlsplit(link).query}"


def referrals_page(request: HttpRequest, *, user: User) -> ReferralsPage:
    """A page of the user's referrals: the API's cursor pagination on the API's selector.

    `ReferralCursorPagination` reads `cursor` and `page_size` from a DRF Request, which wraps
    this page's request as it is; the page is ordered and cut exactly as the API's.
    """
    paginator = ReferralCursorPagination()
    paginator.count = user.referrals_count
    try:
        rows = paginator.paginate_queryset(
            referrals_of(user=user).only("phone", "referred_at"), Request(request)
        )
    except ValidationError as exc:
        detail: Any = exc.detail
        messages = [str(message) for messages in detail.values() for message in messages]
        return ReferralsPage(
            rows=[], count=user.referrals_count, newer=None, older=None, error=" ".join(messages)
        )
    return ReferralsPage(
        rows=list(rows or []),
        count=user.referrals_count,
        newer=_query_of(paginator.get_previous_link()),
        older=_query_of(paginator.get_next_link()),
    )


@dataclass(frozen=True)
class EntryRow:
    kind: str
    amount: int
    unit: str
    state: str
    referral_phone: str | None
    created_at: datetime | None


def latest_entries(*, user: User) -> list[EntryRow]:
    """The newest entries as their owner sees them (held ones as pending: the API's serializer)."""
    entries = reward_entries_of(user=user)[:LATEST_ENTRIES]
    rows = []
    for item in RewardEntrySerializer(entries, many=True).data:
        rows.append(
            EntryRow(
                kind=str(KIND_NAMES.get(item["kind"], item["kind"])),
                amount=item["amount"],
                unit=item["unit"],
                state=str(STATE_NAMES.get(item["state"], item["state"])),
                referral_phone=item["referral_phone"],
                created_at=parse_datetime(item["created_at"]),
            )
        )
    return rows


def balances(*, user: User) -> list[RewardBalance]:
    return list(reward_balances_of(user=user))


@dataclass(frozen=True)
class Bar:
    day: date
    referrals: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Chart:
    stats: ReferralStats
    bars: list[Bar]
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def stats_chart(*, user: User) -> Chart:
    """The 30-day timeline of the stats endpoint as bars of an SVG chart (drawn by the page)."""
    stats = referral_stats(user=user, today=timezone.now().date())
    peak = max((count for _, count in stats.timeline), default=0)
    slot = CHART_WIDTH // len(stats.timeline)
    bars = []
    for index, (day, count) in enumerate(stats.timeline):
        # Days without referrals keep a 1-unit line, so the axis reads as 30 days.
        height = max(1, round(CHART_HEIGHT * count / peak)) if peak else 1
        bars.append(
            Bar(
                day=day,
                referrals=count,
                x=index * slot + BAR_GAP // 2,
                y=CHART_HEIGHT - height,
                width=slot - BAR_GAP,
                height=height,
            )
        )
    return Chart(stats=stats, bars=bars, peak=peak)

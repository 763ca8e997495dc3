"""Leaderboards in Redis: one sorted set per period (all time, a calendar month, an ISO week).

Fed after each referral commits (`invites.services.referral_record`), so a new referral shows
within milliseconds; `manage.py rebuild_leaderboards` recomputes them from PostgreSQL (Redis keeps
no data on disk here). Ranks are exact: equal counts share a rank, and the next rank skips.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.db.models import Count

from referral_api import redis_store
from users.models import User

KEY_PREFIX = "referral:leaderboard"
# A month's and a week's set outlive their period by a few days, then expire.
_TTL = {"month": timedelta(days=40), "week": timedelta(days=10)}


class Period(StrEnum):
    ALL = "all"
    MONTH = "month"
    WEEK = "week"


@dataclass(frozen=True)
class Standing:
    user_id: int
    rank: int | None  # None: no referral in the period, not ranked
    referrals: int


# Returns {top (member, score, member, score, …), the user's score or nil, how many score more}.
_STANDINGS_LUA = """
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
local above = 0
if score then above = redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') end
return {top, score, above}
"""


# Replaces the live set with the one built beside it (none built: no one ranks), with its
# expiry, in one step; a script because a cluster runs no RENAME in a pipeline.
_PUBLISH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
else
  redis.call('DEL', KEYS[2])
end
return 1
"""
# Members per ZADD while a set is built: a million referrers do not make one huge command.
_REBUILD_CHUNK = 10_000


def period_start(period: Period, now: datetime) -> datetime | None:
    """00:00 UTC of the first of the month, of Monday of the ISO week, or None (all time)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return None


def _key(period: Period, at: datetime) -> str:
    at = at.astimezone(UTC)
    if period is Period.MONTH:
        return f"{KEY_PREFIX}:month:{at:%Y-%m}"
    if period is Period.WEEK:
        year, week, _ = at.isocalendar()
        return f"{KEY_PREFIX}:week:{year}-W{week:02d}"
    return f"{KEY_PREFIX}:all"


def record_referral(*, owner_id: int, at: datetime) -> None:
    """Count one referral of `owner_id` in every period that contains `at`."""
    with redis_store.connection().pipeline(transaction=False) as pipe:
        for period in Period:
            key = _key(period, at)
            pipe.zincrby(key, 1, owner_id)
            if period in _TTL:
                pipe.expire(key, _TTL[period])
        pipe.execute()


def standings(
    *, period: Period, now: datetime, limit: int, user_id: int | None = None
) -> tuple[list[Standing], Standing | None]:
    """The top `limit` of the period, and (with `user_id`) that user's own standing: one script,
    one round trip."""
    raw_top, own_score, above = redis_store.run_script(
        _STANDINGS_LUA, keys=[_key(period, now)], args=[limit, user_id or 0]
    )
    top: list[Standing] = []
    pairs = zip(raw_top[::2], raw_top[1::2], strict=True)
    for position, (member, score) in enumerate(pairs, start=1):
        referrals = int(float(score))
        # Everyone above in the list has at least as many; equal counts share the first rank.
        rank = top[-1].rank if top and top[-1].referrals == referrals else position
        top.append(Standing(user_id=int(member), rank=rank, referrals=referrals))
    if user_id is None:
        return top, None
    if own_score is None:
        return top, Standing(user_id=user_id, rank=None, referrals=0)
    return top, Standing(user_id=user_id, rank=int(above) + 1, referrals=int(float(own_score)))


def expected_scores(*, period: Period, now: datetime) -> dict[int, int]:
    """What the period's set must hold, counted in PostgreSQL: owner id → referrals."""
    start = period_start(period, now)
    referred = User.objects.filter(referred_by__isnull=False)
    if start is not None:
        referred = referred.filter(referred_at__gte=start)
    per_owner = referred.values("referred_by").annotate(n=Count("id"))
    return {owner: n for owner, n in per_owner.values_list("referred_by", "n") if owner}


def stored_scores(*, period: Period, now: datetime) -> dict[int, int]:
    """What the period's set holds now: owner id → referrals."""
    members = redis_store.connection().zrange(_key(period, now), 0, -1, withscores=True)
    return {int(member): int(score) for member, score in members}  # type: ignore[str-unpack]


def rebuild(*, now: datetime) -> dict[Period, int]:
    """Recompute the current periods' sets from PostgreSQL; returns how many users each ranks.

    Each set is written under a temporary key and renamed over the live one, so readers see the
    old or the new set, never a half-built one. Referrals recorded while it runs may be missed
    until the next rebuild: run it when Redis lost its data, not on a schedule.
    """
    counts: dict[Period, int] = {}
    redis = redis_store.connection()
    for period in Period:
        scores = expected_scores(period=period, now=now)
        key = _key(period, now)
        # RENAME needs both keys in one slot of a Redis Cluster: a key whose hash tag is the
        # whole live key's name hashes exactly as the live key does.
        building = f"{{{key}}}:rebuilding"
        redis.delete(building)
        members = [(str(owner), n) for owner, n in scores.items()]
        for start in range(0, len(members), _REBUILD_CHUNK):
            redis.zadd(building, dict(members[start : start + _REBUILD_CHUNK]))
        redis_store.run_script(
            _PUBLISH_LUA,
            keys=[building, key],
            args=[int(_TTL[period].total_seconds()) if period in _TTL else 0],
        )
        counts[period] = len(scores)
    return counts

"""Leaderboards in Redis: one sorted set per period (all time, a calendar month, an ISO week).

Fed after each referral commits (`invites.services.referral_record`), so a new referral shows
within milliseconds; `manage.py rebuild_leaderboards` recomputes them from PostgreSQL (Redis keeps
no data on disk here). Ranks are exact: equal counts share a rank, and the next rank skips.

Beside each set, a hash holds its members' masked phones (what the public leaderboard shows, never
more), so a read is one script and no database query.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db.models import Count

from referral_api import redis_store
from users.models import User
from users.phone import mask_phone

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
    # The masked phone kept beside the set; None when the hash lacks it (fed before the hash
    # existed, or the hash lost): the caller reads those from PostgreSQL.
    masked_phone: str | None = None


# Returns {top (member, score, member, score, …), the user's score or nil, how many score more,
# the top's masked phones in the same order (false where the hash has none)}.
_STANDINGS_LUA = """
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
local above = 0
if score then above = redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') end
local phones = {}
if #top > 0 then
  local members = {}
  for i = 1, #top, 2 do members[#members + 1] = top[i] end
  phones = redis.call('HMGET', KEYS[2], unpack(members))
end
return {top, score, above, phones}
"""


# Replaces each live key with the one built beside it (KEYS in pairs: built, live; none built: the
# live key goes), with its expiry, in one step; a script because a cluster runs no RENAME in a
# pipeline.
_PUBLISH_LUA = """
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
    if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[i + 1], ARGV[1]) end
  else
    redis.call('DEL', KEYS[i + 1])
  end
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


def _phones_key(key: str) -> str:
    """The hash of masked phones beside the set `key`. Its hash tag is the set's whole name, so on
    a Redis Cluster it lives in the set's slot and one script reads both."""
    return f"{{{key}}}:phones"


def record_referral(*, owner_id: int, phone: str, at: datetime) -> None:
    """Count one referral of `owner_id` (whose number is `phone`) in every period that contains
    `at`, and keep the owner's masked phone beside each set."""
    masked = mask_phone(phone)
    with redis_store.connection().pipeline(transaction=False) as pipe:
        for period in Period:
            key, phones = _key(period, at), _phones_key(_key(period, at))
            pipe.zincrby(key, 1, owner_id)
            pipe.hset(phones, str(owner_id), masked)
            if period in _TTL:
                pipe.expire(key, _TTL[period])
                pipe.expire(phones, _TTL[period])
        pipe.execute()


def standings(
    *, period: Period, now: datetime, limit: int, user_id: int | None = None
) -> tuple[list[Standing], Standing | None]:
    """The top `limit` of the period, and (with `user_id`) that user's own standing: one script,
    one round trip. Each of the top carries its masked phone when the hash beside the set has it."""
    key = _key(period, now)
    raw_top, own_score, above, phones = redis_store.run_script(
        _STANDINGS_LUA, keys=[key, _phones_key(key)], args=[limit, user_id or 0]
    )
    top: list[Standing] = []
    pairs = zip(raw_top[::2], raw_top[1::2], phones, strict=True)
    for position, (member, score, phone) in enumerate(pairs, start=1):
        referrals = int(float(score))
        # Everyone above in the list has at least as many; equal counts share the first rank.
        rank = top[-1].rank if top and top[-1].referrals == referrals else position
        masked = phone.decode() if isinstance(phone, bytes) else phone
        top.append(
            Standing(user_id=int(member), rank=rank, referrals=referrals, masked_phone=masked)
        )
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


def stored_phones(*, period: Period, now: datetime) -> dict[int, str]:
    """The masked phones kept beside the period's set: owner id → masked phone."""
    fields = redis_store.connection().hgetall(_phones_key(_key(period, now)))
    return {
        int(owner): phone.decode() if isinstance(phone, bytes) else phone
        for owner, phone in fields.items()
    }


def _masked_phones(owner_ids: list[int]) -> dict[Any, str]:
    """Masked phones of the given users, read in one query: member → masked phone."""
    rows = User.objects.filter(pk__in=owner_ids).values_list("id", "phone")
    return {str(owner): mask_phone(phone) for owner, phone in rows}


def rebuild(*, now: datetime) -> dict[Period, int]:
    """Recompute the current periods' sets, and the masked phones beside them, from PostgreSQL;
    returns how many users each ranks.

    Each set and hash is written under a temporary key and renamed over the live one, so readers
    see the old or the new set, never a half-built one. Referrals recorded while it runs may be
    missed until the next rebuild: run it when Redis lost its data, not on a schedule.
    """
    counts: dict[Period, int] = {}
    redis = redis_store.connection()
    for period in Period:
        scores = expected_scores(period=period, now=now)
        key, phones = _key(period, now), _phones_key(_key(period, now))
        # RENAME needs both keys in one slot of a Redis Cluster: a key whose hash tag is the
        # whole live key's name hashes exactly as the live key does.
        building, building_phones = f"{{{key}}}:rebuilding", f"{{{key}}}:phones-rebuilding"
        redis.delete(building, building_phones)
        members = [(str(owner), n) for owner, n in scores.items()]
        for start in range(0, len(members), _REBUILD_CHUNK):
            chunk = members[start : start + _REBUILD_CHUNK]
            redis.zadd(building, dict(chunk))
            masked = _masked_phones([int(member) for member, _ in chunk])
            if masked:
                redis.hset(building_phones, mapping=masked)
        redis_store.run_script(
            _PUBLISH_LUA,
            keys=[building, key, building_phones, phones],
            args=[int(_TTL[period].total_seconds()) if period in _TTL else 0],
        )
        counts[period] = len(scores)
    return counts

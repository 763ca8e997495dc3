"""Referral abuse signals (API.md › Abuse signals): soft flags, evaluated as a referral is recorded.

A flagged referral still counts everywhere; its reward entries are held for staff. Each check is
one index probe (`users.sightings`) or one Redis window, never a scan of a user's history.
"""

from datetime import datetime
from enum import StrEnum

from django.conf import settings

from referral_api import redis_store
from users.models import Sighting, User
from users.sightings import ClientMarks, seen_recently

HOUR_MS = 3_600_000
KEY_PREFIX = "referral:abuse"

# Adds one event to a window and returns its count in the last hour, this one included, in one
# atomic step: concurrent referrals each see a distinct count. One window per script, so each
# runs in its key's own slot of a Redis Cluster; the two signals are independent decisions.
_COUNT_LUA = """
local key, now, nonce = KEYS[1], tonumber(ARGV[1]), ARGV[2]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 3600000)
redis.call('ZADD', key, now, nonce)
redis.call('PEXPIRE', key, 3600000)
return redis.call('ZCARD', key)
"""


class Signal(StrEnum):
    SAME_DEVICE = "same_device"
    SAME_IP = "same_ip"
    VELOCITY = "velocity"
    IP_BURST = "ip_burst"


def referral_signals(*, owner: User, referral: User, marks: ClientMarks, at: datetime) -> list[str]:
    """The signals raised by the request that records `referral` for `owner`."""
    signals = []
    if marks.device is not None and seen_recently(
        user_id=owner.pk, kind=Sighting.Kind.DEVICE, digest=marks.device, at=at
    ):
        signals.append(Signal.SAME_DEVICE)
    if seen_recently(user_id=owner.pk, kind=Sighting.Kind.IP, digest=marks.ip, at=at):
        signals.append(Signal.SAME_IP)
    now, nonce = redis_store.now_ms(), f"{referral.pk}"
    owner_count, ip_count = (
        redis_store.run_script(_COUNT_LUA, keys=[key], args=[now, nonce])
        for key in (f"{KEY_PREFIX}:owner:{owner.pk}", f"{KEY_PREFIX}:ip:{marks.ip}")
    )
    if owner_count > settings.REFERRALS_PER_OWNER_PER_HOUR:
        signals.append(Signal.VELOCITY)
    if ip_count > settings.REFERRALS_PER_IP_PER_HOUR:
        signals.append(Signal.IP_BURST)
    return [str(signal) for signal in signals]

"""The hourly cap on failed invite activations: a rolling window kept in Redis."""

import math
import time
import uuid

from django.conf import settings
from django_redis import get_redis_connection

from users.otp import WINDOW_WAIT_LUA

HOUR_MS = 3_600_000

# Returns the milliseconds until the window holds fewer than `limit` failures (0: allowed now).
_WAIT_SCRIPT = (
    WINDOW_WAIT_LUA
    + """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
return wait_for(key, now, window, limit)
"""
)


def _key(user_id: int) -> str:
    return f"referral:invite:failures:{user_id}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def activation_wait(*, user_id: int) -> int:
    """Whole seconds until `user_id` may try again; 0 when under the hourly failure cap."""
    script = get_redis_connection("default").register_script(_WAIT_SCRIPT)
    wait_ms = int(
        script(
            keys=[_key(user_id)],
            args=[_now_ms(), HOUR_MS, settings.INVITE_ACTIVATE_FAILURES_PER_HOUR],
        )
    )
    return math.ceil(wait_ms / 1000) if wait_ms > 0 else 0


def activation_failed(*, user_id: int) -> None:
    redis = get_redis_connection("default")
    with redis.pipeline() as pipe:
        pipe.zadd(_key(user_id), {uuid.uuid4().hex: _now_ms()})
        pipe.pexpire(_key(user_id), HOUR_MS)
        pipe.execute()

"""The hourly cap on failed invite activations: a rolling window kept in Redis."""

import math
import uuid

from django.conf import settings

from referral_api import redis_store
from referral_api.redis_store import WINDOW_WAIT_LUA

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


# Counts one failure. A script, like the check, so that on a failover topology the count waits
# for a replica (`durable`): a failover right after cannot hand out an extra try.
_FAILED_SCRIPT = """
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def _key(user_id: int) -> str:
    return f"referral:invite:failures:{user_id}"


def activation_wait(*, user_id: int) -> int:
    """Whole seconds until `user_id` may try again; 0 when under the hourly failure cap."""
    wait_ms = int(
        redis_store.run_script(
            _WAIT_SCRIPT,
            keys=[_key(user_id)],
            args=[redis_store.now_ms(), HOUR_MS, settings.INVITE_ACTIVATE_FAILURES_PER_HOUR],
        )
    )
    return math.ceil(wait_ms / 1000) if wait_ms > 0 else 0


def activation_failed(*, user_id: int) -> None:
    redis_store.run_script(
        _FAILED_SCRIPT,
        keys=[_key(user_id)],
        args=[redis_store.now_ms(), uuid.uuid4().hex, HOUR_MS],
        durable=True,
    )

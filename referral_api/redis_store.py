"""The Redis boundary: the connection, its probe, the script runner and the shared Lua pieces.

OTP storage (`users/otp.py`), the invite-activation limit (`invites/limits.py`) and the readiness
probe reach Redis only through here, so the clock, the script cache and the rolling-window
arithmetic exist once.
"""

import time
from functools import cache
from typing import Any

from django_redis import get_redis_connection
from redis import Redis
from redis.commands.core import Script

# Lua: milliseconds until the window holds fewer than `limit` events newer than now - window,
# when the event that frees a slot leaves it. Counts and ranks only, O(log n): a window may hold
# thousands of events (one IP address behind a NAT), and Redis runs one script at a time.
WINDOW_WAIT_LUA = """
local function wait_for(key, now, window, limit)
  local count = redis.call('ZCOUNT', key, '(' .. (now - window), '+inf')
  if count < limit then return 0 end
  local rank = redis.call('ZCOUNT', key, '-inf', now - window) + count - limit
  local freeing = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
  return tonumber(freeing[2]) + window - now
end
"""


def connection() -> Redis:
    """The shared client of the `default` cache (django-redis keeps its connection pool)."""
    return get_redis_connection("default")


def now_ms() -> int:
    """The application's clock in milliseconds: scripts get the time from here, not from Redis,
    so windows and expiries follow the same clock as the rest of the code (and the tests')."""
    return int(time.time() * 1000)


@cache
def _script(source: str) -> Script:
    # The Script object only keeps the source and its SHA; the client is passed on each call.
    return connection().register_script(source)


def run_script(source: str, *, keys: list[str], args: list[str | int]) -> Any:
    """Run a Lua script (EVALSHA, falling back to EVAL); returns what the script returns."""
    return _script(source)(keys=keys, args=args, client=connection())


def ping() -> bool:
    return bool(connection().ping())

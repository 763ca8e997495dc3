"""The Redis side of one-time codes: storage, attempt counting and send limits, each one atomic.

Redis holds only an HMAC of a code, never the code. Each step is one Lua script on the keys of
one hash slot, so two concurrent verifications cannot both consume a code, parallel wrong
guesses cannot exceed a limit and parallel sends cannot exceed any send limit, on one Redis as on
a Redis Cluster. Rolling windows are sorted sets of event times. The clock is the application's
(`now` is passed in), so expiry follows the same clock as the rest of the code; Redis key expiry
only cleans up afterwards.
"""

import contextlib
import math
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from referral_api import redis_store
from referral_api.redis_store import WINDOW_WAIT_LUA

KEY_PREFIX = "referral:otp"
HOUR_MS = 3_600_000


class ReservationLostError(RedisConnectionError):
    """A send's reservation vanished before its code was stored (a failover lost the write):
    the send was never counted, so it is refused like any Redis outage (503)."""


# A send is decided in one hash slot per limit, so that every limit stays exact on a Redis
# Cluster too: the phone's slot (failure cap, cooldown, hourly and daily sends), the client
# address's slot and the number range's slot each take a reservation in one atomic script that
# refuses past the limit; the code is stored only when all three hold one, and a refused send
# releases the reservations it took. A reservation counts while it is pending, so the limits can
# never be exceeded by concurrent sends; at worst a send racing one that is later refused waits
# for a reservation that is released a millisecond later. Reservations are idempotent by their
# nonce: a script that redis-py retries after a lost reply does not count twice.

# Returns {status, wait_ms}. Status: ok | locked | cooldown | phone_limit.
_PHONE_RESERVE_SCRIPT = (
    WINDOW_WAIT_LUA
    + """
local sends_key, fails_key = KEYS[1], KEYS[2]
local now, cooldown, per_hour = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local per_day, fail_cap, nonce = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local hour, day = 3600000, 86400000
if redis.call('ZSCORE', sends_key, nonce) then return {'ok', 0} end

redis.call('ZREMRANGEBYSCORE', fails_key, '-inf', now - day)
local wait = wait_for(fails_key, now, day, fail_cap)
if wait > 0 then return {'locked', wait} end

redis.call('ZREMRANGEBYSCORE', sends_key, '-inf', now - day)
local last = redis.call('ZRANGE', sends_key, -1, -1, 'WITHSCORES')
if #last > 0 and tonumber(last[2]) + cooldown > now then
  return {'cooldown', tonumber(last[2]) + cooldown - now}
end
wait = math.max(wait_for(sends_key, now, hour, per_hour), wait_for(sends_key, now, day, per_day))
if wait > 0 then return {'phone_limit', wait} end

redis.call('ZADD', sends_key, now, nonce)
redis.call('PEXPIRE', sends_key, day)
return {'ok', 0}
"""
)

# One rolling window of one key (a client address, a number range). Returns 0 with a
# reservation taken, or the milliseconds until the window has room.
_WINDOW_RESERVE_SCRIPT = (
    WINDOW_WAIT_LUA
    + """
local key, now, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, nonce = tonumber(ARGV[3]), ARGV[4]
if redis.call('ZSCORE', key, nonce) then return 0 end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local wait = wait_for(key, now, window, limit)
if wait > 0 then return wait end
redis.call('ZADD', key, now, nonce)
redis.call('PEXPIRE', key, window)
return 0
"""
)

# Stores the code of a send whose reservations all hold. Returns 1, or 0 when the phone's
# reservation is gone (its write was lost, e.g. by a failover): that send was never counted.
_COMMIT_SCRIPT = """
local code_key, sends_key = KEYS[1], KEYS[2]
local now, mac, ttl, nonce = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
if not redis.call('ZSCORE', sends_key, nonce) then return 0 end
redis.call('DEL', code_key)
redis.call('HSET', code_key, 'mac', mac, 'expires', now + ttl, 'tries', 0)
redis.call('PEXPIRE', code_key, ttl)
return 1
"""

# Returns {status, wait_ms}. Status: ok | invalid | expired | burned | locked.
# Comparing MACs with `==` may leak timing about the stored MAC, never about the code: the MAC
# cannot be computed without the secret key.
_VERIFY_SCRIPT = (
    WINDOW_WAIT_LUA
    + """
local code_key, fails_key, sends_key = KEYS[1], KEYS[2], KEYS[3]
local now, mac, max_tries = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local fail_cap, cooldown, nonce = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local day = 86400000

redis.call('ZREMRANGEBYSCORE', fails_key, '-inf', now - day)
local wait = wait_for(fails_key, now, day, fail_cap)
if wait > 0 then return {'locked', wait} end

local stored = redis.call('HMGET', code_key, 'mac', 'expires', 'tries')
if not stored[1] or tonumber(stored[2]) <= now then
  redis.call('DEL', code_key)
  return {'expired', 0}
end
if stored[1] == mac then
  redis.call('DEL', code_key)
  return {'ok', 0}
end

local tries = redis.call('HINCRBY', code_key, 'tries', 1)
redis.call('ZADD', fails_key, now, nonce)
redis.call('PEXPIRE', fails_key, day)
wait = wait_for(fails_key, now, day, fail_cap)
if wait > 0 then
  redis.call('DEL', code_key)
  return {'locked', wait}
end
if tries >= max_tries then
  redis.call('DEL', code_key)
  local last = redis.call('ZRANGE', sends_key, -1, -1, 'WITHSCORES')
  local resend = 0
  if #last > 0 then resend = tonumber(last[2]) + cooldown - now end
  return {'burned', resend}
end
return {'invalid', 0}
"""
)


@dataclass(frozen=True)
class OtpResult:
    """What a script decided, and how long to wait (whole seconds, at least 1) where it matters."""

    status: str
    retry_after: int


def generate_code(length: int | None = None) -> str:
    """A uniformly random code of `length` digits, leading zeros included."""
    digits = length or settings.OTP_LENGTH
    return str(secrets.randbelow(10**digits)).zfill(digits)


def code_mac(*, phone: str, code: str) -> str:
    """The HMAC stored for a code, keyed with the secret key and bound to its phone."""
    return salted_hmac(f"{KEY_PREFIX}.code", f"{phone}:{code}", algorithm="sha256").hexdigest()


def _result(raw: list[bytes | str | int]) -> OtpResult:
    status = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
    wait_ms = int(raw[1])
    return OtpResult(status=status, retry_after=max(1, math.ceil(wait_ms / 1000)))


def _phone_keys(phone: str) -> tuple[str, str, str]:
    # The hash tag keeps a phone's keys in one slot of a Redis Cluster, for the scripts that
    # touch several of them.
    return (
        f"{KEY_PREFIX}:{{{phone}}}:code",
        f"{KEY_PREFIX}:{{{phone}}}:sends",
        f"{KEY_PREFIX}:{{{phone}}}:fails",
    )


def _window_reserve(*, key: str, now: int, limit: int, nonce: str) -> int:
    """0 with a reservation taken in the hourly window of `key`, else the milliseconds to wait."""
    return int(
        redis_store.run_script(
            _WINDOW_RESERVE_SCRIPT, keys=[key], args=[now, HOUR_MS, limit, nonce], durable=True
        )
    )


def _release(reservations: list[str], nonce: str) -> None:
    """Undo a refused or failed send's reservations (each key in its own slot)."""
    client = redis_store.connection()
    for key in reservations:
        client.zrem(key, nonce)


def store_code(*, phone: str, code: str, client_ip: str) -> OtpResult:
    """Check the failure cap, cooldown and send limits; when all allow, store the code's HMAC.

    The refusals come in this order: locked, cooldown, phone_limit, ip_limit, prefix_limit.
    """
    code_key, sends_key, fails_key = _phone_keys(phone)
    ip_key = f"{KEY_PREFIX}:ip:{client_ip[:64]}"
    # Numbers that share all but their last 4 digits: the range an SMS-pumping attack walks.
    prefix_key = f"{KEY_PREFIX}:prefix:{phone[:-4]}"
    now, nonce = redis_store.now_ms(), uuid.uuid4().hex
    raw = redis_store.run_script(
        _PHONE_RESERVE_SCRIPT,
        keys=[sends_key, fails_key],
        args=[
            now,
            settings.OTP_RESEND_COOLDOWN_SECONDS * 1000,
            settings.OTP_SENDS_PER_PHONE_PER_HOUR,
            settings.OTP_SENDS_PER_PHONE_PER_DAY,
            settings.OTP_FAILURES_PER_PHONE_PER_DAY,
            nonce,
        ],
        durable=True,
    )
    if _result(raw).status != "ok":
        return _result(raw)
    windows = [("ip_limit", ip_key, settings.OTP_SENDS_PER_IP_PER_HOUR)]
    if settings.OTP_SENDS_PER_PREFIX_PER_HOUR > 0:
        windows.append(("prefix_limit", prefix_key, settings.OTP_SENDS_PER_PREFIX_PER_HOUR))
    reserved = [sends_key]
    try:
        for status, key, limit in windows:
            wait = _window_reserve(key=key, now=now, limit=limit, nonce=nonce)
            if wait > 0:
                _release(reserved, nonce)
                return _result([status, wait])
            reserved.append(key)
        stored = redis_store.run_script(
            _COMMIT_SCRIPT,
            keys=[code_key, sends_key],
            args=[now, code_mac(phone=phone, code=code), settings.OTP_TTL_SECONDS * 1000, nonce],
            durable=True,
        )
        if not stored:
            raise ReservationLostError()
    except Exception:
        # Best effort: a reservation left behind only counts a send that did not happen.
        with contextlib.suppress(RedisError):
            _release(reserved, nonce)
        raise
    return OtpResult(status="ok", retry_after=1)


def check_code(*, phone: str, code: str) -> OtpResult:
    """Consume the phone's code when `code` is right; otherwise count a failure."""
    code_key, sends_key, fails_key = _phone_keys(phone)
    raw = redis_store.run_script(
        _VERIFY_SCRIPT,
        keys=[code_key, fails_key, sends_key],
        args=[
            redis_store.now_ms(),
            code_mac(phone=phone, code=code),
            settings.OTP_MAX_ATTEMPTS,
            settings.OTP_FAILURES_PER_PHONE_PER_DAY,
            settings.OTP_RESEND_COOLDOWN_SECONDS * 1000,
            uuid.uuid4().hex,
        ],
        # A consumed code and a counted failure must survive a failover.
        durable=True,
    )
    return _result(raw)


def discard_code(*, phone: str) -> None:
    redis_store.connection().delete(_phone_keys(phone)[0])

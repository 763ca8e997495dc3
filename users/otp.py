"""The Redis side of one-time codes: storage, attempt counting and send limits, each one atomic.

Redis holds only an HMAC of a code, never the code. Each operation is one Lua script, so two
concurrent verifications cannot both consume a code and parallel wrong guesses cannot exceed a
limit. Rolling windows are sorted sets of event times. The clock is the application's (`now` is
passed in), so expiry follows the same clock as the rest of the code; Redis key expiry only
cleans up afterwards.
"""

import math
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

from referral_api import redis_store
from referral_api.redis_store import WINDOW_WAIT_LUA

KEY_PREFIX = "referral:otp"

# Returns {status, wait_ms}. Status: ok | locked | cooldown | phone_limit | ip_limit |
# prefix_limit. A per-prefix cap of 0 means no cap.
_SEND_SCRIPT = (
    WINDOW_WAIT_LUA
    + """
local code_key, sends_key, fails_key, ip_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix_key = KEYS[5]
local now, mac, ttl, cooldown = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local per_hour, per_day, per_ip = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fail_cap, nonce, per_prefix = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local hour, day = 3600000, 86400000

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

redis.call('ZREMRANGEBYSCORE', ip_key, '-inf', now - hour)
wait = wait_for(ip_key, now, hour, per_ip)
if wait > 0 then return {'ip_limit', wait} end

if per_prefix > 0 then
  redis.call('ZREMRANGEBYSCORE', prefix_key, '-inf', now - hour)
  wait = wait_for(prefix_key, now, hour, per_prefix)
  if wait > 0 then return {'prefix_limit', wait} end
  redis.call('ZADD', prefix_key, now, nonce)
  redis.call('PEXPIRE', prefix_key, hour)
end

redis.call('ZADD', sends_key, now, nonce)
redis.call('PEXPIRE', sends_key, day)
redis.call('ZADD', ip_key, now, nonce)
redis.call('PEXPIRE', ip_key, hour)
redis.call('DEL', code_key)
redis.call('HSET', code_key, 'mac', mac, 'expires', now + ttl, 'tries', 0)
redis.call('PEXPIRE', code_key, ttl)
return {'ok', 0}
"""
)

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


def _result(raw: list[bytes | int]) -> OtpResult:
    status = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
    wait_ms = int(raw[1])
    return OtpResult(status=status, retry_after=max(1, math.ceil(wait_ms / 1000)))


def _phone_keys(phone: str) -> tuple[str, str, str]:
    # The hash tag keeps a phone's keys together, should the store ever be sharded by phone.
    return (
        f"{KEY_PREFIX}:{{{phone}}}:code",
        f"{KEY_PREFIX}:{{{phone}}}:sends",
        f"{KEY_PREFIX}:{{{phone}}}:fails",
    )


def store_code(*, phone: str, code: str, client_ip: str) -> OtpResult:
    """Check the failure cap, cooldown and send limits; when all allow, store the code's HMAC."""
    code_key, sends_key, fails_key = _phone_keys(phone)
    ip_key = f"{KEY_PREFIX}:ip:{client_ip[:64]}"
    # Numbers that share all but their last 4 digits: the range an SMS-pumping attack walks.
    prefix_key = f"{KEY_PREFIX}:prefix:{phone[:-4]}"
    raw = redis_store.run_script(
        _SEND_SCRIPT,
        keys=[code_key, sends_key, fails_key, ip_key, prefix_key],
        args=[
            redis_store.now_ms(),
            code_mac(phone=phone, code=code),
            settings.OTP_TTL_SECONDS * 1000,
            settings.OTP_RESEND_COOLDOWN_SECONDS * 1000,
            settings.OTP_SENDS_PER_PHONE_PER_HOUR,
            settings.OTP_SENDS_PER_PHONE_PER_DAY,
            settings.OTP_SENDS_PER_IP_PER_HOUR,
            settings.OTP_FAILURES_PER_PHONE_PER_DAY,
            uuid.uuid4().hex,
            settings.OTP_SENDS_PER_PREFIX_PER_HOUR,
        ],
    )
    return _result(raw)


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
    )
    return _result(raw)


def discard_code(*, phone: str) -> None:
    redis_store.connection().delete(_phone_keys(phone)[0])

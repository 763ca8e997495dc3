"""Prometheus metrics: every metric the API exports (served by `referral_api.metrics_view`).

The apps import the metrics from here and count each fact where it is written (docs/operations.md
› Metrics lists them). Labels are bounded sets (route names, statuses, results, country calling
codes, providers, states, signals, limits): never a phone number, a code, a user id or an address.
"""

from collections.abc import Callable

import phonenumbers
from django.db import transaction
from prometheus_client import Counter, Histogram, disable_created_metrics

# No `*_created` series: gunicorn's multi-process mode does not serve them, and a single process
# should not serve more than the deployment does.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "referral_http_requests_total",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "referral_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route name, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OTP_CODES_SENT = Counter(
    "referral_otp_codes_sent_total",
    "Login codes handed to the SMS gateway, by the phone's country calling code.",
    ["country_code"],
)
OTP_VERIFICATIONS = Counter(
    "referral_otp_verifications_total",
    "Code checks, by result: ok, invalid, expired, burned (attempts used up) or locked.",
    ["result"],
)
SMS_FAILURES = Counter(
    "referral_sms_failures_total",
    "Codes the SMS gateway did not take, by provider and reason.",
    ["provider", "reason"],
)
REFERRALS = Counter("referral_referrals_total", "Referrals recorded (committed).")
REWARD_ENTRIES = Counter(
    "referral_reward_entries_total",
    "Reward entries entering a state: created pending, held or credited, or moved to one.",
    ["state"],
)
REFERRALS_FLAGGED = Counter(
    "referral_referrals_flagged_total",
    "Referrals flagged by an abuse signal (one referral may raise several), by signal.",
    ["signal"],
)
THROTTLED = Counter(
    "referral_throttled_total",
    "Requests refused with 429, by the limit (the error code answered).",
    ["limit"],
)

# The label of a request that matched no URL pattern: a raw path would be unbounded.
UNMATCHED_ROUTE = "unmatched"
STATIC_ROUTE = "static"


def after_commit(count: Callable[[], None]) -> None:
    """Count once the current transaction commits (at once outside one): a rollback counts
    nothing."""
    transaction.on_commit(count, robust=True)


def country_code_of(phone: str) -> str:
    """The country calling code of an E.164 number ("7", "44"): a label of at most ~200 values."""
    try:
        return str(phonenumbers.parse(phone, None).country_code)
    except phonenumbers.NumberParseException:
        return "unknown"


def provider_name(backend_path: str) -> str:
    """`users.sms_providers.TwilioBackend` → `TwilioBackend`."""
    return backend_path.rsplit(".", 1)[-1]

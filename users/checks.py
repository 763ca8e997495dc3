"""System checks: `check --deploy` fails (not just warns) on an unsafe production setup."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from users import sms_text
from users.phone import parse_phone
from users.sms import MemoryBackend, SimulatedGatewayBackend
from users.test_numbers import test_number_entries

# The backends that reach no phone.
STAND_IN_BACKENDS = (SimulatedGatewayBackend, MemoryBackend)
# Android's SMS User Consent API recognises codes of 4 to 10 characters; the product asks for 4.
OTP_LENGTH_RANGE = range(4, 11)


@register(Tags.security, deploy=True)
def check_production_safety(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not settings.REDIS_URL:
        errors.append(
            Error(
                "One-time codes are kept in process memory.",
                hint="Set REDIS_URL: every server process must share one Redis.",
                id="users.E001",
            )
        )
    if settings.OTP_EXPOSE_CODE:
        errors.append(
            Error(
                "Login codes are returned in API responses.",
                hint="Set OTP_EXPOSE_CODE=false.",
                id="users.E002",
            )
        )
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY or len(settings.SECRET_KEY) < 50:
        errors.append(
            Error(
                "The secret key is the development key or shorter than 50 characters.",
                hint="Set DJANGO_SECRET_KEY to at least 50 random characters.",
                id="users.E003",
            )
        )
    if settings.JWT_SIGNING_KEY_DERIVED or len(settings.JWT_SIGNING_KEY.encode()) < 32:
        errors.append(
            Error(
                "Tokens are signed with a key derived from the secret key, or a short one.",
                hint="Set JWT_SIGNING_KEY to a separate key of at least 32 bytes.",
                id="users.E004",
            )
        )
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        errors.append(
            Error(
                "The database is not PostgreSQL (DATABASE_URL is unset or names another engine).",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/db.",
                id="users.E006",
            )
        )
    if settings.DEBUG:
        errors.append(Error("DJANGO_DEBUG is on.", hint="Set DJANGO_DEBUG=false.", id="users.E005"))
    return errors


@register()
def check_test_numbers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Fixed codes for review and demo numbers must be usable as written."""
    errors: list[CheckMessage] = []
    for phone, code in test_number_entries(settings.OTP_TEST_NUMBERS):
        if parse_phone(phone) is None:
            errors.append(Error(f"OTP_TEST_NUMBERS: {phone!r} is not a number.", id="users.E010"))
        if not (code.isdigit() and len(code) == settings.OTP_LENGTH):
            errors.append(
                Error(
                    f"OTP_TEST_NUMBERS: the code of {phone!r} needs {settings.OTP_LENGTH} digits.",
                    id="users.E011",
                )
            )
    return errors


@register(Tags.security, deploy=True)
def check_sms_backend_is_real(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A warning, not an error: a staging deployment may mean to send nothing."""
    try:
        backend = import_string(settings.SMS_BACKEND)
    except ImportError:
        return []  # check_sms_settings reports it
    if settings.DEBUG or backend not in STAND_IN_BACKENDS:
        return []
    return [
        CheckWarning(
            "SMS_BACKEND is a stand-in: login codes reach no phone.",
            hint="Set SMS_BACKEND to a provider's adapter and its credentials (docs/sms.md).",
            id="users.W001",
        )
    ]


@register()
def check_sms_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The backend loads and is configured, and every login SMS fits one segment."""
    errors: list[CheckMessage] = []
    try:
        backend = import_string(settings.SMS_BACKEND)
    except ImportError as exc:
        errors.append(Error(f"SMS_BACKEND cannot be imported: {exc}", id="users.E020"))
    else:
        # An adapter may say what it is missing (e.g. credentials): see docs/sms.md.
        for problem in getattr(backend, "configuration_errors", list)():
            errors.append(Error(f"SMS_BACKEND {settings.SMS_BACKEND}: {problem}", id="users.E021"))
    if settings.OTP_LENGTH not in OTP_LENGTH_RANGE:
        errors.append(
            Error(
                f"OTP_LENGTH is {settings.OTP_LENGTH}; it must be between "
                f"{OTP_LENGTH_RANGE.start} and {OTP_LENGTH_RANGE.stop - 1}.",
                id="users.E022",
            )
        )
    domain, app_hash = settings.OTP_WEBOTP_DOMAIN, settings.OTP_ANDROID_APP_HASH
    if domain and not sms_text.WEBOTP_DOMAIN.fullmatch(domain):
        errors.append(
            Error(
                f"OTP_WEBOTP_DOMAIN {domain!r} is not a host name.",
                hint="Give the site's host only, e.g. example.com: no scheme, port or path; "
                "an internationalised name in its xn-- form.",
                id="users.E023",
            )
        )
    if app_hash and not sms_text.ANDROID_APP_HASH.fullmatch(app_hash):
        errors.append(
            Error(
                "OTP_ANDROID_APP_HASH must be the 11 characters of the app's SMS Retriever hash.",
                id="users.E024",
            )
        )
    errors += _message_length_errors(domain=domain, app_hash=app_hash)
    return errors


def _message_length_errors(*, domain: str, app_hash: str) -> list[CheckMessage]:
    length = max(settings.OTP_LENGTH, 0)
    fits = sms_text.longest_messages_fit(
        code_length=length, webotp_domain=domain, android_app_hash=app_hash
    )
    if fits:
        return []
    budget = sms_text.webotp_domain_budget(code_length=length, android_app_hash=app_hash)
    limit = "one SMS segment" + (" of at most 140 bytes" if app_hash else "")
    hint = (
        f"With these settings OTP_WEBOTP_DOMAIN may have at most {budget} characters"
        if budget > 0
        else "Lower OTP_LENGTH"
    )
    return [
        Error(
            f"The longest login SMS ({length}-digit code) does not fit {limit}.",
            hint=f"{hint} (docs/sms.md › The message).",
            id="users.E025",
        )
    ]

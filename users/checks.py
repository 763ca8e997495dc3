"""System checks: `check --deploy` fails (not just warns) on an unsafe production setup."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from users.phone import parse_phone
from users.test_numbers import test_number_entries


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

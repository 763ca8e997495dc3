"""Phone numbers in, E.164 out (the `phonenumbers` library does the parsing)."""

from collections.abc import Collection

import phonenumbers
from django.conf import settings


def parse_phone(value: str) -> str | None:
    """The E.164 form of anything shaped like a phone number, valid or not; None otherwise."""
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value: str, *, also_allowed: Collection[str] = ()) -> str | None:
    """The E.164 form of a valid number (or of one of `also_allowed`); None otherwise."""
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number) or phone in also_allowed:
        return phone
    return None


def phone_in_allowed_countries(phone: str) -> bool:
    """Whether an E.164 number belongs to one of `OTP_ALLOWED_COUNTRIES` (empty: every country)."""
    allowed = settings.OTP_ALLOWED_COUNTRIES
    if not allowed:
        return True
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return False
    return region in allowed


def mask_phone(phone: str) -> str:
    """An E.164 number with every digit hidden but the country calling code and the last two:
    "+79991234567" → "+7********67" (the same length; API.md › Leaderboard). No phone (a user
    not yet on the database replica that served the read) stays empty."""
    if not phone:
        return ""
    try:
        country_digits = len(str(phonenumbers.parse(phone).country_code))
    except phonenumbers.NumberParseException:
        country_digits = 1
    digits = phone[1:]
    hidden = max(len(digits) - country_digits - 2, 0)
    return "+" + digits[:country_digits] + "*" * hidden + digits[country_digits + hidden :]

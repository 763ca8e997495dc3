"""Phone numbers in, E.164 out (the `phonenumbers` library does the parsing)."""

import phonenumbers
from django.conf import settings


def normalize_phone(value: str) -> str | None:
    """The E.164 form of a possible, valid number; None when it is not one."""
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

"""`OTP_TEST_NUMBERS`: review and demo numbers with a fixed code that is never sent.

Configuration, read from settings: the deploy check validates the entries as written, and the OTP
service and the phone field use the parsed map.
"""

from functools import cache

from django.conf import settings

from users.phone import parse_phone


def test_number_entries(raw: str) -> list[tuple[str, str]]:
    """`OTP_TEST_NUMBERS` ("+70000000000:0000,...") as (phone, code) pairs, as written."""
    pairs = (entry.partition(":") for entry in raw.split(",") if entry.strip())
    return [(phone.strip(), code.strip()) for phone, _, code in pairs]


@cache
def _test_numbers(raw: str) -> dict[str, str]:
    return {parse_phone(phone) or phone: code for phone, code in test_number_entries(raw)}


def test_numbers() -> dict[str, str]:
    """Review and demo numbers (E.164) → their fixed code."""
    return _test_numbers(settings.OTP_TEST_NUMBERS)

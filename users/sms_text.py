"""The login SMS: its words in the number's language, the autofill lines, and what fits one segment.

A message is the template's line, then the Android app hash on its own line
(`OTP_ANDROID_APP_HASH`, SMS Retriever), then the WebOTP line `@<domain> #<code>`
(`OTP_WEBOTP_DOMAIN`, WICG sms-one-time-codes), which must be the last line. The code comes first
in the text, so anything that reads "the first number in the SMS" reads the code.

One segment is 160 GSM-7 septets (an extension character takes two) when every character is in
the GSM 03.38 alphabet, 70 UTF-16 code units (UCS-2) otherwise. `users.checks` refuses settings
whose longest message would not fit, so every message sent is a single segment.
"""

import math
import re

import phonenumbers
from django.conf import settings

ENGLISH = "en"
RUSSIAN = "ru"

TEMPLATES = {
    ENGLISH: "Your login code: {code}",
    RUSSIAN: "Код для входа: {code}",
}

# Country calling codes whose numbers get the Russian text (API.md › Configuration).
RUSSIAN_CALLING_CODES = frozenset({7, 375, 996})

# GSM 03.38 default alphabet (without the escape to the extension table) and the extension
# characters, which take two septets each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SEGMENT_SEPTETS = 160
UCS2_SEGMENT_UNITS = 70
# SMS Retriever: "the message must be no longer than 140 bytes" (one segment's payload).
ANDROID_MAX_BYTES = 140

# SMS Retriever's app hash: 11 characters of base64 (developers.google.com/identity/sms-retriever).
ANDROID_APP_HASH = re.compile(r"[A-Za-z0-9+/]{11}")
MAX_HOST_LENGTH = 253
# A host name as WebOTP parsers accept it: ASCII letters, digits, hyphens and dots (an
# internationalised name in its xn-- form), labels of 1–63 characters, no port.
WEBOTP_DOMAIN = re.compile(
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def language_for(phone: str) -> str:
    """Russian for +7, +375 and +996 numbers; English for every other one."""
    try:
        calling_code = phonenumbers.parse(phone).country_code
    except phonenumbers.NumberParseException:
        return ENGLISH
    return RUSSIAN if calling_code in RUSSIAN_CALLING_CODES else ENGLISH


def compose(
    *, language: str, code: str, webotp_domain: str = "", android_app_hash: str = ""
) -> str:
    """The message for these options; `login_code_text` fills them from the settings."""
    lines = [TEMPLATES[language].format(code=code)]
    if android_app_hash:
        lines.append(android_app_hash)
    if webotp_domain:
        # The WICG format reads the origin and the code from the last line only.
        lines.append(f"@{webotp_domain} #{code}")
    return "\n".join(lines)


def login_code_text(*, phone: str, code: str) -> str:
    """The SMS that carries `code` to `phone`."""
    return compose(
        language=language_for(phone),
        code=code,
        webotp_domain=settings.OTP_WEBOTP_DOMAIN,
        android_app_hash=settings.OTP_ANDROID_APP_HASH,
    )


def gsm7_septets(text: str) -> int | None:
    """The septets `text` takes in GSM-7, or None when a character is outside the alphabet."""
    septets = 0
    for character in text:
        if character in GSM7_BASIC:
            septets += 1
        elif character in GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def ucs2_units(text: str) -> int:
    """UTF-16 code units (a character outside the Basic Multilingual Plane takes two)."""
    return len(text.encode("utf-16-le")) // 2


def payload_bytes(text: str) -> int:
    """The bytes `text` takes on the air: packed septets in GSM-7, two bytes a unit in UCS-2."""
    septets = gsm7_septets(text)
    if septets is not None:
        return math.ceil(septets * 7 / 8)
    return 2 * ucs2_units(text)


def fits_one_segment(text: str) -> bool:
    septets = gsm7_septets(text)
    if septets is not None:
        return septets <= GSM7_SEGMENT_SEPTETS
    return ucs2_units(text) <= UCS2_SEGMENT_UNITS


def fits_android_retriever(text: str) -> bool:
    """At most 140 bytes, counted both on the air and as UTF-8 (whichever Play services means)."""
    return max(payload_bytes(text), len(text.encode())) <= ANDROID_MAX_BYTES


def longest_messages(*, code_length: int, webotp_domain: str, android_app_hash: str) -> list[str]:
    """The longest message of each language for these settings (the code only changes digits)."""
    return [
        compose(
            language=language,
            code="0" * code_length,
            webotp_domain=webotp_domain,
            android_app_hash=android_app_hash,
        )
        for language in TEMPLATES
    ]


def longest_messages_fit(*, code_length: int, webotp_domain: str, android_app_hash: str) -> bool:
    """Every message these settings can produce is one segment (and ≤ 140 bytes with the hash)."""
    return all(
        fits_one_segment(text) and (not android_app_hash or fits_android_retriever(text))
        for text in longest_messages(
            code_length=code_length, webotp_domain=webotp_domain, android_app_hash=android_app_hash
        )
    )


def webotp_domain_budget(*, code_length: int, android_app_hash: str) -> int:
    """The longest OTP_WEBOTP_DOMAIN that fits with these settings; -1 when none does.

    Host-name characters take one septet, one UCS-2 unit and one UTF-8 byte each, so any host of
    this length fits as well as the one tried.
    """
    for length in range(MAX_HOST_LENGTH, 0, -1):
        if longest_messages_fit(
            code_length=code_length, webotp_domain="a" * length, android_app_hash=android_app_hash
        ):
            return length
    return -1

"""The login SMS: language by country, one segment whatever the settings, and the autofill formats
(WICG sms-one-time-codes for WebOTP, Google's SMS Retriever rules), each parsed by its own rules."""

import itertools
import re

import pytest

from tests.login import request_code, sent_code, verify_code
from users.checks import check_sms_settings
from users.sms_text import (
    ENGLISH,
    RUSSIAN,
    fits_one_segment,
    gsm7_septets,
    language_for,
    login_code_text,
    payload_bytes,
    ucs2_units,
    webotp_domain_budget,
)

pytestmark = pytest.mark.django_db

APP_HASH = "FA+9qCX9VSu"
MAX_OTP_LENGTH = 10


def parse_origin_bound_code(message: str) -> tuple[str, str, str | None] | None:
    """WICG sms-one-time-codes › Parsing: (top-level host, code, embedded host), None on failure."""
    line = message.replace("\r\n", "\n").replace("\r", "\n").split("\n")[-1]
    position = 0

    def marked_token(marker: str) -> str | None:
        nonlocal position
        if position >= len(line) or line[position] != marker:
            return None
        position += 1
        token = re.match(r"[^\t\n\f\r ]*", line[position:])
        assert token is not None
        position += len(token.group())
        return token.group() or None

    host = marked_token("@")
    if host is None or position >= len(line) or line[position] != " ":
        return None
    position += 1
    code = marked_token("#")
    if code is None:
        return None
    embedded = None
    if position < len(line) and line[position] == " ":
        position += 1
        embedded = marked_token("%")
    return host, code, embedded


def segment_length(text: str) -> tuple[str, int]:
    """An independent count for these texts: ASCII without ` and the extension characters is
    GSM-7 (one septet each); anything else is UCS-2 (UTF-16 code units)."""
    if text.isascii() and not set(text) & set("`^{}\\[~]|"):
        return "GSM-7", len(text)
    return "UCS-2", len(text.encode("utf-16-le")) // 2


def fits(text: str) -> bool:
    encoding, length = segment_length(text)
    return length <= (160 if encoding == "GSM-7" else 70)


@pytest.mark.parametrize(
    ("phone", "language"),
    [
        ("+79991234567", RUSSIAN),  # Russia
        ("+77012345678", RUSSIAN),  # Kazakhstan shares +7
        ("+375291234567", RUSSIAN),  # Belarus
        ("+996555123456", RUSSIAN),  # Kyrgyzstan
        ("+14155552671", ENGLISH),
        ("+442079460958", ENGLISH),
        ("+380501234567", ENGLISH),  # Ukraine: not in the list
        ("+998901234567", ENGLISH),  # Uzbekistan: +99 8, not +996
        ("+37491234567", ENGLISH),  # Armenia: +374, not +375
        ("not a number", ENGLISH),
    ],
)
def test_language_for_follows_the_country_calling_code(phone, language):
    assert language_for(phone) == language


@pytest.mark.parametrize(
    ("phone", "text"),
    [
        ("+375291234567", "Код для входа: {code}"),
        ("+996555123456", "Код для входа: {code}"),
        ("+14155552671", "Your login code: {code}"),
    ],
)
def test_request_code_sms_is_in_the_numbers_language(api_client, outbox, phone, text):
    request_code(api_client, phone)
    code = sent_code(outbox, phone)

    verified = verify_code(api_client, phone, code)

    assert outbox[-1].text == text.format(code=code)
    assert verified.status_code == 200


@pytest.mark.parametrize(
    ("text", "septets"),
    [("Your login code: 1234", 21), ("@€[]", 7), ("\n", 1), ("Привет", None), ("`", None)],
)
def test_gsm7_septets_counts_extension_characters_twice(text, septets):
    assert gsm7_septets(text) == septets


@pytest.mark.parametrize(
    ("text", "one_segment"),
    [
        ("a" * 160, True),
        ("a" * 161, False),
        ("a" * 159 + "€", False),  # 161 septets
        ("я" * 70, True),
        ("я" * 71, False),
        ("a" * 69 + "я", True),  # one Cyrillic letter makes the whole text UCS-2
        ("a" * 70 + "я", False),
        ("😀" * 35, True),  # 70 UTF-16 units
        ("😀" * 35 + "a", False),
    ],
)
def test_fits_one_segment_gsm7_160_septets_ucs2_70_units(text, one_segment):
    assert fits_one_segment(text) is one_segment


def test_payload_bytes_packs_septets_and_doubles_ucs2_units():
    assert payload_bytes("a" * 160) == 140
    assert payload_bytes("я" * 70) == 140
    assert ucs2_units("😀") == 2


def test_login_code_text_webotp_last_line_is_the_origin_bound_code(settings):
    settings.OTP_WEBOTP_DOMAIN = "login.example.com"

    text = login_code_text(phone="+14155552671", code="4821")

    assert parse_origin_bound_code(text) == ("login.example.com", "4821", None)
    assert text.split("\n") == ["Your login code: 4821", "@login.example.com #4821"]


def test_login_code_text_without_webotp_has_no_origin_bound_code(settings):
    settings.OTP_WEBOTP_DOMAIN = ""

    text = login_code_text(phone="+79991234567", code="4821")

    assert parse_origin_bound_code(text) is None
    assert text == "Код для входа: 4821"


def test_login_code_text_android_hash_meets_the_sms_retriever_rules(settings):
    settings.OTP_ANDROID_APP_HASH = APP_HASH

    text = login_code_text(phone="+79991234567", code="4821")

    lines = text.split("\n")
    assert lines == ["Код для входа: 4821", APP_HASH]
    assert len(text.encode()) <= 140
    assert payload_bytes(text) <= 140
    assert re.search(r"\b4821\b", text)


def test_login_code_text_both_formats_hash_on_its_line_origin_line_last(settings):
    settings.OTP_WEBOTP_DOMAIN = "example.com"
    settings.OTP_ANDROID_APP_HASH = APP_HASH

    text = login_code_text(phone="+14155552671", code="4821")

    assert text.split("\n") == ["Your login code: 4821", APP_HASH, "@example.com #4821"]
    assert parse_origin_bound_code(text) == ("example.com", "4821", None)
    assert len(text.encode()) <= 140


def test_request_code_both_formats_sent_code_still_reads_the_code(api_client, outbox, settings):
    settings.OTP_WEBOTP_DOMAIN = "example.com"
    settings.OTP_ANDROID_APP_HASH = "1234567890A"  # digits in the hash come after the code
    settings.OTP_LENGTH = 6

    request_code(api_client)
    code = sent_code(outbox)
    verified = verify_code(api_client, "+79991234567", code)

    assert parse_origin_bound_code(outbox[-1].text) == ("example.com", code, None)
    assert verified.status_code == 200


def test_message_longest_case_fits_one_segment_and_140_bytes(settings):
    settings.OTP_LENGTH = MAX_OTP_LENGTH
    settings.OTP_ANDROID_APP_HASH = APP_HASH
    longest = webotp_domain_budget(code_length=MAX_OTP_LENGTH, android_app_hash=APP_HASH)
    settings.OTP_WEBOTP_DOMAIN = ("sub." * longest)[: longest - 4] + ".com"

    accepted = check_sms_settings()
    text = login_code_text(phone="+79991234567", code="9" * MAX_OTP_LENGTH)

    assert accepted == []
    assert len(settings.OTP_WEBOTP_DOMAIN) == longest == 19
    assert segment_length(text) == ("UCS-2", 70)
    assert len(text.encode()) <= 140
    assert parse_origin_bound_code(text) == (settings.OTP_WEBOTP_DOMAIN, "9" * 10, None)


def test_check_sms_settings_one_character_more_does_not_fit(settings):
    settings.OTP_LENGTH = MAX_OTP_LENGTH
    settings.OTP_ANDROID_APP_HASH = APP_HASH
    settings.OTP_WEBOTP_DOMAIN = "a" * 17 + ".ru"  # 19 + 1 characters

    messages = check_sms_settings()

    assert [message.id for message in messages] == ["users.E025"]
    assert "at most 19 characters" in (messages[0].hint or "")


@pytest.mark.parametrize(
    ("length", "with_hash"), list(itertools.product(range(4, 11), [False, True]))
)
def test_check_sms_settings_accepts_only_messages_that_fit(settings, length, with_hash):
    settings.OTP_LENGTH = length
    settings.OTP_ANDROID_APP_HASH = APP_HASH if with_hash else ""

    for domain_length in range(1, 60):
        settings.OTP_WEBOTP_DOMAIN = "d" * domain_length
        accepted = check_sms_settings() == []
        texts = [
            login_code_text(phone=phone, code="0" * length)
            for phone in ("+79991234567", "+14155552671")
        ]
        within_bytes = not with_hash or all(len(text.encode()) <= 140 for text in texts)

        assert accepted == (all(fits(text) for text in texts) and within_bytes), domain_length


@pytest.mark.parametrize("length", [3, 11, 16])
def test_check_sms_settings_otp_length_out_of_range_is_an_error(settings, length):
    settings.OTP_LENGTH = length

    messages = check_sms_settings()

    assert [message.id for message in messages] == ["users.E022"]


@pytest.mark.parametrize(
    "domain",
    [
        "https://example.com",
        "example.com:443",
        "example.com/login",
        "exa mple.com",
        "-example.com",
        "example-.com",
        "пример.рф",
        "a..b",
    ],
)
def test_check_sms_settings_webotp_domain_not_a_host_is_an_error(settings, domain):
    settings.OTP_WEBOTP_DOMAIN = domain

    messages = check_sms_settings()

    assert "users.E023" in [message.id for message in messages]


@pytest.mark.parametrize("domain", ["example.com", "id.example.co.uk", "xn--e1afmkfd.xn--p1ai"])
def test_check_sms_settings_webotp_host_passes(settings, domain):
    settings.OTP_WEBOTP_DOMAIN = domain

    messages = check_sms_settings()

    assert messages == []


@pytest.mark.parametrize("app_hash", ["FA+9qCX9VS", "FA+9qCX9VSu1", "FA+9qCX9VS!", "FA 9qCX9VSu"])
def test_check_sms_settings_android_hash_not_11_base64_characters_is_an_error(settings, app_hash):
    settings.OTP_ANDROID_APP_HASH = app_hash

    messages = check_sms_settings()

    assert [message.id for message in messages] == ["users.E024"]
    assert all(message.is_serious() for message in messages)

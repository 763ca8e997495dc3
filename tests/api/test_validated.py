"""referral_api.http.validated: input serializers' fields built once per language, not per call."""

from typing import Any

import pytest
from django.utils import translation
from rest_framework.exceptions import ValidationError

from referral_api.http import validated
from users.serializers import OtpCodeField, OtpVerifyInputSerializer

PHONE = "+79991234567"


def code_error(code: str) -> str:
    with pytest.raises(ValidationError) as refused:
        validated(OtpVerifyInputSerializer, {"phone": PHONE, "code": code})
    detail: Any = refused.value.detail
    return str(detail["code"][0])


def test_the_fields_are_built_once_per_serializer_and_language(monkeypatch):
    built = []
    original = OtpCodeField.__init__

    def counting(self, **kwargs):
        built.append(translation.get_language())
        original(self, **kwargs)

    monkeypatch.setattr(OtpCodeField, "__init__", counting)
    for language in ("en", "en", "ru", "ru", "en"):
        with translation.override(language):
            assert validated(OtpVerifyInputSerializer, {"phone": PHONE, "code": "1234"}) == {
                "phone": PHONE,
                "code": "1234",
            }

    # The declared field (built at import) is copied once for each language, then reused.
    assert built.count("en") <= 1
    assert built.count("ru") <= 1


def test_each_language_gets_its_own_messages():
    with translation.override("en"):
        english = code_error("12")
    with translation.override("ru"):
        russian = code_error("12")
    with translation.override("en"):
        again = code_error("12")

    assert english == again == "The code has 4 digits."
    assert russian != english


def test_a_changed_setting_is_seen_by_the_next_call(settings):
    with translation.override("en"):
        assert code_error("12") == "The code has 4 digits."
        settings.OTP_LENGTH = 6
        assert code_error("1234") == "The code has 6 digits."


def test_a_shared_field_keeps_no_state_of_an_earlier_call():
    with pytest.raises(ValidationError):
        validated(OtpVerifyInputSerializer, {"phone": "not a phone", "code": "x"})

    data = validated(
        OtpVerifyInputSerializer, {"phone": PHONE, "code": "0042", "invite_code": "ab12cd"}
    )

    assert data == {"phone": PHONE, "code": "0042", "invite_code": "AB12CD"}

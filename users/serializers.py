import re
from typing import Any

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinLengthValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from users.models import INVITE_CODE_LENGTH, User
from users.phone import normalize_phone, phone_in_allowed_countries
from users.test_numbers import test_numbers


@extend_schema_field({"type": "string", "example": "+79991234567", "maxLength": 32})
class PhoneField(serializers.CharField):
    """A phone number in any common format, normalised to E.164."""

    default_error_messages = {
        "invalid_phone": _(
            "Enter a valid phone number in international format, e.g. +79991234567."
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        # A JSON number is not a phone number (CharField would accept it): it loses the `+`.
        if not isinstance(data, str):
            self.fail("invalid")
        # Review and demo numbers (OTP_TEST_NUMBERS) may be reserved, unassigned numbers.
        phone = normalize_phone(super().to_internal_value(data), also_allowed=test_numbers())
        if phone is None:
            self.fail("invalid_phone")
        return phone


_INVITE_CODE_PATTERN = rf"^[A-Za-z0-9]{{{INVITE_CODE_LENGTH}}}$"


@extend_schema_field({"type": "string", "pattern": _INVITE_CODE_PATTERN, "example": "A1B2C3"})
class InviteCodeField(serializers.RegexField):
    """Six letters or digits; case and surrounding spaces do not matter. Stored upper case."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages", {"invalid": _("An invite code is 6 letters or digits, e.g. A1B2C3.")}
        )
        super().__init__(_INVITE_CODE_PATTERN, max_length=64, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        # The schema says string: DRF would turn the JSON number 123456 into "123456".
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data)).upper()


# Most characters a login code field reads: longer input is refused before the digits check.
OTP_CODE_INPUT_CAP = 16
_OTP_CODE_PATTERN = r"^[0-9]+$"


class _OtpCodeLength:
    """A length check that speaks only about a well-formed code (digits, within the input cap):
    a malformed one already has its message, and a code gets one message, not two."""

    def __call__(self, value: str) -> None:
        if re.fullmatch(_OTP_CODE_PATTERN, value) and len(value) <= OTP_CODE_INPUT_CAP:
            super().__call__(value)  # type: ignore[misc]


class OtpCodeMinLengthValidator(_OtpCodeLength, MinLengthValidator):
    pass


class OtpCodeMaxLengthValidator(_OtpCodeLength, MaxLengthValidator):
    pass


class OtpCodeField(serializers.RegexField):
    """The digits of a login code, exactly `OTP_LENGTH` of them. A JSON number is refused: it would
    lose leading zeros."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid": _("The code is made of digits only.")})
        super().__init__(_OTP_CODE_PATTERN, max_length=OTP_CODE_INPUT_CAP, **kwargs)
        # Built whenever a serializer is (DRF copies its fields by building them again), so the
        # length follows the setting. Length validators, so the schema states the length too.
        digits = settings.OTP_LENGTH
        message = ngettext(
            "The code has %(length)d digit.", "The code has %(length)d digits.", digits
        ) % {"length": digits}
        self.validators += [
            OtpCodeMinLengthValidator(digits, message=message),
            OtpCodeMaxLengthValidator(digits, message=message),
        ]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class OtpRequestInputSerializer(serializers.Serializer):
    phone = PhoneField(help_text="The phone number to send the code to; any common format.")

    def validate_phone(self, phone: str) -> str:
        # SMS-pumping defence: codes go only to the countries the product serves. Review and
        # demo numbers are never sent, so they pass.
        if not phone_in_allowed_countries(phone) and phone not in test_numbers():
            raise serializers.ValidationError(_("Login codes are not sent to this country."))
        return phone


class OtpRequestSerializer(serializers.Serializer):
    """A code is on its way."""

    phone = serializers.CharField(help_text="The number in E.164 form.")
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")
    resend_in = serializers.IntegerField(help_text="Seconds before another code can be asked.")
    code_length = serializers.IntegerField(help_text="Digits in the code.")
    debug_code = serializers.CharField(
        required=False,
        help_text="The code itself; only when `OTP_EXPOSE_CODE` is on (never in production).",
    )


class OtpVerifyInputSerializer(serializers.Serializer):
    phone = PhoneField(help_text="The number the code was sent to.")
    code = OtpCodeField(help_text="The digits received by SMS.")
    invite_code = InviteCodeField(
        required=False,
        allow_null=True,
        help_text="Optional: another user's invite code, activated when this call signs up.",
    )


# Formats dates as a declared DateTimeField does (ISO 8601, UTC as "Z").
_DATE_JOINED = serializers.DateTimeField()


class UserSerializer(serializers.Serializer):
    """The signed-in user's profile."""

    # A plain Serializer, not a ModelSerializer, with its output written out below: the
    # hottest response skips building and binding fields (together about 0.35 ms each).
    id = serializers.IntegerField(read_only=True)
    phone = serializers.CharField(read_only=True, help_text="The phone number in E.164 form.")
    invite_code = serializers.CharField(
        read_only=True, help_text="This user's own invite code, to share with friends."
    )
    activated_invite_code = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The invite code this user activated, or null.",
    )
    referrals_count = serializers.IntegerField(
        read_only=True, help_text="How many users activated this user's invite code."
    )
    date_joined = serializers.DateTimeField(read_only=True, help_text="Sign-up time (UTC).")

    def to_representation(self, user: User) -> dict[str, Any]:
        # Built directly: DRF deep-copies every declared field for every serializer instance,
        # which cost as much as the profile's JWT check. The fields above still define the
        # schema; tests/users/test_serializers.py checks that both give the same output.
        return {
            "id": user.pk,
            "phone": user.phone,
            "invite_code": user.invite_code,
            "activated_invite_code": user.activated_invite_code,
            "referrals_count": user.referrals_count,
            "date_joined": _DATE_JOINED.to_representation(user.date_joined),
        }


class LoginSerializer(serializers.Serializer):
    """Tokens for the signed-in user."""

    access = serializers.CharField(help_text="Access token: send as `Authorization: Bearer …`.")
    refresh = serializers.CharField(help_text="Refresh token: works once, at the refresh endpoint.")
    is_new_user = serializers.BooleanField(help_text="True when this call created the user.")
    user = UserSerializer()

    def to_representation(self, login: dict[str, Any]) -> dict[str, Any]:
        # Every sign-up answers with this; built directly for the reason UserSerializer is.
        return {
            "access": login["access"],
            "refresh": login["refresh"],
            "is_new_user": login["is_new_user"],
            "user": UserSerializer().to_representation(login["user"]),
        }


class TokenRefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, help_text="The refresh token to rotate.")


class TokenPairSerializer(serializers.Serializer):
    """A new access token and a new refresh token; the old refresh token no longer works."""

    access = serializers.CharField()
    refresh = serializers.CharField()


class LogoutInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, help_text="The refresh token to revoke.")


class SessionSerializer(serializers.Serializer):
    """One signed-in session: a login and every token pair rotated from it."""

    id = serializers.UUIDField()
    created_at = serializers.DateTimeField(help_text="When the login that started it happened.")
    last_used_at = serializers.DateTimeField(help_text="Last use, to the minute.")
    user_agent = serializers.CharField(help_text="The login's User-Agent, at most 200 characters.")
    current = serializers.BooleanField(help_text="True for the session of this access token.")

    def to_representation(self, item: dict[str, Any]) -> dict[str, Any]:
        session = item["session"]
        return {
            "id": str(session.pk),
            "created_at": _DATE_JOINED.to_representation(session.created_at),
            "last_used_at": _DATE_JOINED.to_representation(session.last_used_at),
            "user_agent": session.user_agent,
            "current": item["current"],
        }


class SessionListSerializer(serializers.Serializer):
    """The caller's live sessions, newest first."""

    results = SessionSerializer(many=True)

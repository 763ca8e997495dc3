"""The web pages' forms. Their input rules are the API's input serializers': the same checks and
the same messages, so a page and the API never disagree about what is valid."""

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from invites.serializers import InviteActivateInputSerializer
from referral_api.errors import Message
from users.serializers import InviteCodeField, OtpRequestInputSerializer, OtpVerifyInputSerializer

SIGN_UP_INVITE_HELP = _("Optional: a friend's code, activated when this creates your account.")
PHONE_LABEL = _("Phone number")
LOGIN_CODE_LABEL = _("Login code")
INVITE_CODE_LABEL = _("Invite code")


def _invite_code_field(*, help_text: "Message" = "", ask: bool = False) -> forms.CharField:
    """`ask`: the browser asks for a value before sending (the serializer still decides)."""
    return forms.CharField(
        label=INVITE_CODE_LABEL,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "maxlength": 64,
                **({"required": True} if ask else {}),
            }
        ),
    )


class SerializerForm(forms.Form):
    """A form validated by an API input serializer; its errors land next to their fields.

    The form's own fields only carry labels and widgets (none is required here, so that every
    message comes from the serializer, exactly as the API words it).
    """

    serializer_class: ClassVar[type[serializers.Serializer]]

    def serializer_data(self) -> dict[str, Any]:
        # Blank optional fields are left out, as an API client leaves them out.
        return {name: value for name, value in self.cleaned_data.items() if value != ""}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            # Django's own field checks refused something (a NUL character): said once is enough.
            return cleaned
        serializer = self.serializer_class(data=self.serializer_data())
        if serializer.is_valid():
            return dict(serializer.validated_data)
        for field, messages in serializer.errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, str(message))
        return cleaned


class SendCodeInputSerializer(OtpRequestInputSerializer):
    """Step 1 of the sign-in: the phone, and the invite code to carry to step 2."""

    invite_code = InviteCodeField(required=False)


class SendCodeForm(SerializerForm):
    serializer_class = SendCodeInputSerializer

    phone = forms.CharField(
        label=PHONE_LABEL,
        required=False,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "tel",
                "inputmode": "tel",
                "maxlength": 32,
                "required": True,
                "placeholder": "+79991234567",
            }
        ),
    )
    invite_code = _invite_code_field(help_text=SIGN_UP_INVITE_HELP)


class SignInForm(SerializerForm):
    """Step 2: the code sent to the phone of step 1 (kept in the session, not in the form)."""

    serializer_class = OtpVerifyInputSerializer

    code = forms.CharField(
        label=LOGIN_CODE_LABEL,
        required=False,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "maxlength": 16,
                "required": True,
            }
        ),
    )
    invite_code = _invite_code_field(help_text=SIGN_UP_INVITE_HELP)

    def __init__(self, *args: Any, phone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phone = phone

    def serializer_data(self) -> dict[str, Any]:
        return {**super().serializer_data(), "phone": self.phone}


class ActivateForm(SerializerForm):
    serializer_class = InviteActivateInputSerializer

    invite_code = _invite_code_field(ask=True)

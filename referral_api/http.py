"""Request helpers every app's views use: input validation and the client's address."""

from typing import Any, cast

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

# Optional on verify-code and activate-invite: a stable id of the client's device (8–128
# characters of A–Z a–z 0–9 . _ -), used only as an HMAC for the referral abuse signals.
DEVICE_HEADER = "X-Device-Id"


# Each input serializer's fields, built once per language. DRF builds them again for every
# serializer (a deep copy of the declared fields: 50 µs of a login's 110 µs of validation), and
# a login's CPU is what its benchmark target measures (docs/performance.md › What the work
# changed). Sharing them is safe for input serializers: validating reads a field and never
# changes it, and the only things a field reads of its serializer are `partial` and `context`,
# which `validated` never sets. Per language, because a field may translate a message as it is
# built (users.serializers' OtpCodeField); forgotten when a setting changes (tests), because a
# field may read one then.
_FIELDS: dict[tuple[type[serializers.Serializer], str | None], Any] = {}


@receiver(setting_changed)
def _forget_fields(**kwargs: Any) -> None:
    _FIELDS.clear()


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate request input with an input serializer; invalid input raises a 400."""
    serializer = serializer_class(data=data)
    key = (serializer_class, translation.get_language())
    fields = _FIELDS.get(key)
    if fields is None:
        _FIELDS[key] = serializer.fields
    else:
        # `fields` is a cached_property: a value on the instance is what it returns.
        serializer.__dict__["fields"] = fields
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_params(request: Request) -> dict[str, str]:
    """The query string as one value per name; a name given twice is a 400.

    Django's `QueryDict.dict()` keeps the last value, so `?page_size=5&page_size=500` would be read
    as one page size of the client's choosing: every parameter of the contract is single-valued.
    """
    params = request.query_params
    repeated = sorted(name for name, values in params.lists() if len(values) > 1)
    if repeated:
        raise ValidationError({name: [_("Give this parameter once.")] for name in repeated})
    return params.dict()


def client_ip(request: Request | HttpRequest) -> str:
    """The client's address; `X-Forwarded-For` counts only through `NUM_PROXIES` trusted hops.

    The API's views pass DRF's Request, the web pages Django's HttpRequest: DRF's rule reads
    only `META`, which both have, so both get the same address for the same request.
    """
    return BaseThrottle().get_ident(cast(Request, request)) or "unknown"

"""Request helpers every app's views use: input validation and the client's address."""

from typing import Any, cast

from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

# Optional on verify-code and activate-invite: a stable id of the client's device (8–128
# characters of A–Z a–z 0–9 . _ -), used only as an HMAC for the referral abuse signals.
DEVICE_HEADER = "X-Device-Id"


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate request input with an input serializer; invalid input raises a 400."""
    serializer = serializer_class(data=data)
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

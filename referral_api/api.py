"""Pieces the HTTP layer of every app shares: input validation and the error schema."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from referral_api.errors import ApplicationError, ServiceUnavailableError, error_body


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate request input with an input serializer; invalid input raises a 400."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def client_ip(request: Request) -> str:
    """The client's address; `X-Forwarded-For` counts only through `NUM_PROXIES` trusted hops."""
    return BaseThrottle().get_ident(request) or "unknown"


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response."""

    code = serializers.CharField(help_text="Stable, snake_case error code (part of the contract).")
    message = serializers.CharField(help_text="Human-readable English message.")
    # A declared field, not Serializer.errors: DRF moves declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name → messages, for `validation_error`; `{}` otherwise.",
    )


ErrorExample = type[ApplicationError] | tuple[str, str, dict[str, list[str]]]

VALIDATION_ERROR: ErrorExample = (
    "validation_error",
    "The request has invalid fields.",
    {"phone": ["Enter a valid phone number in international format, e.g. +79991234567."]},
)
PARSE_ERROR: ErrorExample = ("parse_error", "JSON parse error - Expecting value.", {})
NOT_AUTHENTICATED: ErrorExample = (
    "not_authenticated",
    "Authentication credentials were not provided.",
    {},
)
TOKEN_NOT_VALID: ErrorExample = ("token_not_valid", "The token is invalid or expired.", {})
SERVICE_UNAVAILABLE: ErrorExample = ServiceUnavailableError


def error_response(description: str, *examples: ErrorExample) -> OpenApiResponse:
    """An error response for the schema, with one example body per error code it can carry."""
    bodies = []
    for example in examples:
        if isinstance(example, tuple):
            code, message, errors = example
        else:
            code, message, errors = example.code, example.message, {}
        bodies.append(OpenApiExample(code, value=error_body(code, message, errors)))
    return OpenApiResponse(response=ErrorSerializer, description=description, examples=bodies)


UNAUTHORIZED = error_response("No or an invalid access token.", NOT_AUTHENTICATED, TOKEN_NOT_VALID)


def retry_after(*statuses: int) -> OpenApiParameter:
    """The `Retry-After` response header that every 429 and 503 carries."""
    return OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=list(statuses),
        description="Whole seconds (at least 1) until the request can succeed.",
    )


WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    str,
    OpenApiParameter.HEADER,
    response=[401],
    description='The challenge for a missing or refused token: `Bearer realm="api"`.',
)

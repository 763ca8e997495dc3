"""The pieces of the OpenAPI schema that every app's views share: the error body, its examples,
common response headers, example objects, the operations' order, and a hook that documents
every error code (`ErrorCode`) with an example body.
"""

from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers

from referral_api.error_codes import ErrorCode
from referral_api.errors import (
    DJANGO_ERRORS,
    ApplicationError,
    Message,
    ServiceUnavailableError,
    api_exception_body,
    error_body,
)
from referral_api.pagination import NewestFirstCursorPagination


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response."""

    code = serializers.CharField(help_text="Stable, snake_case error code (part of the contract).")
    message = serializers.CharField(help_text="Human-readable English message.")
    # A declared field, not Serializer.errors: DRF moves declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name → messages, for `validation_error`; `{}` otherwise.",
    )


ErrorExample = type[ApplicationError] | tuple[ErrorCode, str, dict[str, list[str]]]

_FIELD_ERRORS = {
    "phone": ["Enter a valid phone number in international format, e.g. +79991234567."]
}
VALIDATION_ERROR: ErrorExample = (
    ErrorCode.VALIDATION_ERROR,
    "The request has invalid fields.",
    _FIELD_ERRORS,
)
PARSE_ERROR: ErrorExample = (ErrorCode.PARSE_ERROR, "JSON parse error - Expecting value.", {})
NOT_AUTHENTICATED: ErrorExample = (
    ErrorCode.NOT_AUTHENTICATED,
    "Authentication credentials were not provided.",
    {},
)
TOKEN_NOT_VALID: ErrorExample = (
    ErrorCode.TOKEN_NOT_VALID,
    "The token is invalid or expired.",
    {},
)
SERVICE_UNAVAILABLE: ErrorExample = ServiceUnavailableError


def error_response(description: str, *examples: ErrorExample) -> OpenApiResponse:
    """An error response for the schema, with one example body per error code it can carry."""
    bodies = []
    for example in examples:
        # Lazy messages: drf-spectacular resolves them when it builds the (English) schema.
        message: Message
        if isinstance(example, tuple):
            code, message, errors = example
        else:
            code, message, errors = example.code, example.message, {}
        bodies.append(OpenApiExample(code, value=error_body(code, message, errors)))
    return OpenApiResponse(response=ErrorSerializer, description=description, examples=bodies)


UNAUTHORIZED = error_response("No or an invalid access token.", NOT_AUTHENTICATED, TOKEN_NOT_VALID)
FORBIDDEN = error_response(
    "The caller is not staff.",
    (ErrorCode.PERMISSION_DENIED, "You do not have permission to perform this action.", {}),
)
NOT_FOUND = error_response("No such id.", (ErrorCode.NOT_FOUND, "Not found.", {}))


def page_parameters(paginator: type[NewestFirstCursorPagination]) -> list[OpenApiParameter]:
    """`page_size` and `cursor` of a cursor-paginated list, with the paginator's own bounds."""
    return [
        OpenApiParameter(
            "page_size",
            {
                "type": "integer",
                "minimum": paginator.min_page_size,
                "maximum": paginator.max_page_size,
                "default": paginator.page_size,
            },
            description=(
                f"Items per page: default {paginator.page_size}, at most "
                f"{paginator.max_page_size}. Below {paginator.min_page_size} is a 400; a larger "
                f"value is read as {paginator.max_page_size}."
            ),
        ),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next` or `previous`."),
    ]


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

# Example objects that several operations answer with.
USER_EXAMPLE = {
    "id": 1,
    "phone": "+79991234567",
    "invite_code": "K7M2P9",
    "activated_invite_code": "A1B2C3",
    "referrals_count": 0,
    "date_joined": "2026-11-21T10:00:00Z",
}
ACCESS_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl"
REFRESH_EXAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
)

# The order client developers read the API in: sign in, use the profile, then operations.
OPERATION_ORDER = [
    "/api/v1/auth/request-code/",
    "/api/v1/auth/verify-code/",
    "/api/v1/auth/refresh/",
    "/api/v1/auth/logout/",
    "/api/v1/auth/sessions/",
    "/api/v1/auth/sessions/{id}/",
    "/api/v1/auth/logout-all/",
    "/api/v1/profile/",
    "/api/v1/profile/activate-invite/",
    "/api/v1/profile/referrals/",
    "/api/v1/profile/stats/",
    "/api/v1/rewards/",
    "/api/v1/rewards/balance/",
    "/api/v1/leaderboard/",
    "/api/v1/staff/reward-rules/",
    "/api/v1/staff/reward-rules/{id}/deactivate/",
    "/api/v1/staff/rewards/",
    "/api/v1/staff/rewards/{id}/credit/",
    "/api/v1/staff/rewards/{id}/reverse/",
    "/api/v1/staff/leaderboard/",
    "/healthz/",
    "/readyz/",
]


def operation_order(endpoint: tuple[str, str, str, Any]) -> tuple[int, str, str]:
    """Sort key for drf-spectacular's SORT_OPERATIONS: (path, path regex, method, view)."""
    path, _, method, _ = endpoint
    position = OPERATION_ORDER.index(path) if path in OPERATION_ORDER else len(OPERATION_ORDER)
    return position, path, method


# DRF exceptions that need an argument to be built.
_EXCEPTION_ARGS: dict[type[exceptions.APIException], tuple[str, ...]] = {
    exceptions.MethodNotAllowed: ("DELETE",),
    exceptions.UnsupportedMediaType: ("text/plain",),
}


_Class = TypeVar("_Class", bound=type)


def _subclasses(cls: _Class) -> list[_Class]:
    found: list[_Class] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def error_bodies() -> dict[ErrorCode, dict[str, Any]]:
    """A body for every code the server can answer: DRF's exceptions through our handler,
    Django's error pages, and every ApplicationError of the apps (one example per code)."""
    bodies: dict[ErrorCode, dict[str, Any]] = {}
    for drf_error in _subclasses(exceptions.APIException):
        body = api_exception_body(drf_error(*_EXCEPTION_ARGS.get(drf_error, ())))
        bodies.setdefault(body["code"], body)
    for code, message in DJANGO_ERRORS.values():
        bodies.setdefault(code, error_body(code, message))
    for app_error in _subclasses(ApplicationError):
        bodies.setdefault(app_error.code, error_body(app_error.code, app_error.message))
    # With a field's errors, as a client sees them.
    bodies[ErrorCode.VALIDATION_ERROR]["errors"] = _FIELD_ERRORS
    return bodies


def add_error_examples(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: `components.examples` gets one example body per `ErrorCode`."""
    bodies = error_bodies()
    examples = result.setdefault("components", {}).setdefault("examples", {})
    for code in ErrorCode:
        examples[f"error_{code}"] = {"summary": f"`{code}`", "value": bodies[code]}
    return result

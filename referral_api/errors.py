"""One error shape for every 4xx and 5xx: `{"code", "message", "errors"}` (API.md › Errors).

Messages are translated (English, Russian) by the request's `Accept-Language`; codes never are.
"""

import logging
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from redis.exceptions import ClusterError, ReadOnlyError, RedisClusterException, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from referral_api import metrics
from referral_api.error_codes import ErrorCode

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# A message: a plain string, or a lazy translation resolved in the request's language.
Message: TypeAlias = "str | StrPromise"

logger = logging.getLogger(__name__)

# Errors that mean a dependency is down, not that the request is wrong. The Redis ones include a
# failover's: a cluster without a primary for a slot (ClusterError, RedisClusterException,
# TryAgainError) and a primary that became a replica (ReadOnlyError).
OUTAGES = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterError,
    RedisClusterException,
    TryAgainError,
    ReadOnlyError,
    OperationalError,
    InterfaceError,
)
# Seconds a client should wait before retrying after a dependency outage.
OUTAGE_RETRY_AFTER = 5


class ApplicationError(Exception):
    """An expected failure of a business rule; the handler turns it into the contract's body."""

    # Every subclass names its code; the base class is never raised itself.
    code: ClassVar[ErrorCode]
    message: Message = _("The request could not be completed.")
    status_code = 400
    # For a 429: which limit refused (the metrics' label); the code when unset.
    limit: str | None = None

    def __init__(
        self,
        message: "Message | None" = None,
        *,
        retry_after: int | None = None,
        errors: dict[str, list[str]] | None = None,
        limit: str | None = None,
    ) -> None:
        self.message = message or self.message
        self.limit = limit or self.limit
        self.errors = errors or {}
        # Whole seconds, at least 1, until the request can succeed (sent as `Retry-After`).
        self.retry_after = None if retry_after is None else max(1, int(retry_after))
        super().__init__(self.message)


class ServiceUnavailableError(ApplicationError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    message = _("The service is temporarily unavailable. Try again shortly.")
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def error_body(
    code: ErrorCode, message: Message, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors or {}}


def _flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Field name → list of messages; nested fields are joined with dots."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for field, value in detail.items():
            flat.update(_flatten_errors(value, f"{prefix}.{field}" if prefix else str(field)))
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def _application_error_response(exc: ApplicationError) -> Response:
    count_throttled(exc.status_code, exc.limit or exc.code)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    body = error_body(exc.code, exc.message, exc.errors)
    return Response(body, status=exc.status_code, headers=headers)


def _api_exception_code(exc: exceptions.APIException) -> ErrorCode:
    if isinstance(exc, exceptions.ValidationError):
        return ErrorCode.VALIDATION_ERROR
    if isinstance(exc, exceptions.AuthenticationFailed):
        # SimpleJWT's InvalidToken and every other refused credential.
        return ErrorCode.TOKEN_NOT_VALID
    # DRF's own codes (not_found, throttled, …) are members: tests/api/test_error_codes.py
    # passes every DRF exception through this handler.
    return ErrorCode(str(exc.default_code))


def _api_exception_message(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return gettext("The request has invalid fields.")
    if isinstance(exc, exceptions.AuthenticationFailed):
        return gettext("The token is invalid or expired.")
    if isinstance(exc.detail, str):
        return str(exc.detail)
    return str(exc.default_detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (it keeps `Retry-After` and `WWW-Authenticate`), reshaped to the contract."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        return _application_error_response(exc)
    if isinstance(exc, OUTAGES):
        # An outage is never a reason to answer as if the request were wrong, nor to fail open.
        logger.error("dependency unavailable: %s", type(exc).__name__)
        set_rollback()
        return _application_error_response(ServiceUnavailableError(retry_after=OUTAGE_RETRY_AFTER))
    # Django's own exceptions, as DRF's handler converts them; their messages stay unsaid (a
    # lookup's 404 may name the model or the query).
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(get_error_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = api_exception_body(exc)
    count_throttled(response.status_code, response.data["code"])
    return response


def count_throttled(status_code: int, limit: str) -> None:
    """Count a 429 by its limit: every refusal with 429 is answered here or by the web pages,
    which call this too."""
    if status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        metrics.THROTTLED.labels(str(limit)).inc()


def api_exception_body(exc: exceptions.APIException) -> dict[str, Any]:
    """The contract's body for one of DRF's (or SimpleJWT's) exceptions."""
    errors = _flatten_errors(exc.detail) if isinstance(exc, exceptions.ValidationError) else {}
    return error_body(_api_exception_code(exc), _api_exception_message(exc), errors)


# What Django itself answers outside DRF's views (handler400/403/404/500 in referral_api.urls).
DJANGO_ERRORS: dict[int, tuple[ErrorCode, Message]] = {
    400: (ErrorCode.PARSE_ERROR, _("The request could not be read.")),
    403: (ErrorCode.PERMISSION_DENIED, _("You do not have permission to do this.")),
    404: (ErrorCode.NOT_FOUND, _("Not found.")),
    500: (ErrorCode.SERVER_ERROR, _("Something went wrong on our side.")),
}


def _json_error(status_code: int) -> JsonResponse:
    code, message = DJANGO_ERRORS[status_code]
    return JsonResponse(error_body(code, message), status=status_code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(404)


def server_error(request: HttpRequest) -> JsonResponse:
    return _json_error(500)

"""Per-request observability: a request id, one log line and the request metrics.

The request id comes from `X-Request-ID` only when a trusted proxy is in front (`NUM_PROXIES` >
0, the same trust `client_ip` gives `X-Forwarded-For`): otherwise any client could write what it
likes into the logs. It is returned in the response's `X-Request-ID` and added to every log
record written while the request runs (`referral_api.log_format`). Routes are URL pattern names,
never paths: a path may carry an invite code, and raw paths would make label sets unbounded.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from referral_api import metrics
from referral_api.log_format import request_id

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's id may look like: enough for a UUID or a trace id, nothing a log reader would
# have to escape.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

logger = logging.getLogger(__name__)


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern's name (`users:auth-request-code`), `static` for a file WhiteNoise
    served before any pattern was tried, or `unmatched`."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return str(match.view_name)
    if settings.STATIC_URL and request.path.startswith(settings.STATIC_URL):
        return metrics.STATIC_ROUTE
    return metrics.UNMATCHED_ROUTE


def _incoming_id(request: HttpRequest) -> str | None:
    if settings.REST_FRAMEWORK.get("NUM_PROXIES", 0) <= 0:
        return None
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else None


class RequestLogMiddleware:
    """First in the chain, so that the duration and the id cover every other middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        request_finished.connect(_forget_request_id, dispatch_uid="referral_api.request_log")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = _incoming_id(request) or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            route, status = route_of(request), response.status_code
            method = request.method if request.method in _METHODS else "other"
            metrics.HTTP_REQUESTS.labels(route, method, status).inc()
            metrics.HTTP_REQUEST_DURATION.labels(route, method, status).observe(duration)
            logger.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                duration * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                },
            )
            response.headers[REQUEST_ID_HEADER] = rid
        except BaseException:
            request_id.reset(token)
            raise
        # Django logs a 4xx or 5xx (`django.request`) after the middleware has returned: the id
        # stays until the server closes the response (`_forget_request_id`).
        return response


def _forget_request_id(**kwargs: object) -> None:
    request_id.set(None)


# Methods are a label: anything else a client sends is counted as `other`.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

"""`/metrics`: the metrics in Prometheus's text format, for a scraper that may read them.

Under gunicorn the workers are separate processes: with `PROMETHEUS_MULTIPROC_DIR` set (the
gunicorn configuration sets it) each process writes its values to files there, and this view adds
up every process's files, whichever worker answers.
"""

import hmac
import ipaddress
import os
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework import exceptions

from referral_api.error_codes import ErrorCode
from referral_api.errors import DJANGO_ERRORS, error_body
from referral_api.http import client_ip


@lru_cache(maxsize=8)
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowed)


def _address_allowed(request: HttpRequest) -> bool:
    allowed = tuple(settings.METRICS_ALLOWED_IPS)
    if not allowed:
        return False
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(allowed))


def _token_given(request: HttpRequest) -> str | None:
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _refusal(status: int, code: ErrorCode, message: object) -> JsonResponse:
    response = JsonResponse(error_body(code, str(message)), status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def registry() -> CollectorRegistry:
    """Every process's values when gunicorn's workers share a directory, else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    collected = CollectorRegistry()
    MultiProcessCollector(collected)
    return collected


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus's text format, for a scraper with the token or an allowed address.

    Off (404, as for any unknown path) unless `METRICS_TOKEN` or `METRICS_ALLOWED_IPS` is set.
    """
    token: str = settings.METRICS_TOKEN
    if not token and not settings.METRICS_ALLOWED_IPS:
        return _refusal(404, *DJANGO_ERRORS[404])
    if request.method not in ("GET", "HEAD"):
        return _refusal(
            405,
            ErrorCode.METHOD_NOT_ALLOWED,
            exceptions.MethodNotAllowed(str(request.method)).detail,
        )
    if not _address_allowed(request):
        given = _token_given(request)
        if not token:
            # Addresses only: no credentials would help.
            return _refusal(403, *DJANGO_ERRORS[403])
        if given is None:
            not_given = exceptions.NotAuthenticated.default_detail
            return _refusal(401, ErrorCode.NOT_AUTHENTICATED, not_given)
        # Constant time: the comparison's duration says nothing about how much of it matched.
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _refusal(403, *DJANGO_ERRORS[403])
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)

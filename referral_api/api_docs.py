"""The API documentation pages, served with local assets only."""

from typing import Any

from drf_spectacular.views import SpectacularRedocView
from rest_framework.request import Request
from rest_framework.response import Response


class RedocView(SpectacularRedocView):
    """ReDoc with local assets only: its bundle hard-codes a logo on cdn.redoc.ly."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = "img-src 'self' data:"
        return response


# The order client developers read the API in: sign in, use the profile, then operations.
OPERATION_ORDER = [
    "/api/v1/auth/request-code/",
    "/api/v1/auth/verify-code/",
    "/api/v1/auth/refresh/",
    "/api/v1/auth/logout/",
    "/api/v1/profile/",
    "/api/v1/profile/activate-invite/",
    "/api/v1/profile/referrals/",
    "/healthz/",
    "/readyz/",
]


def operation_order(endpoint: tuple[str, str, str, Any]) -> tuple[int, str, str]:
    """Sort key for drf-spectacular's SORT_OPERATIONS: (path, path regex, method, view)."""
    path, _, method, _ = endpoint
    position = OPERATION_ORDER.index(path) if path in OPERATION_ORDER else len(OPERATION_ORDER)
    return position, path, method

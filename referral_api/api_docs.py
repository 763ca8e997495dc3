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

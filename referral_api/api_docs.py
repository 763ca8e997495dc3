"""The API documentation pages, served with local assets only."""

from typing import Any

from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.request import Request
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, in English whatever `Accept-Language` asks (as docs/openapi.yaml is).

    Its examples quote the API's messages, which follow the request's language elsewhere;
    `?lang=ru` still asks for them in Russian.
    """

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with translation.override(settings.LANGUAGE_CODE):
            return super().get(request, *args, **kwargs)


class RedocView(SpectacularRedocView):
    """ReDoc with local assets only: its bundle hard-codes a logo on cdn.redoc.ly."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = "img-src 'self' data:"
        return response

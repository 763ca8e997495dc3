"""Cursor pages, newest first, for every list of the API: a page costs the same at any depth."""

from base64 import b64decode
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from referral_api.http import query_params

MAX_PAGE_SIZE = 100


class NewestFirstCursorPagination(CursorPagination):
    """DRF's cursor pagination, refusing a bad `page_size` or a forged cursor with a 400.

    Subclasses set `ordering` to a timestamp field then the id, newest first.
    """

    page_size = 20
    page_size_query_param = "page_size"
    # Below the minimum is a 400; above the maximum reads as the maximum (API.md: "at most 100").
    min_page_size = 1
    max_page_size = MAX_PAGE_SIZE
    # Where the schema's example `next` link points.
    example_path = "/api/v1/profile/referrals/"

    def get_page_size(self, request: Request) -> int:
        raw = query_params(request).get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=self.min_page_size)
        try:
            size = field.run_validation(raw)
        except ValidationError as exc:
            raise ValidationError({self.page_size_query_param: exc.detail}) from exc
        return min(size, self.max_page_size)

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF skips characters outside base64 and never checks the position, so a forged cursor
        # could pass for the first page or fail deep inside the query: refuse both up front.
        encoded = query_params(request).get(self.cursor_query_param)
        if encoded is not None:
            try:
                b64decode(encoded.encode("ascii"), validate=True)
            except ValueError as exc:
                raise NotFound(self.invalid_cursor_message) from exc
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                position = parse_datetime(str(cursor.position))
            except ValueError:
                position = None
            if position is None or timezone.is_naive(position):
                raise NotFound(self.invalid_cursor_message)
        return cursor

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            invalid = [_("This cursor is not valid.")]
            raise ValidationError({self.cursor_query_param: invalid}) from exc

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        link = f"http://127.0.0.1:8000{self.example_path}?cursor=cD0yMDI2LTExLTIx"
        paginated["properties"]["next"]["example"] = link
        paginated["properties"]["previous"]["example"] = None
        paginated["required"] = ["next", "previous", "results"]
        return paginated

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ReferralCursorPagination(CursorPagination):
    """Newest first; a page costs the same at any depth. `count` comes from the owner's counter."""

    ordering = ("-referred_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    # Set by the view from the owner's counter, so no page ever runs a COUNT query.
    count = 0

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=1)
        try:
            size = field.run_validation(raw)
        except ValidationError as exc:
            raise ValidationError({self.page_size_query_param: exc.detail}) from exc
        return min(size, self.max_page_size)

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: ["This cursor is not valid."]}) from exc

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "count": self.count,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        link = "http://127.0.0.1:8000/api/v1/profile/referrals/?cursor=cD0yMDI2LTExLTIx"
        paginated["properties"]["next"]["example"] = link
        paginated["properties"]["previous"]["example"] = None
        paginated["properties"]["count"] = {
            "type": "integer",
            "example": 42,
            "description": "How many users activated the caller's invite code in all.",
        }
        paginated["required"] = ["next", "previous", "count", "results"]
        return paginated

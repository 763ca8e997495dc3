from typing import Any

from rest_framework.response import Response

from referral_api.pagination import NewestFirstCursorPagination


class ReferralCursorPagination(NewestFirstCursorPagination):
    """Referrals, newest first. `count` comes from the owner's counter, never a COUNT query."""

    ordering = ("-referred_at", "-id")
    # Set by the view from the owner's counter.
    count = 0

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {
            "next": response.data["next"],
            "previous": response.data["previous"],
            "count": self.count,
            "results": data,
        }
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count"] = {
            "type": "integer",
            "example": 42,
            "description": "How many users activated the caller's invite code in all.",
        }
        paginated["required"] = ["next", "previous", "count", "results"]
        return paginated

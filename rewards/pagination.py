from referral_api.pagination import NewestFirstCursorPagination


class RewardEntryCursorPagination(NewestFirstCursorPagination):
    """Reward entries, newest first."""

    ordering = ("-created_at", "-id")
    example_path = "/api/v1/rewards/"


class RewardRuleCursorPagination(NewestFirstCursorPagination):
    """Reward rules, newest first."""

    ordering = ("-created_at", "-id")
    example_path = "/api/v1/staff/reward-rules/"

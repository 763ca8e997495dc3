from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from referral_api.error_codes import ErrorCode
from referral_api.http import query_params, validated
from referral_api.openapi import (
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    WWW_AUTHENTICATE,
    error_response,
    page_parameters,
)
from rewards.exceptions import RewardStateConflictError
from rewards.pagination import RewardEntryCursorPagination, RewardRuleCursorPagination
from rewards.selectors import (
    reward_balances_of,
    reward_entries_of,
    reward_rules,
    staff_reward_entries,
)
from rewards.serializers import (
    RewardBalancesSerializer,
    RewardEntrySerializer,
    RewardReverseInputSerializer,
    RewardRuleCreateInputSerializer,
    RewardRuleSerializer,
    StaffRewardEntrySerializer,
    StaffRewardQuerySerializer,
)
from rewards.services import (
    reward_credit,
    reward_reverse,
    reward_rule_create,
    reward_rule_deactivate,
)
from users.authentication import signed_in_user
from users.selectors import user_by_phone

ENTRY_EXAMPLE = {
    "id": 17,
    "kind": "referrer",
    "amount": 100,
    "unit": "points",
    "state": "pending",
    "referral_phone": "+79997654321",
    "created_at": "2026-11-21T10:05:00Z",
    "credit_due_at": "2026-11-28T10:05:00Z",
    "credited_at": None,
    "reversed_at": None,
}
STAFF_ENTRY_EXAMPLE = {
    **ENTRY_EXAMPLE,
    "state": "credited",
    "credited_at": "2026-11-22T09:00:00Z",
    "user_id": 1,
    "user_phone": "+79991234567",
    "risk_signals": [],
    "credited_by": 2,
    "reversed_by": None,
    "reversal_reason": "",
}
RULE_EXAMPLE = {
    "id": 3,
    "referrer_amount": 100,
    "referee_amount": 50,
    "unit": "points",
    "auto_credit_days": 7,
    "referrer_daily_cap": 20,
    "is_active": True,
    "created_at": "2026-11-21T10:00:00Z",
    "deactivated_at": None,
}
INVALID_PAGE = error_response(
    "Invalid `page_size` or `cursor`.",
    (
        ErrorCode.VALIDATION_ERROR,
        "The request has invalid fields.",
        {"cursor": ["This cursor is not valid."]},
    ),
)


def _page(request: Request, view: Any, paginator: Any, queryset: Any, serializer: Any) -> Response:
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


class RewardViewSet(viewsets.GenericViewSet):
    """The signed-in user's rewards: the ledger and the balances."""

    permission_classes = (IsAuthenticated,)
    pagination_class = RewardEntryCursorPagination

    @extend_schema(
        summary="List my reward entries",
        tags=["rewards"],
        description=(
            "The caller's entries in the rewards ledger, newest first, with cursor pagination "
            "(follow `next`). Entries held for review show as `pending`."
        ),
        parameters=[WWW_AUTHENTICATE, *page_parameters(RewardEntryCursorPagination)],
        responses={200: RewardEntrySerializer(many=True), 400: INVALID_PAGE, 401: UNAUTHORIZED},
        examples=[OpenApiExample("A page", value=ENTRY_EXAMPLE, response_only=True)],
    )
    def list(self, request: Request) -> Response:
        entries = reward_entries_of(user=signed_in_user(request))
        return _page(request, self, self.paginator, entries, RewardEntrySerializer)

    @extend_schema(
        summary="Read my balances",
        tags=["rewards"],
        description=(
            "Sums of the caller's entries per unit and state, sorted by unit (held entries count "
            "as pending). Exact at every moment."
        ),
        parameters=[WWW_AUTHENTICATE],
        responses={200: RewardBalancesSerializer, 401: UNAUTHORIZED},
        examples=[
            OpenApiExample(
                "Balances",
                value={
                    "balances": [{"unit": "points", "pending": 150, "credited": 100, "reversed": 0}]
                },
                response_only=True,
            )
        ],
    )
    @action(detail=False, methods=["get"])
    def balance(self, request: Request) -> Response:
        rows = reward_balances_of(user=signed_in_user(request))
        balances = [
            {
                "unit": row.unit,
                "pending": row.pending,
                "credited": row.credited,
                "reversed": row.reversed,
            }
            for row in rows
        ]
        return Response({"balances": balances})


class StaffRewardRuleViewSet(viewsets.GenericViewSet):
    """Staff: reward rules. Creating one makes it the only active rule."""

    permission_classes = (IsAdminUser,)
    pagination_class = RewardRuleCursorPagination
    lookup_value_regex = r"[0-9]+"

    @extend_schema(
        summary="List reward rules",
        tags=["staff"],
        description="Every rule, newest first, with cursor pagination.",
        parameters=[WWW_AUTHENTICATE, *page_parameters(RewardRuleCursorPagination)],
        responses={
            200: RewardRuleSerializer(many=True),
            400: INVALID_PAGE,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
        },
        examples=[OpenApiExample("A page", value=RULE_EXAMPLE, response_only=True)],
    )
    def list(self, request: Request) -> Response:
        return _page(request, self, self.paginator, reward_rules(), RewardRuleSerializer)

    @extend_schema(
        summary="Create a reward rule",
        tags=["staff"],
        description=(
            "The new rule becomes the only active one; the previous active rule is deactivated "
            "in the same transaction. Rules are never edited or deleted. Amounts are integers "
            "0–1,000,000,000, not both 0."
        ),
        parameters=[WWW_AUTHENTICATE],
        request=RewardRuleCreateInputSerializer,
        responses={
            201: RewardRuleSerializer,
            400: error_response(
                "Invalid fields.",
                (
                    ErrorCode.VALIDATION_ERROR,
                    "The request has invalid fields.",
                    {"non_field_errors": ["The two amounts cannot both be 0."]},
                ),
            ),
            401: UNAUTHORIZED,
            403: FORBIDDEN,
        },
        examples=[
            OpenApiExample(
                "Request",
                value={
                    "referrer_amount": 100,
                    "referee_amount": 50,
                    "unit": "points",
                    "auto_credit_days": 7,
                    "referrer_daily_cap": 20,
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=RULE_EXAMPLE, response_only=True),
        ],
    )
    def create(self, request: Request) -> Response:
        data = validated(RewardRuleCreateInputSerializer, request.data)
        rule = reward_rule_create(staff=signed_in_user(request), **data)
        return Response(RewardRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Deactivate a reward rule",
        tags=["staff"],
        description=(
            "Afterwards no rule is active (referrals earn nothing). Deactivating an inactive "
            "rule changes nothing and also answers 200."
        ),
        parameters=[WWW_AUTHENTICATE],
        request=None,
        responses={200: RewardRuleSerializer, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "Deactivated",
                value={
                    **RULE_EXAMPLE,
                    "is_active": False,
                    "deactivated_at": "2026-11-30T12:00:00Z",
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        rule = reward_rule_deactivate(rule_id=int(pk), staff=signed_in_user(request))
        return Response(RewardRuleSerializer(rule).data)


class StaffRewardViewSet(viewsets.GenericViewSet):
    """Staff: every user's reward entries; credit and reverse them."""

    permission_classes = (IsAdminUser,)
    pagination_class = RewardEntryCursorPagination
    lookup_value_regex = r"[0-9]+"

    @extend_schema(
        summary="List reward entries (staff)",
        tags=["staff"],
        description=(
            "Every user's entries, newest first, with cursor pagination; filter by `state` "
            "(`held` lists the review queue) and by the owner's `phone` (send `+` as `%2B`; a "
            "`+` that arrives as a space is read as `+`)."
        ),
        parameters=[
            WWW_AUTHENTICATE,
            OpenApiParameter("state", str, enum=["pending", "held", "credited", "reversed"]),
            OpenApiParameter(
                "phone",
                {"type": "string", "minLength": 1, "maxLength": 32},
                description="The owner's phone, e.g. +79991234567.",
            ),
            *page_parameters(RewardEntryCursorPagination),
        ],
        responses={
            200: StaffRewardEntrySerializer(many=True),
            400: error_response(
                "Invalid filter, `page_size` or `cursor`.",
                (
                    ErrorCode.VALIDATION_ERROR,
                    "The request has invalid fields.",
                    {"state": ['"paid" is not a valid choice.']},
                ),
            ),
            401: UNAUTHORIZED,
            403: FORBIDDEN,
        },
        examples=[OpenApiExample("A page", value=STAFF_ENTRY_EXAMPLE, response_only=True)],
    )
    def list(self, request: Request) -> Response:
        params = query_params(request)
        if params.get("phone", "").startswith(" "):
            # An unencoded `+` in a query string arrives as a space.
            params["phone"] = "+" + params["phone"].lstrip()
        filters = validated(StaffRewardQuerySerializer, params)
        entries = staff_reward_entries(state=filters.get("state"))
        if "phone" in filters:
            owner = user_by_phone(phone=filters["phone"])
            entries = entries.filter(user=owner) if owner else entries.none()
        return _page(request, self, self.paginator, entries, StaffRewardEntrySerializer)

    @extend_schema(
        summary="Credit a reward entry",
        tags=["staff"],
        description=(
            "Pending or held → credited. Crediting a credited entry changes nothing (200); a "
            "reversed one is refused with 409 `reward_state_conflict`."
        ),
        parameters=[WWW_AUTHENTICATE],
        request=None,
        responses={
            200: StaffRewardEntrySerializer,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: error_response("The entry was reversed.", RewardStateConflictError),
        },
        examples=[OpenApiExample("Credited", value=STAFF_ENTRY_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def credit(self, request: Request, pk: str) -> Response:
        entry = reward_credit(entry_id=int(pk), staff=signed_in_user(request))
        return Response(StaffRewardEntrySerializer(_reloaded(entry.pk)).data)

    @extend_schema(
        summary="Reverse a reward entry",
        tags=["staff"],
        description=(
            "Pending, held or credited → reversed (a clawback), with a reason. Reversing a "
            "reversed entry changes nothing (200)."
        ),
        parameters=[WWW_AUTHENTICATE],
        request=RewardReverseInputSerializer,
        responses={
            200: StaffRewardEntrySerializer,
            400: error_response(
                "No or an invalid reason.",
                (
                    ErrorCode.VALIDATION_ERROR,
                    "The request has invalid fields.",
                    {"reason": ["This field is required."]},
                ),
            ),
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        examples=[
            OpenApiExample("Request", value={"reason": "duplicate account"}, request_only=True),
            OpenApiExample(
                "Reversed",
                value={
                    **STAFF_ENTRY_EXAMPLE,
                    "state": "reversed",
                    "reversed_at": "2026-11-23T09:00:00Z",
                    "reversed_by": 2,
                    "reversal_reason": "duplicate account",
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def reverse(self, request: Request, pk: str) -> Response:
        data = validated(RewardReverseInputSerializer, request.data)
        entry = reward_reverse(
            entry_id=int(pk), staff=signed_in_user(request), reason=data["reason"]
        )
        return Response(StaffRewardEntrySerializer(_reloaded(entry.pk)).data)


def _reloaded(entry_id: int) -> Any:
    return staff_reward_entries().get(pk=entry_id)

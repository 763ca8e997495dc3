from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from invites.exceptions import (
    InviteActivationThrottledError,
    InviteCodeNotFoundError,
    InviteCodeOwnError,
    InviteCycleError,
)
from invites.pagination import ReferralCursorPagination
from invites.selectors import referrals_of
from invites.serializers import InviteActivateInputSerializer, ReferralSerializer
from invites.services import invite_activate
from referral_api.error_codes import ErrorCode
from referral_api.http import validated
from referral_api.openapi import (
    PARSE_ERROR,
    UNAUTHORIZED,
    USER_EXAMPLE,
    WWW_AUTHENTICATE,
    error_response,
    retry_after,
)
from users.authentication import signed_in_user
from users.serializers import UserSerializer


class ProfileViewSet(viewsets.GenericViewSet):
    """The signed-in user's profile, invite code and referrals."""

    permission_classes = (IsAuthenticated,)
    pagination_class = ReferralCursorPagination

    @extend_schema(
        summary="Read the profile",
        parameters=[WWW_AUTHENTICATE],
        description=(
            "The caller's phone, own invite code (to share), the code they activated (or null) "
            "and how many users activated theirs."
        ),
        responses={
            200: UserSerializer,
            401: UNAUTHORIZED,
        },
        examples=[OpenApiExample("Profile", value=USER_EXAMPLE, response_only=True)],
    )
    def read(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        summary="Activate an invite code",
        parameters=[retry_after(429, 503), WWW_AUTHENTICATE],
        description=(
            "Records that another user invited the caller. Allowed once per user, ever. The code "
            "is case-insensitive and surrounding spaces are ignored. When several failures apply, "
            "the first of validation_error, throttled, invite_already_activated, "
            "invite_code_not_found, invite_code_own, invite_cycle wins. Only unknown codes count "
            "toward the hourly failure limit (`INVITE_ACTIVATE_FAILURES_PER_HOUR`)."
        ),
        request=InviteActivateInputSerializer,
        responses={
            200: UserSerializer,
            400: error_response(
                "Invalid, unknown or own code, or one that would make a referral cycle.",
                (
                    ErrorCode.VALIDATION_ERROR,
                    "The request has invalid fields.",
                    {"invite_code": ["An invite code is 6 letters or digits, e.g. A1B2C3."]},
                ),
                InviteCodeNotFoundError,
                InviteCodeOwnError,
                InviteCycleError,
                PARSE_ERROR,
            ),
            401: UNAUTHORIZED,
            409: error_response(
                "The caller already activated a code; the message names it.",
                (
                    ErrorCode.INVITE_ALREADY_ACTIVATED,
                    "You have already activated the invite code A1B2C3.",
                    {},
                ),
            ),
            429: error_response(
                "Too many unknown codes tried this hour.", InviteActivationThrottledError
            ),
        },
        examples=[
            OpenApiExample("Request", value={"invite_code": "x9y8z7"}, request_only=True),
            OpenApiExample("Activated", value=USER_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=False, methods=["post"], url_path="activate-invite")
    def activate_invite(self, request: Request) -> Response:
        data = validated(InviteActivateInputSerializer, request.data)
        user = invite_activate(user=signed_in_user(request), code=data["invite_code"])
        return Response(UserSerializer(user).data)

    @extend_schema(
        summary="List referrals",
        description=(
            "Users who activated the caller's invite code, newest first, with cursor pagination: "
            "follow `next` and `previous`. A page costs the same at any depth. `count` is the "
            "total. Only the caller's own referrals are ever visible."
        ),
        parameters=[
            WWW_AUTHENTICATE,
            OpenApiParameter(
                "page_size",
                {
                    "type": "integer",
                    "minimum": ReferralCursorPagination.min_page_size,
                    "maximum": ReferralCursorPagination.max_page_size,
                    "default": ReferralCursorPagination.page_size,
                },
                description=(
                    f"Items per page: default {ReferralCursorPagination.page_size}, at most "
                    f"{ReferralCursorPagination.max_page_size}. Below "
                    f"{ReferralCursorPagination.min_page_size} is a 400; a larger value is read "
                    f"as {ReferralCursorPagination.max_page_size}."
                ),
            ),
            OpenApiParameter("cursor", str, description="Opaque cursor from `next` or `previous`."),
        ],
        responses={
            200: ReferralSerializer(many=True),
            400: error_response(
                "Invalid `page_size` or `cursor`.",
                (
                    ErrorCode.VALIDATION_ERROR,
                    "The request has invalid fields.",
                    {"cursor": ["This cursor is not valid."]},
                ),
            ),
            401: UNAUTHORIZED,
        },
        examples=[
            # drf-spectacular wraps the item in the paginated envelope.
            OpenApiExample(
                "A page",
                value={"phone": "+79997654321", "activated_at": "2026-11-21T10:05:00Z"},
                response_only=True,
            )
        ],
    )
    @action(detail=False, methods=["get"])
    def referrals(self, request: Request) -> Response:
        user = signed_in_user(request)
        paginator = ReferralCursorPagination()
        paginator.count = user.referrals_count
        page = paginator.paginate_queryset(
            referrals_of(user=user).only("phone", "referred_at"), request, view=self
        )
        return paginator.get_paginated_response(ReferralSerializer(page, many=True).data)

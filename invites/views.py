from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from invites import leaderboard
from invites.exceptions import (
    InviteActivationThrottledError,
    InviteCodeNotFoundError,
    InviteCodeOwnError,
    InviteCycleError,
)
from invites.pagination import ReferralCursorPagination
from invites.selectors import phones_of, referral_stats, referrals_of
from invites.serializers import (
    InviteActivateInputSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    ReferralSerializer,
    ReferralStatsSerializer,
    StaffLeaderboardSerializer,
)
from invites.services import invite_activate
from referral_api.db_router import replica_reads
from referral_api.error_codes import ErrorCode
from referral_api.http import DEVICE_HEADER, client_ip, query_params, validated
from referral_api.openapi import (
    FORBIDDEN,
    PARSE_ERROR,
    UNAUTHORIZED,
    USER_EXAMPLE,
    WWW_AUTHENTICATE,
    error_response,
    page_parameters,
    retry_after,
)
from users.authentication import signed_in_user
from users.phone import mask_phone
from users.serializers import UserSerializer
from users.sightings import client_marks


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
        marks = client_marks(ip=client_ip(request), device_id=request.headers.get(DEVICE_HEADER))
        user = invite_activate(user=signed_in_user(request), code=data["invite_code"], marks=marks)
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
            *page_parameters(ReferralCursorPagination),
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
    @replica_reads
    def referrals(self, request: Request) -> Response:
        user = signed_in_user(request)
        paginator = ReferralCursorPagination()
        paginator.count = user.referrals_count
        page = paginator.paginate_queryset(
            referrals_of(user=user).only("phone", "referred_at"), request, view=self
        )
        return paginator.get_paginated_response(ReferralSerializer(page, many=True).data)

    @extend_schema(
        summary="Referral stats",
        description=(
            "How many users activated the caller's code: in all, in the last 7 and 30 days, and "
            "a timeline of exactly 30 UTC days, oldest first, the last one today. A referral "
            "counts on the UTC date it was activated."
        ),
        parameters=[WWW_AUTHENTICATE],
        responses={200: ReferralStatsSerializer, 401: UNAUTHORIZED},
        examples=[
            OpenApiExample(
                "Stats",
                value={
                    "referrals_count": 42,
                    "referrals_last_7_days": 5,
                    "referrals_last_30_days": 12,
                    "timeline": [
                        {"date": "2026-11-02", "referrals": 0},
                        {"date": "2026-12-01", "referrals": 3},
                    ],
                },
                response_only=True,
                description="The timeline is shortened here; the answer has 30 items.",
            )
        ],
    )
    @action(detail=False, methods=["get"])
    @replica_reads
    def stats(self, request: Request) -> Response:
        stats = referral_stats(user=signed_in_user(request), today=timezone.now().date())
        body = {
            "referrals_count": stats.referrals_count,
            "referrals_last_7_days": stats.referrals_last_7_days,
            "referrals_last_30_days": stats.referrals_last_30_days,
            "timeline": [{"date": day, "referrals": count} for day, count in stats.timeline],
        }
        return Response(ReferralStatsSerializer(body).data)


LEADERBOARD_PARAMETERS = [
    OpenApiParameter("period", str, enum=[period.value for period in leaderboard.Period]),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        description="How many top referrers (1–100, default 10).",
    ),
]
INVALID_LEADERBOARD_QUERY = error_response(
    "Unknown `period` or `limit` out of 1–100.",
    (
        ErrorCode.VALIDATION_ERROR,
        "The request has invalid fields.",
        {"limit": ["Ensure this value is less than or equal to 100."]},
    ),
)


def _standings(
    request: Request, *, user_id: int | None
) -> tuple[dict[str, Any], list[leaderboard.Standing], Any]:
    query = validated(LeaderboardQuerySerializer, query_params(request))
    period = leaderboard.Period(query["period"])
    now = timezone.now()
    top, own = leaderboard.standings(period=period, now=now, limit=query["limit"], user_id=user_id)
    body = {"period": period.value, "starts_at": leaderboard.period_start(period, now)}
    return body, top, own


class LeaderboardViewSet(viewsets.GenericViewSet):
    """Top referrers of a period, phones masked, and the caller's own rank."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        summary="Leaderboard",
        tags=["leaderboard"],
        description=(
            "Users ranked by referrals in the period, most first: `all`, this calendar `month` "
            "or this ISO `week` (from 00:00 UTC of its first day). Equal counts share a rank and "
            "the next rank skips (1, 2, 2, 4). Phones are masked. `me` is the caller's standing "
            "(`rank` null without a referral in the period). A new referral shows within 2 s."
        ),
        parameters=[WWW_AUTHENTICATE, *LEADERBOARD_PARAMETERS],
        responses={200: LeaderboardSerializer, 400: INVALID_LEADERBOARD_QUERY, 401: UNAUTHORIZED},
        examples=[
            OpenApiExample(
                "This month",
                value={
                    "period": "month",
                    "starts_at": "2026-12-01T00:00:00Z",
                    "results": [{"rank": 1, "phone": "+7********67", "referrals": 120}],
                    "me": {"rank": 57, "referrals": 3},
                },
                response_only=True,
            )
        ],
    )
    @replica_reads
    def read(self, request: Request) -> Response:
        user = signed_in_user(request)
        body, top, own = _standings(request, user_id=user.pk)
        # The masked phones come with the standings; only members the hash beside the set lacks
        # are read from PostgreSQL (none once the leaderboards were fed or rebuilt by this code).
        missing = [standing.user_id for standing in top if standing.masked_phone is None]
        phones = phones_of(user_ids=missing) if missing else {}
        body["results"] = [
            {
                "rank": standing.rank,
                "phone": (
                    standing.masked_phone
                    if standing.masked_phone is not None
                    else mask_phone(phones.get(standing.user_id, ""))
                ),
                "referrals": standing.referrals,
            }
            for standing in top
        ]
        body["me"] = {"rank": own.rank, "referrals": own.referrals}
        return Response(LeaderboardSerializer(body).data)


class StaffLeaderboardViewSet(viewsets.GenericViewSet):
    """Staff: the leaderboard with whole phones and user ids."""

    permission_classes = (IsAdminUser,)

    @extend_schema(
        summary="Leaderboard (staff)",
        tags=["staff"],
        description="As the leaderboard, with whole phones and user ids, without `me`.",
        parameters=[WWW_AUTHENTICATE, *LEADERBOARD_PARAMETERS],
        responses={
            200: StaffLeaderboardSerializer,
            400: INVALID_LEADERBOARD_QUERY,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
        },
        examples=[
            OpenApiExample(
                "All time",
                value={
                    "period": "all",
                    "starts_at": None,
                    "results": [
                        {"rank": 1, "user_id": 7, "phone": "+79991234567", "referrals": 120}
                    ],
                },
                response_only=True,
            )
        ],
    )
    @replica_reads
    def read(self, request: Request) -> Response:
        body, top, _ = _standings(request, user_id=None)
        # Staff see whole numbers, which Redis never holds: read from PostgreSQL.
        phones = phones_of(user_ids=[standing.user_id for standing in top])
        body["results"] = [
            {
                "rank": standing.rank,
                "user_id": standing.user_id,
                "phone": phones.get(standing.user_id, ""),
                "referrals": standing.referrals,
            }
            for standing in top
        ]
        return Response(StaffLeaderboardSerializer(body).data)

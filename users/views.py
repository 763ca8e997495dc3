from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.tokens import Token

from invites.exceptions import InviteCodeNotFoundError
from referral_api.error_codes import ErrorCode
from referral_api.http import DEVICE_HEADER, client_ip, validated
from referral_api.openapi import (
    ACCESS_EXAMPLE,
    NOT_FOUND,
    PARSE_ERROR,
    REFRESH_EXAMPLE,
    SERVICE_UNAVAILABLE,
    TOKEN_NOT_VALID,
    UNAUTHORIZED,
    USER_EXAMPLE,
    VALIDATION_ERROR,
    WWW_AUTHENTICATE,
    error_response,
    retry_after,
)
from users.authentication import JWTAuthentication, signed_in_user
from users.exceptions import (
    AccountDisabledError,
    OtpAttemptsExceededError,
    OtpCooldownError,
    OtpExpiredError,
    OtpInvalidError,
    OtpSendLimitError,
    SessionNotFoundError,
)
from users.serializers import (
    LoginSerializer,
    LogoutInputSerializer,
    OtpRequestInputSerializer,
    OtpRequestSerializer,
    OtpVerifyInputSerializer,
    SessionListSerializer,
    TokenPairSerializer,
    TokenRefreshInputSerializer,
)
from users.services import (
    auth_login,
    auth_logout,
    otp_request,
    session_end,
    sessions_end_all,
    token_refresh,
)
from users.sessions import live_sessions
from users.sightings import client_marks
from users.tokens import session_id_of

SESSION_EXAMPLE = {
    "id": "6f1c2d9e-8a4b-4c1e-9d2f-0b7e5a3c1d44",
    "created_at": "2026-11-21T10:00:00Z",
    "last_used_at": "2026-11-21T12:34:00Z",
    "user_agent": "ReferralApp/2.3 (iPhone; iOS 18.1)",
    "current": True,
}


class AuthViewSet(viewsets.GenericViewSet):
    """Phone login: ask for a one-time code, exchange it for tokens, rotate and revoke tokens."""

    # Signing out needs a signed-in caller; the other actions must not even look at an
    # Authorization header (a stale token must not stop a login).
    signed_in_actions = frozenset({"logout", "sessions", "end_session", "logout_all"})

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # DRF names the action only after it has chosen the authenticators; they depend on it.
        self.action = self.action_map.get((request.method or "").lower(), "")
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self) -> list[BaseAuthentication]:
        if self.action in self.signed_in_actions:
            return [JWTAuthentication()]
        return []

    def get_permissions(self) -> list[BasePermission]:
        if self.action in self.signed_in_actions:
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_authenticate_header(self, request: Request) -> str:
        # A refused refresh token answers 401 with a challenge, though no login is needed here.
        return JWTAuthentication().authenticate_header(request)

    @extend_schema(
        summary="Send a login code by SMS",
        parameters=[retry_after(429, 503)],
        description=(
            "Parses the phone number (any common format; `PHONE_DEFAULT_REGION` admits national "
            "formats), normalises it to E.164 and sends a one-time code by SMS. A new code "
            "replaces the previous one. The answer is the same whether or not the phone belongs "
            "to a user. Every 429 and 503 carries `Retry-After` (seconds)."
        ),
        request=OtpRequestInputSerializer,
        responses={
            200: OtpRequestSerializer,
            400: error_response("Invalid phone number.", VALIDATION_ERROR, PARSE_ERROR),
            429: error_response(
                "Asked again too soon, over a send limit, or the phone is locked after too many "
                "wrong codes.",
                OtpCooldownError,
                OtpSendLimitError,
                OtpAttemptsExceededError,
            ),
            503: error_response("Redis is unreachable; nothing was sent.", SERVICE_UNAVAILABLE),
        },
        examples=[
            OpenApiExample("Request", value={"phone": "+7 999 123-45-67"}, request_only=True),
            OpenApiExample(
                "Code sent",
                value={
                    "phone": "+79991234567",
                    "expires_in": 300,
                    "resend_in": 60,
                    "code_length": 4,
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="request-code")
    def request_code(self, request: Request) -> Response:
        data = validated(OtpRequestInputSerializer, request.data)
        sent = otp_request(phone=data["phone"], client_ip=client_ip(request))
        body = {
            "phone": sent.phone,
            "expires_in": settings.OTP_TTL_SECONDS,
            "resend_in": settings.OTP_RESEND_COOLDOWN_SECONDS,
            "code_length": len(sent.code),
        }
        if settings.OTP_EXPOSE_CODE:
            body["debug_code"] = sent.code
        return Response(OtpRequestSerializer(body).data)

    @extend_schema(
        summary="Sign in with the code",
        parameters=[retry_after(429, 503)],
        description=(
            "Exchanges the phone and its code for an access and a refresh token. The first "
            "login creates the user; `invite_code` is applied only then, in the same "
            "transaction (an unknown one fails the call before the login code is checked, so "
            "the code stays usable). A code works once; the try that reaches `OTP_MAX_ATTEMPTS` "
            "wrong codes burns it."
        ),
        request=OtpVerifyInputSerializer,
        responses={
            200: LoginSerializer,
            400: error_response(
                "Invalid input, a wrong code, no live code, or an unknown invite code.",
                VALIDATION_ERROR,
                OtpInvalidError,
                OtpExpiredError,
                InviteCodeNotFoundError,
                PARSE_ERROR,
            ),
            403: error_response("The account is disabled.", AccountDisabledError),
            429: error_response("Too many wrong codes.", OtpAttemptsExceededError),
            503: error_response("Redis is unreachable.", SERVICE_UNAVAILABLE),
        },
        examples=[
            OpenApiExample(
                "Request",
                value={"phone": "+79991234567", "code": "1234", "invite_code": "A1B2C3"},
                request_only=True,
            ),
            OpenApiExample(
                "Signed in",
                value={
                    "access": ACCESS_EXAMPLE,
                    "refresh": REFRESH_EXAMPLE,
                    "is_new_user": True,
                    "user": USER_EXAMPLE,
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="verify-code")
    def verify_code(self, request: Request) -> Response:
        data = validated(OtpVerifyInputSerializer, request.data)
        login = auth_login(
            phone=data["phone"],
            code=data["code"],
            invite_code=data.get("invite_code"),
            marks=client_marks(ip=client_ip(request), device_id=request.headers.get(DEVICE_HEADER)),
            user_agent=request.headers.get("User-Agent", ""),
        )
        body = {
            "access": login.tokens.access,
            "refresh": login.tokens.refresh,
            "is_new_user": login.is_new_user,
            "user": login.user,
        }
        return Response(LoginSerializer(body).data)

    @extend_schema(
        summary="Rotate a refresh token",
        parameters=[WWW_AUTHENTICATE],
        description=(
            "Returns a new access token and a new refresh token. The refresh token sent works "
            "once: using it again answers 401. A session ends `JWT_SESSION_MAX_DAYS` after "
            "the login that started it, however often it is refreshed."
        ),
        request=TokenRefreshInputSerializer,
        responses={
            200: TokenPairSerializer,
            400: error_response("The body is invalid.", VALIDATION_ERROR, PARSE_ERROR),
            401: error_response(
                "Expired, reused, revoked or forged token, or a disabled user.", TOKEN_NOT_VALID
            ),
        },
        examples=[
            OpenApiExample("Request", value={"refresh": REFRESH_EXAMPLE}, request_only=True),
            OpenApiExample(
                "Rotated",
                value={"access": ACCESS_EXAMPLE, "refresh": REFRESH_EXAMPLE},
                response_only=True,
            ),
        ],
    )
    @action(detail=False, methods=["post"])
    def refresh(self, request: Request) -> Response:
        data = validated(TokenRefreshInputSerializer, request.data)
        pair = token_refresh(refresh=data["refresh"])
        return Response(TokenPairSerializer(pair).data)

    @extend_schema(
        summary="Sign out",
        parameters=[WWW_AUTHENTICATE],
        description=(
            "Revokes the given refresh token of the caller and ends its session: that session's "
            "refresh and access tokens stop working at once. Signing out twice is not an error: "
            "an already revoked or expired refresh token of the caller also answers 204."
        ),
        request=LogoutInputSerializer,
        responses={
            204: None,
            400: error_response(
                "Malformed or forged refresh token, or one of another user.",
                (
                    ErrorCode.VALIDATION_ERROR,
                    "The refresh token is not valid for this user.",
                    {"refresh": ["The refresh token is not valid for this user."]},
                ),
                PARSE_ERROR,
            ),
            401: UNAUTHORIZED,
        },
        examples=[OpenApiExample("Request", value={"refresh": REFRESH_EXAMPLE}, request_only=True)],
    )
    @action(detail=False, methods=["post"])
    def logout(self, request: Request) -> Response:
        data = validated(LogoutInputSerializer, request.data)
        auth_logout(user=signed_in_user(request), refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="List my sessions",
        parameters=[WWW_AUTHENTICATE],
        description=(
            "The caller's signed-in sessions (one per login, with every token pair rotated from "
            "it), newest first: only live ones (not ended, not past `JWT_SESSION_MAX_DAYS`). "
            "`current` marks the session of the access token used. `last_used_at` is kept to "
            "the minute."
        ),
        responses={200: SessionListSerializer, 401: UNAUTHORIZED},
        examples=[
            OpenApiExample(
                "Sessions",
                value={"results": [SESSION_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    @action(detail=False, methods=["get"])
    def sessions(self, request: Request) -> Response:
        user = signed_in_user(request)
        # request.auth is the validated access token (users.authentication).
        current = session_id_of(request.auth) if isinstance(request.auth, Token) else None
        rows = live_sessions(user=user, now=timezone.now())
        body = {"results": [{"session": row, "current": row.pk == current} for row in rows]}
        return Response(SessionListSerializer(body).data)

    @extend_schema(
        summary="End a session",
        description=(
            "Ends one of the caller's sessions (e.g. a lost phone): its refresh and access tokens "
            "stop working at once. Ending an already ended session of the caller is also 204. "
            "Another user's or an unknown session id: 404."
        ),
        parameters=[
            WWW_AUTHENTICATE,
            OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        request=None,
        responses={204: None, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    @action(
        detail=False,
        methods=["delete"],
        url_path=r"sessions/(?P<id>[^/]+)",
        url_name="session-detail",
    )
    def end_session(self, request: Request, id: str) -> Response:
        try:
            parsed = UUID(id)
        except ValueError:
            raise SessionNotFoundError() from None
        if not session_end(user=signed_in_user(request), session_id=parsed):
            raise SessionNotFoundError()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Sign out everywhere",
        parameters=[WWW_AUTHENTICATE],
        description=(
            "Ends every session of the caller, this one included: every refresh and access "
            "token of the caller stops working at once."
        ),
        request=None,
        responses={204: None, 401: UNAUTHORIZED},
    )
    @action(detail=False, methods=["post"], url_path="logout-all")
    def logout_all(self, request: Request) -> Response:
        sessions_end_all(user=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from invites.exceptions import InviteCodeNotFoundError
from referral_api.error_codes import ErrorCode
from referral_api.http import DEVICE_HEADER, client_ip, validated
from referral_api.openapi import (
    ACCESS_EXAMPLE,
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
)
from users.serializers import (
    LoginSerializer,
    LogoutInputSerializer,
    OtpRequestInputSerializer,
    OtpRequestSerializer,
    OtpVerifyInputSerializer,
    TokenPairSerializer,
    TokenRefreshInputSerializer,
)
from users.services import auth_login, auth_logout, otp_request, token_refresh
from users.sightings import client_marks


class AuthViewSet(viewsets.GenericViewSet):
    """Phone login: ask for a one-time code, exchange it for tokens, rotate and revoke tokens."""

    # Signing out needs a signed-in caller; the other actions must not even look at an
    # Authorization header (a stale token must not stop a login).
    signed_in_actions = frozenset({"logout"})

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
            "Revokes the given refresh token of the caller. Signing out twice is not an error: "
            "an already revoked or expired refresh token of the caller also answers 204. The "
            "access token stays valid until it expires (`JWT_ACCESS_MINUTES`)."
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

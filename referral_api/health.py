"""Liveness and readiness probes for load balancers and orchestrators."""

import logging
from collections.abc import Callable

from django.db import connection
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from referral_api import redis_store
from referral_api.error_codes import ErrorCode
from referral_api.errors import OUTAGE_RETRY_AFTER, ServiceUnavailableError, error_body
from referral_api.openapi import retry_after

logger = logging.getLogger(__name__)


class HealthView(APIView):
    """Liveness: the process answers. Touches no dependency (and is the benchmark's baseline)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    @extend_schema(
        summary="Liveness probe",
        tags=["health"],
        description="Answers while the process can serve requests; checks no dependency.",
        responses={200: inline_serializer("Health", {"status": serializers.CharField()})},
        examples=[OpenApiExample("Alive", value={"status": "ok"}, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


def _check(name: str, probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception:
        logger.exception("readiness check failed: %s", name)
        return "error"
    return "ok"


def _database_probe() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


class ReadinessView(APIView):
    """Readiness: the database and Redis answer."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    @extend_schema(
        summary="Readiness probe",
        tags=["health"],
        description=(
            "200 when PostgreSQL and Redis answer; 503 `service_unavailable` (with `Retry-After`) "
            "naming the failing check otherwise. Load balancers should route only to ready servers."
        ),
        parameters=[retry_after(503)],
        examples=[
            OpenApiExample(
                "Ready",
                value={"status": "ok", "checks": {"database": "ok", "redis": "ok"}},
                response_only=True,
                status_codes=[200],
            ),
            OpenApiExample(
                "Redis down",
                value={
                    "code": ErrorCode.SERVICE_UNAVAILABLE,
                    "message": ServiceUnavailableError.message,
                    "errors": {},
                    "status": "error",
                    "checks": {"database": "ok", "redis": "error"},
                },
                response_only=True,
                status_codes=[503],
            ),
        ],
        responses={
            (200, "application/json"): inline_serializer(
                "Readiness",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
            (503, "application/json"): inline_serializer(
                "ReadinessFailure",
                {
                    "code": serializers.CharField(),
                    "message": serializers.CharField(),
                    "errors": serializers.DictField(),
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
        },
    )
    def get(self, request: Request) -> Response:
        checks = {
            "database": _check("database", _database_probe),
            "redis": _check("redis", redis_store.ping),
        }
        if all(result == "ok" for result in checks.values()):
            return Response({"status": "ok", "checks": checks})
        # The contract's error shape, with the checks alongside for operators.
        unavailable = ServiceUnavailableError(retry_after=OUTAGE_RETRY_AFTER)
        body = {
            **error_body(unavailable.code, unavailable.message),
            "status": "error",
            "checks": checks,
        }
        return Response(
            body,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(unavailable.retry_after)},
        )

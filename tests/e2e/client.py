"""A small HTTP client for the live-server tests: JSON in, status, headers and JSON out."""

import http.client
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.live import LiveServer

REQUEST_CODE = "/api/v1/auth/request-code/"
VERIFY_CODE = "/api/v1/auth/verify-code/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
PROFILE = "/api/v1/profile/"
ACTIVATE = "/api/v1/profile/activate-invite/"
REFERRALS = "/api/v1/profile/referrals/"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def call(
    server: LiveServer,
    method: str,
    path: str,
    data: Any = None,
    *,
    token: str | None = None,
    forwarded_for: str | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One request from loopback address `source` (the server sees it as REMOTE_ADDR)."""
    url = urlsplit(server.url)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    connection = http.client.HTTPConnection(
        url.hostname or "127.0.0.1", url.port, timeout=20, source_address=(source, 0)
    )
    try:
        body = None if data is None else json.dumps(data).encode()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return Answer(response.status, dict(response.headers.items()), json.loads(raw or b"null"))
    finally:
        connection.close()


def random_phone() -> str:
    return f"+7999{secrets.randbelow(10**7):07d}"

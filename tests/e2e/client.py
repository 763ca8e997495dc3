"""A small HTTP client for the live-server tests: JSON (or any bytes) in, status, headers and
body out. Every live-server test speaks HTTP through it, so paths and answers are read one way."""

import http.client
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
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
    raw: bytes

    @cached_property
    def body(self) -> Any:
        """The body read as JSON (None when empty); raises if the server answered something else."""
        return json.loads(self.raw or b"null")

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def call(
    server: LiveServer,
    method: str,
    path: str,
    data: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str | None = "application/json",
    headers: Mapping[str, str | bytes] | None = None,
    token: str | None = None,
    forwarded_for: str | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One request from loopback address `source` (the server sees it as REMOTE_ADDR).

    The body is `data` as JSON, or `raw` as it is. `content_type=None` sends no Content-Type;
    `headers` come last and may be bytes (sent as they are, for hostile values).
    """
    if data is not None and raw is not None:
        raise ValueError("send `data` (as JSON) or `raw`, not both")
    url = urlsplit(server.url)
    sent: dict[str, str | bytes] = {}
    if content_type is not None:
        sent["Content-Type"] = content_type
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if forwarded_for is not None:
        sent["X-Forwarded-For"] = forwarded_for
    sent.update(headers or {})
    connection = http.client.HTTPConnection(
        url.hostname or "127.0.0.1", url.port, timeout=20, source_address=(source, 0)
    )
    try:
        body = raw if raw is not None else None if data is None else json.dumps(data).encode()
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, dict(response.headers.items()), response.read())
    finally:
        connection.close()


def random_phone() -> str:
    return f"+7999{secrets.randbelow(10**7):07d}"

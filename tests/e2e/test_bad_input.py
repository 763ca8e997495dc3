"""Hand-written hostile input over real HTTP: never a 500, always the contract's error body."""

import base64
import hashlib
import hmac
import http.client
import json
import select
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.client import (
    ACTIVATE,
    LOGOUT,
    PROFILE,
    REFERRALS,
    REFRESH,
    REQUEST_CODE,
    VERIFY_CODE,
    Answer,
    call,
    random_phone,
)
from tests.e2e.live import LiveServer

pytestmark = pytest.mark.e2e

TEN_MB = 10 * 1024 * 1024


def assert_error(answer: Answer, status: int, code: str | None = None) -> dict[str, Any]:
    """The contract's error body: exactly code, message and errors (field → list of messages)."""
    assert answer.status == status, (answer.status, answer.raw[:300])
    assert answer.headers.get("Content-Type", "").startswith("application/json")
    body = answer.body
    assert set(body) == {"code", "message", "errors"}, body
    assert isinstance(body["code"], str)
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["errors"], dict)
    for field, messages in body["errors"].items():
        assert isinstance(field, str)
        assert isinstance(messages, list)
        assert all(isinstance(message, str) for message in messages)
    if code is not None:
        assert body["code"] == code, body
    if body["code"] != "validation_error":
        assert body["errors"] == {}
    return body


@pytest.fixture(scope="module")
def session(live_api: LiveServer) -> dict[str, Any]:
    """A real login (request-code, verify-code with the exposed code) on the shared server."""
    sent = call(live_api, "POST", REQUEST_CODE, {"phone": random_phone()})
    assert sent.status == 200, sent.raw
    fields = {"phone": sent.body["phone"], "code": sent.body["debug_code"]}
    login = call(live_api, "POST", VERIFY_CODE, fields)
    assert login.status == 200, login.raw
    body: dict[str, Any] = login.body
    return body


# --- bodies of the wrong shape -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(b"[]", "non_field_errors", id="empty-array"),
        pytest.param(b'[{"phone": "+79991234567"}]', "non_field_errors", id="array-of-object"),
        pytest.param(b"null", "non_field_errors", id="null"),
        pytest.param(b'"+79991234567"', "non_field_errors", id="string"),
        pytest.param(b"79991234567", "non_field_errors", id="number"),
        pytest.param(b"true", "non_field_errors", id="boolean"),
        pytest.param(b"{}", "phone", id="empty-object"),
        pytest.param(b"", "phone", id="empty-body"),
        pytest.param(b'{"phone": null}', "phone", id="phone-null"),
        pytest.param(b'{"phone": 79991234567}', "phone", id="phone-number"),
        pytest.param(b'{"phone": 7.9991234567e10}', "phone", id="phone-float"),
        pytest.param(b'{"phone": ["+79991234567"]}', "phone", id="phone-array"),
        pytest.param(b'{"phone": {"number": "+79991234567"}}', "phone", id="phone-object"),
        pytest.param(b'{"phone": true}', "phone", id="phone-boolean"),
        pytest.param(b'{"phone": ""}', "phone", id="phone-empty"),
        pytest.param(b'{"phone": "+7999\\u0000123"}', "phone", id="phone-nul"),
        pytest.param(b'{"phone": "\\ud800"}', "phone", id="phone-lone-surrogate"),
        pytest.param(b'{"phone": "' + b"9" * 100_000 + b'"}', "phone", id="phone-100kb"),
        pytest.param(b'{"phone": "+1 000 000 0000"}', "phone", id="phone-impossible"),
    ],
)
def test_request_code_body_of_wrong_shape_is_a_validation_error(live_api, raw, field):
    answer = call(live_api, "POST", REQUEST_CODE, raw=raw)

    body = assert_error(answer, 400, "validation_error")
    assert field in body["errors"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": 1234}, "code"),
        ({"code": None}, "code"),
        ({"code": ["1234"]}, "code"),
        ({"code": "12a4"}, "code"),
        ({"code": "١٢٣٤"}, "code"),  # Arabic-Indic digits
        ({"code": "1" * 10_000}, "code"),
        ({"code": "1234", "invite_code": 123456}, "invite_code"),
        ({"code": "1234", "invite_code": "ABC"}, "invite_code"),
        ({"code": "1234", "invite_code": ["ABCDEF"]}, "invite_code"),
        ({"code": "1234", "invite_code": "\uff21\uff22\uff23\uff24\uff25\uff26"}, "invite_code"),
    ],
)
def test_verify_code_fields_of_wrong_type_are_validation_errors(live_api, fields, field):
    answer = call(live_api, "POST", VERIFY_CODE, {"phone": random_phone(), **fields})

    body = assert_error(answer, 400, "validation_error")
    assert field in body["errors"]


@pytest.mark.parametrize("path", [REFRESH, LOGOUT, ACTIVATE])
@pytest.mark.parametrize(
    "raw",
    [b"[]", b"null", b"42", b"{}", b'{"refresh": null, "invite_code": null}'],
    ids=["array", "null", "number", "empty-object", "nulls"],
)
def test_token_and_invite_bodies_of_wrong_shape_are_validation_errors(live_api, session, path, raw):
    answer = call(live_api, "POST", path, raw=raw, token=session["access"])

    assert_error(answer, 400, "validation_error")


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
@pytest.mark.parametrize("value", [42, 1.5, True, ["a.b.c"], {"token": "a.b.c"}, "x" * 5000])
def test_a_refresh_token_that_is_not_a_token_string_is_refused(live_api, session, path, value):
    answer = call(live_api, "POST", path, {"refresh": value}, token=session["access"])

    # DRF reads a JSON number as its string form, which is then no valid token (401 or 400).
    assert assert_error(answer, answer.status)["code"] in {"validation_error", "token_not_valid"}
    assert answer.status in {400, 401}


# --- bytes that are not JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"phone": "\xff\xfe"}', id="bad-utf8-in-string"),
        pytest.param(b"\xc3\x28", id="bad-utf8-only"),
        pytest.param(b'{"phone": "+79991234567"', id="truncated"),
        pytest.param(b"{'phone': '+79991234567'}", id="single-quotes"),
        pytest.param(b'{"phone": NaN}', id="nan"),
        pytest.param(b'{"phone": Infinity}', id="infinity"),
        pytest.param(b'{"phone": ' + b"9" * 5000 + b"}", id="5000-digit-integer"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-nested-100k-deep"),
        pytest.param(b'{"a":' * 20_000 + b"1" + b"}" * 20_000, id="object-nested-20k-deep"),
        pytest.param(b"\x00" * 64, id="nul-bytes"),
    ],
)
def test_request_code_malformed_json_is_a_parse_error(live_api, raw):
    answer = call(live_api, "POST", REQUEST_CODE, raw=raw)

    assert_error(answer, 400, "parse_error")


def _post_huge(server: LiveServer, path: str, body: bytes, deadline: float) -> Answer:
    """POST a body, stopping as soon as the server answers (it may refuse before reading it all)."""
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        chunk = 256 * 1024
        for start in range(0, len(body), chunk):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or time.monotonic() > deadline:
                break
            try:
                sock.sendall(body[start : start + chunk])
            except (BrokenPipeError, ConnectionResetError):
                break
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, dict(response.headers.items()), response.read())
    finally:
        sock.close()


def test_request_code_10_mb_body_is_refused_quickly_and_the_server_stays_up(live_api):
    body = b'{"phone": "' + b"1" * TEN_MB + b'"}'
    started = time.monotonic()

    answer = _post_huge(live_api, REQUEST_CODE, body, deadline=started + 20)

    assert time.monotonic() - started < 20
    assert answer.status in {400, 413}
    assert_error(answer, answer.status)
    assert call(live_api, "GET", "/healthz/").status == 200


# --- fields the contract does not know -----------------------------------------------------


def test_unknown_fields_are_ignored_and_grant_nothing(live_api):
    phone = random_phone()
    sent = call(
        live_api,
        "POST",
        REQUEST_CODE,
        {"phone": phone, "debug_code": "0000", "resend_in": 0, "x": [1]},
    )
    assert sent.status == 200, sent.raw

    login = call(
        live_api,
        "POST",
        VERIFY_CODE,
        {
            "phone": phone,
            "code": sent.body["debug_code"],
            "is_staff": True,
            "is_superuser": True,
            "user": {"id": 1, "phone": "+70000000000"},
            "referrals_count": 1000,
        },
    )

    assert login.status == 200, login.raw
    user = login.body["user"]
    assert user["phone"] == phone
    assert user["referrals_count"] == 0
    assert "is_staff" not in user
    profile = call(live_api, "GET", PROFILE, token=login.body["access"])
    assert profile.body == user


# --- content types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", b'{"phone": "+79991234567"}'),
        ("application/x-www-form-urlencoded", b"phone=%2B79991234567"),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="phone"\r\n\r\n+79991234567\r\n--b--\r\n',
        ),
        ("application/xml", b"<phone>+79991234567</phone>"),
        ("text/html", b"<p>+79991234567</p>"),
        (None, b'{"phone": "+79991234567"}'),
    ],
    ids=["text", "form", "multipart", "xml", "html", "none"],
)
@pytest.mark.parametrize("path", [REQUEST_CODE, VERIFY_CODE, ACTIVATE])
def test_a_body_that_is_not_json_is_unsupported_media_type(
    live_api, session, path, content_type, raw
):
    answer = call(
        live_api, "POST", path, raw=raw, content_type=content_type, token=session["access"]
    )

    assert_error(answer, 415, "unsupported_media_type")


def test_json_with_an_unknown_charset_parameter_is_not_a_500(live_api):
    answer = call(
        live_api,
        "POST",
        REQUEST_CODE,
        raw=b'{"phone": "+7999"}',
        content_type="application/json; charset=no-such-charset",
    )

    assert_error(answer, 400)


# --- duplicate keys --------------------------------------------------------------------------


def test_duplicate_keys_never_act_on_the_first_value(live_api):
    """RFC 8259 leaves duplicate names undefined: the API takes the last, or refuses the body."""
    phone = random_phone()

    first_valid = call(
        live_api, "POST", REQUEST_CODE, raw=f'{{"phone": "{phone}", "phone": "nonsense"}}'.encode()
    )
    last_valid = call(
        live_api, "POST", REQUEST_CODE, raw=f'{{"phone": "nonsense", "phone": "{phone}"}}'.encode()
    )

    assert first_valid.status == 400
    assert assert_error(first_valid, 400)["code"] in {"validation_error", "parse_error"}
    if last_valid.status == 200:
        assert last_valid.body["phone"] == phone
    else:
        assert_error(last_valid, 400, "parse_error")


# --- Authorization headers -----------------------------------------------------------------


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forged(claims: dict[str, Any], key: bytes = b"not-the-server-key", alg: str = "HS256") -> str:
    signing_input = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}"
    if alg == "none":
        return f"{signing_input}."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _tampered(token: str, **claims: Any) -> str:
    """The token's signature over a payload with `claims` changed."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_b64({**decoded, **claims})}.{signature}"


def _invalid_authorizations(session: dict[str, Any]) -> list[tuple[str, bytes]]:
    access = session["access"]
    user_id = session["user"]["id"]
    claims = {"token_type": "access", "user_id": user_id, "exp": int(time.time()) + 600, "jti": "x"}
    cases = [
        ("scheme only", b"Bearer"),
        ("empty token", b"Bearer "),
        ("three dots", b"Bearer a.b.c"),
        ("two words", b"Bearer abc def"),
        ("garbage 4 KB", b"Bearer " + b"A" * 4096),
        ("non-ASCII bytes", b"Bearer \xff\xfe\xfd"),
        ("refresh token as access", f"Bearer {session['refresh']}".encode()),
        (
            "other user id, old signature",
            f"Bearer {_tampered(access, user_id=user_id + 1)}".encode(),
        ),
        ("longer expiry, old signature", f"Bearer {_tampered(access, exp=2**40)}".encode()),
        ("signed with another key", f"Bearer {_forged(claims)}".encode()),
        ("alg none", f"Bearer {_forged(claims, alg='none')}".encode()),
        ("truncated signature", f"Bearer {access[:-4]}".encode()),
    ]
    # Schemes the API does not speak: as if no credentials were sent.
    cases += [
        ("basic", b"Basic dXNlcjpwYXNz"),
        ("token scheme", f"Token {access}".encode()),
        ("jwt scheme", f"JWT {access}".encode()),
    ]
    return cases


def _get_with_raw_authorization(server: LiveServer, path: str, value: bytes) -> Answer:
    """A GET with only this Authorization header, its bytes sent as they are."""
    return call(server, "GET", path, content_type=None, headers={"Authorization": value})


@pytest.mark.parametrize("path", [PROFILE, REFERRALS])
def test_invalid_authorization_headers_are_401_with_the_contract_body(live_api, session, path):
    for name, value in _invalid_authorizations(session):
        answer = _get_with_raw_authorization(live_api, path, value)

        body = assert_error(answer, 401)
        assert body["code"] in {"token_not_valid", "not_authenticated"}, name
        assert answer.headers.get("WWW-Authenticate") == 'Bearer realm="api"', name
    assert call(live_api, "GET", path, token=session["access"]).status == 200


def test_missing_authorization_is_not_authenticated(live_api):
    for method, path in [
        ("GET", PROFILE),
        ("GET", REFERRALS),
        ("POST", ACTIVATE),
        ("POST", LOGOUT),
    ]:
        answer = call(live_api, method, path, raw=b"{}")

        assert_error(answer, 401, "not_authenticated")


def test_oversized_authorization_header_is_refused_not_a_500(live_api, session):
    """Gunicorn refuses headers over 8 KB itself, before Django: a 4xx, not the API's body."""
    answer = _get_with_raw_authorization(live_api, PROFILE, b"Bearer " + b"A" * 20_000)

    assert 400 <= answer.status < 500


# --- query strings, methods, paths -----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=abc", "page_size"),
        ("page_size=1e3", "page_size"),
        ("page_size=%ff", "page_size"),
        ("cursor=garbage", "cursor"),
        ("cursor=%00", "cursor"),
        ("cursor=cD0yMDI2", "cursor"),
    ],
)
def test_referrals_bad_query_is_a_validation_error(live_api, session, query, field):
    answer = call(live_api, "GET", f"{REFERRALS}?{query}", token=session["access"])

    body = assert_error(answer, 400, "validation_error")
    assert field in body["errors"]


def test_referrals_huge_page_size_is_capped(live_api, session):
    answer = call(live_api, "GET", f"{REFERRALS}?page_size={'9' * 30}", token=session["access"])

    assert answer.status == 200
    assert answer.body["results"] == []


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", [REQUEST_CODE, VERIFY_CODE, REFRESH])
def test_other_methods_on_public_endpoints_are_405(live_api, path, method):
    answer = call(live_api, method, path, raw=b"{}")

    assert_error(answer, 405, "method_not_allowed")
    assert "POST" in answer.headers.get("Allow", "")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", [PROFILE, ACTIVATE, REFERRALS, LOGOUT])
def test_other_methods_on_private_endpoints_are_4xx_with_the_contract_body(
    live_api, session, path, method
):
    answer = call(live_api, method, path, raw=b"{}", token=session["access"])

    assert_error(answer, 405, "method_not_allowed")


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/api/v2/profile/", "/api/v1/profile/1/", "/%ff/", "/.env"]
)
def test_unknown_paths_are_404_with_the_contract_body(live_api, path):
    answer = call(live_api, "GET", path)

    assert_error(answer, 404, "not_found")

"""The one error shape for whatever a client sends: never a 500, never an HTML page."""

import json

import pytest
from django.urls import reverse

from tests.login import PHONE

pytestmark = pytest.mark.django_db

INVALID_FIELDS = "The request has invalid fields."
INVALID_PHONE = "Enter a valid phone number in international format, e.g. +79991234567."
PUBLIC_POST_URLS = ["users:auth-request-code", "users:auth-verify-code", "users:auth-refresh"]


def post_raw(client, url_name: str, body: bytes, content_type: str = "application/json"):
    return client.generic("POST", reverse(url_name), body, content_type=content_type)


@pytest.mark.parametrize("url_name", PUBLIC_POST_URLS)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"{bad",
            "JSON parse error - Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (
            b'{"phone": "+79991234567"',
            "JSON parse error - Expecting ',' delimiter: line 1 column 25 (char 24)",
        ),
        (
            b"\xff\xfe{}",
            "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 0: "
            "invalid start byte",
        ),
        (
            b'{"phone": "\xc3\x28"}',
            "JSON parse error - 'utf-8' codec can't decode byte 0xc3 in "
            "position 11: invalid continuation byte",
        ),
        (b"nope", "JSON parse error - Expecting value: line 1 column 1 (char 0)"),
        (
            b'{"phone": NaN}',
            "JSON parse error - Out of range float values are not JSON compliant: 'NaN'",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "JSON parse error - the document is nested too deeply."),
    ],
)
def test_api_malformed_json_is_a_parse_error(api_client, url_name, body, message):
    response = post_raw(api_client, url_name, body)

    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "message": message, "errors": {}}


@pytest.mark.parametrize("url_name", PUBLIC_POST_URLS)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "Invalid data. Expected a dictionary, but got list."),
        (b'[{"phone": "+79991234567"}]', "Invalid data. Expected a dictionary, but got list."),
        (b"null", "No data provided"),
        (b"42", "Invalid data. Expected a dictionary, but got int."),
        (b"4.2", "Invalid data. Expected a dictionary, but got float."),
        (b'"+79991234567"', "Invalid data. Expected a dictionary, but got str."),
        (b"true", "Invalid data. Expected a dictionary, but got bool."),
    ],
)
def test_api_body_that_is_not_an_object_is_a_validation_error(api_client, url_name, body, message):
    response = post_raw(api_client, url_name, body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": INVALID_FIELDS,
        "errors": {"non_field_errors": [message]},
    }


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"+79991234567"),
        ("application/x-www-form-urlencoded", b"phone=%2B79991234567"),
        ("multipart/form-data; boundary=xyz", b"--xyz--"),
        ("application/xml", b"<phone>+79991234567</phone>"),
    ],
)
def test_api_unsupported_content_type_is_refused(api_client, content_type, body):
    response = post_raw(api_client, "users:auth-request-code", body, content_type)

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": f'Unsupported media type "{content_type}" in request.',
        "errors": {},
    }


@pytest.mark.parametrize(
    ("method", "url_name"),
    [
        ("GET", "users:auth-request-code"),
        ("PUT", "users:auth-verify-code"),
        ("DELETE", "users:auth-refresh"),
        ("PATCH", "users:auth-request-code"),
    ],
)
def test_api_wrong_method_is_not_allowed(api_client, method, url_name):
    response = api_client.generic(method, reverse(url_name))

    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": f'Method "{method}" not allowed.',
        "errors": {},
    }
    assert response["Allow"] == "POST, OPTIONS"


def test_api_wrong_method_on_profile_is_not_allowed(auth_client):
    response = auth_client.post(reverse("invites:profile-detail"), {})

    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": 'Method "POST" not allowed.',
        "errors": {},
    }


@pytest.mark.parametrize(
    "path",
    ["/nope/", "/api/v1/", "/api/v1/auth/", "/api/v1/auth/request-code/x/", "/api/v2/profile/"],
)
def test_api_unknown_url_is_a_json_not_found(api_client, settings, path):
    settings.DEBUG = False

    response = api_client.post(path, {"phone": PHONE})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "message": "Not found.", "errors": {}}


@pytest.mark.parametrize(
    ("url_name", "field", "message"),
    [
        ("users:auth-request-code", "phone", INVALID_PHONE),
        ("users:auth-verify-code", "phone", INVALID_PHONE),
        ("users:auth-refresh", "refresh", "Ensure this field has no more than 4096 characters."),
    ],
)
def test_api_huge_string_is_a_validation_error(api_client, url_name, field, message):
    body = {"phone": PHONE, "code": "1234", field: "9" * 100_000}

    response = api_client.post(reverse(url_name), body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": INVALID_FIELDS,
        "errors": {field: [message]},
    }


def test_api_huge_code_and_invite_code_are_validation_errors(api_client):
    body = {"phone": PHONE, "code": "1" * 100_000, "invite_code": "A" * 100_000}

    response = api_client.post(reverse("users:auth-verify-code"), body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": INVALID_FIELDS,
        "errors": {
            "code": ["Ensure this field has no more than 16 characters."],
            "invite_code": [
                "Ensure this field has no more than 64 characters.",
                "An invite code is 6 letters or digits, e.g. A1B2C3.",
            ],
        },
    }


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (
            900,
            {
                "code": "validation_error",
                "message": INVALID_FIELDS,
                "errors": {"phone": ["Not a valid string."]},
            },
        ),
        (
            100_000,
            {
                "code": "parse_error",
                "message": "JSON parse error - the document is nested too deeply.",
                "errors": {},
            },
        ),
    ],
)
def test_api_deeply_nested_field_is_refused_without_a_server_error(api_client, depth, expected):
    body = b'{"phone": ' + b"[" * depth + b"]" * depth + b"}"

    response = post_raw(api_client, "users:auth-request-code", body)

    assert response.status_code == 400
    assert response.json() == expected


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -1, 1.5, [], {}, ["a", "b"], {"nested": {"deep": [1]}}, "\u0000", "\ud83d"],
)
@pytest.mark.parametrize("url_name", [*PUBLIC_POST_URLS, "users:auth-logout"])
def test_api_wrong_types_in_every_field_are_never_a_server_error(auth_client, url_name, value):
    body = {"phone": value, "code": value, "invite_code": value, "refresh": value}

    response = post_raw(auth_client, url_name, json.dumps(body).encode())

    # A number where a refresh token belongs reads as a token string: a bad token, not a 500.
    assert (response.status_code, response.json()["code"]) in {
        (400, "validation_error"),
        (401, "token_not_valid"),
    }
    assert set(response.json()) == {"code", "message", "errors"}
    if response.status_code == 400:
        assert response.json()["errors"]


def test_api_unknown_fields_are_ignored(api_client, outbox):
    body = {"phone": PHONE, "code": "1234", "is_staff": True, "user_id": 1, "extra": [1, 2]}

    response = api_client.post(reverse("users:auth-request-code"), body)

    assert response.status_code == 200
    assert set(response.json()) == {"phone", "expires_in", "resend_in", "code_length"}
    assert len(outbox) == 1


def test_api_error_responses_are_json(api_client):
    response = post_raw(api_client, "users:auth-request-code", b"{bad")

    assert response["Content-Type"] == "application/json"

"""The request log (docs/operations.md › Logs): a request id for every request, one JSON line
each with its route, status and duration."""

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from referral_api.log_format import JsonFormatter, request_id

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log() -> Iterator[Any]:
    """The lines the production handler would write, read back as JSON objects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines(logger: str) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
        return [line for line in parsed if line["logger"] == logger]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_response_carries_a_generated_request_id(api_client):
    first = api_client.get(reverse("healthz"))
    second = api_client.get(reverse("healthz"))

    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert GENERATED.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_clients_request_id_is_ignored_without_a_trusted_proxy(api_client):
    response = api_client.get(reverse("healthz"), HTTP_X_REQUEST_ID="chosen-by-the-client")

    assert response["X-Request-ID"] != "chosen-by-the-client"
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_the_proxys_request_id_is_kept_behind_a_trusted_proxy(api_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    kept = api_client.get(reverse("healthz"), HTTP_X_REQUEST_ID="f00dfeed-0001.trace_9")
    malformed = api_client.get(reverse("healthz"), HTTP_X_REQUEST_ID="two words\nand a line")

    assert kept["X-Request-ID"] == "f00dfeed-0001.trace_9"
    assert GENERATED.fullmatch(malformed["X-Request-ID"])


def test_each_request_is_logged_with_its_id_route_status_and_duration(api_client, json_log):
    response = api_client.post(reverse("users:auth-request-code"), {"phone": "nonsense"})

    (line,) = json_log("referral_api.request_log")
    assert line["route"] == "users:auth-request-code"
    assert line["status"] == 400
    assert line["method"] == "POST"
    assert 0 < line["duration_ms"] < 10_000
    assert line["request_id"] == response["X-Request-ID"]


def test_djangos_own_4xx_line_carries_the_request_id(api_client, json_log):
    response = api_client.get(reverse("invites:profile-detail"))

    (warning,) = json_log("django.request")
    assert warning["request_id"] == response["X-Request-ID"]
    assert "request" not in warning
    assert request_id.get() is None


def test_json_lines_hold_one_object_each_even_with_a_traceback():
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed: %s", ("why",), sys.exc_info()
        )
    record.route = "healthz"

    text = JsonFormatter().format(record)

    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed: why"
    assert line["level"] == "ERROR"
    assert line["logger"] == "x"
    assert line["route"] == "healthz"
    assert line["request_id"] is None
    assert "ValueError: first line" in line["exc_info"]

"""Metrics and logs of a live `make serve` (docs/operations.md › Metrics, Logs): every gunicorn
worker counts in `/metrics`, and a whole sign-in's log output is JSON lines that carry no phone,
code, token or client address."""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.client import (
    ACTIVATE,
    LOGOUT,
    PROFILE,
    REFRESH,
    REQUEST_CODE,
    VERIFY_CODE,
    call,
    random_phone,
)
from tests.e2e.live import PROJECT_DIR, LiveServer

pytestmark = pytest.mark.e2e

TOKEN = "scrape-token-0123456789abcdef"
HEALTHZ_SAMPLE = 'referral_http_requests_total{method="GET",route="healthz",status="200"}'
# A stale value left in the directory by an earlier run: the server must not add it in.
STALE = 100_000
# Clients come from this loopback address, so that an address in the logs can only be theirs.
CLIENT_ADDRESS = "127.0.0.7"


def healthz_count(server: LiveServer) -> float:
    answer = call(server, "GET", "/metrics", token=TOKEN)
    assert answer.status == 200, answer.raw
    for line in answer.raw.decode().splitlines():
        if line.startswith(HEALTHZ_SAMPLE):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def metric_writers(folder: Path) -> set[str]:
    """The processes that have counted something, by the pid in their file's name."""
    return {re.sub(r"\D", "", path.stem) for path in folder.glob("counter_*.db")}


def leave_stale_value(folder: Path) -> None:
    script = (
        "from referral_api import metrics\n"
        f"metrics.HTTP_REQUESTS.labels('healthz', 'GET', 200).inc({STALE})\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        check=True,
        timeout=60,
    )
    assert list(folder.glob("counter_*.db"))


def test_metrics_add_up_every_gunicorn_worker(start_live_server, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    leave_stale_value(folder)
    server = start_live_server(
        GUNICORN_WORKERS="2", METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(folder)
    )
    before = healthz_count(server)

    # Concurrent connections, until both workers have served some: the kernel need not spread
    # connections made one after another (one worker took 60 of 60 in a CI run).
    sent = 0
    while len(metric_writers(folder)) < 2 and sent < 1000:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: call(server, "GET", "/healthz/").status, range(20)))
        assert statuses == [200] * 20
        sent += 20
    scrapes = {healthz_count(server) for _ in range(12)}

    assert before < STALE
    assert len(metric_writers(folder)) >= 2, metric_writers(folder)
    # Whichever worker answers the scrape, it reports both workers' requests.
    assert scrapes == {before + sent}


def test_a_whole_sign_in_logs_json_lines_without_secrets(start_live_server):
    server = start_live_server(GUNICORN_WORKERS="2", OTP_LENGTH="6")
    secrets: list[str] = []

    def log_in(phone: str, **fields: str) -> dict[str, Any]:
        sent = call(server, "POST", REQUEST_CODE, {"phone": phone}, source=CLIENT_ADDRESS)
        assert sent.status == 200, sent.body
        code = sent.body["debug_code"]
        verified = call(
            server,
            "POST",
            VERIFY_CODE,
            {"phone": phone, "code": code, **fields},
            source=CLIENT_ADDRESS,
        )
        assert verified.status == 200, verified.body
        secrets.extend([phone, phone[1:], phone[-10:], code])
        secrets.extend([verified.body["access"], verified.body["refresh"]])
        return dict(verified.body)

    owner = log_in(random_phone())
    owner_code = call(server, "GET", PROFILE, token=owner["access"]).body["invite_code"]
    user = log_in(random_phone())
    steps = [
        call(server, "GET", PROFILE, token=user["access"], source=CLIENT_ADDRESS),
        call(
            server,
            "POST",
            ACTIVATE,
            {"invite_code": owner_code},
            token=user["access"],
            source=CLIENT_ADDRESS,
        ),
        call(server, "POST", REFRESH, {"refresh": user["refresh"]}, source=CLIENT_ADDRESS),
    ]
    rotated = steps[-1].body
    secrets.extend([rotated["access"], rotated["refresh"]])
    steps.append(
        call(
            server,
            "POST",
            LOGOUT,
            {"refresh": rotated["refresh"]},
            token=rotated["access"],
            source=CLIENT_ADDRESS,
        )
    )
    # Refused ones too: their errors must not echo what was sent.
    wrong = call(
        server, "POST", VERIFY_CODE, {"phone": secrets[0], "code": "000000"}, source=CLIENT_ADDRESS
    )
    bad_token = call(server, "GET", PROFILE, token=user["access"] + "x", source=CLIENT_ADDRESS)
    assert [answer.status for answer in steps] == [200, 200, 200, 204], [s.body for s in steps]
    assert (wrong.status, bad_token.status) == (400, 401)
    request_ids = {answer.headers["X-Request-ID"] for answer in [*steps, wrong, bad_token]}
    server.stop()
    output = server.log()

    for secret in [*secrets, CLIENT_ADDRESS]:
        assert secret not in output, secret
    lines = output.splitlines()
    # `make serve` echoes its commands before gunicorn starts; from gunicorn's first line on,
    # everything is JSON.
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    records = [json.loads(line) for line in lines[first:]]
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record), record
        # The server's own address is in gunicorn's "Listening at" line, and only there.
        if "127.0.0.1" in json.dumps(record):
            assert record["message"].startswith("Listening at: http://127.0.0.1:"), record
    requests = [record for record in records if record["logger"] == "referral_api.request_log"]
    assert {record["request_id"] for record in requests} >= request_ids
    for record in requests:
        assert {"route", "status", "duration_ms", "method"} <= set(record), record
        assert "/" not in record["route"], record
    routes = {record["route"] for record in requests}
    assert {
        "users:auth-request-code",
        "users:auth-verify-code",
        "invites:profile-detail",
        "invites:profile-activate-invite",
        "users:auth-refresh",
        "users:auth-logout",
    } <= routes, routes

"""Schemathesis against the schema a live server serves: no 5xx, no answer outside the contract.

Three bounded runs of the schemathesis CLI (`--checks all`), each against a dedicated server
whose limits are high so that the fuzzer reaches past the rate limits:
- without a token: every operation, examples + coverage + fuzzing phases;
- with a real token (request-code → verify-code with `debug_code`) as `-H Authorization`: the
  operations that need one, same phases;
- stateful: chains request-code → verify-code → profile / activate-invite / referrals /
  refresh / logout through OpenAPI links.

Configuration, each for a stated reason:
- `positive_data_acceptance` is off: a schema-valid body may be refused with a 400 for reasons a
  schema cannot say (a string that is no phone number, an unknown invite code, a code of the
  wrong length for `OTP_LENGTH`). `negative_data_rejection` (the reverse) stays on.
- `ignored_auth` is off in the stateful run only: it takes a token that an OpenAPI link supplies
  for a generated one. The run with `-H` checks auth enforcement (it probes without a token and
  with a wrong one).
- schemathesis' error feedback is off: it reads the contract's
  `{"errors": {"phone": [...]}}` as a nested `errors.phone` field and then reports a valid body
  with an extra `errors` key as a "schema-violating request accepted".
- The served schema has no OpenAPI links yet; the test adds `LINKS` to a copy (and uses the
  served ones as they are once the schema has them).
- In that copy `page_size` has no `maximum`: the schema asks clients for at most 100, and the
  server reads a larger value as 100 (API.md), where schemathesis expects a refusal. The refused
  side (below 1, not an integer) stays fuzzed.
- A request line over gunicorn's limit (4094 bytes; a long generated array in the query) is
  refused by gunicorn with a 414 before Django sees it. The copy lists that 414 on the operations
  with query parameters, and the config counts it as a refusal.
- The runs use a fixed seed (`FUZZ_SEED`), so that CI is reproducible; set `FUZZ_SEED=random`
  to explore (the seed is printed in the figures either way).
"""

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.live import LiveServer, start_server

pytestmark = pytest.mark.e2e

# High limits, so that the fuzzer explores past them; failure caps stay in place elsewhere.
FUZZ_SERVER_ENV = {
    "OTP_SENDS_PER_PHONE_PER_HOUR": "1000000",
    "OTP_SENDS_PER_PHONE_PER_DAY": "1000000",
    "OTP_SENDS_PER_IP_PER_HOUR": "1000000",
    "OTP_RESEND_COOLDOWN_SECONDS": "0",
    "OTP_FAILURES_PER_PHONE_PER_DAY": "1000000",
    "INVITE_ACTIVATE_FAILURES_PER_HOUR": "1000000",
    "GUNICORN_WORKERS": "1",
}
# Bounds: examples per operation and phase. About a minute for the three runs on two cores.
MAX_EXAMPLES = 40
# Enough scenarios that the random walk reaches a login and a call with its token every run
# (at 60 it sometimes stopped at the login).
STATEFUL_MAX_EXAMPLES = 150
RUN_TIMEOUT = 240
SERVER_START_TIMEOUT = 180

BEARER = "Bearer {$response.body#/access}"
# What the schema should carry (see the report of issue 5): links from a response to the calls
# it makes possible.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "auth_request_code_create": {
        "VerifyCode": {
            "operationId": "auth_verify_code_create",
            "description": "Sign in with the code just sent (`debug_code` when codes are exposed).",
            "requestBody": {
                "phone": "$response.body#/phone",
                "code": "$response.body#/debug_code",
                "invite_code": None,
            },
        },
    },
    "auth_verify_code_create": {
        "Profile": {
            "operationId": "profile_retrieve",
            "parameters": {"header.Authorization": BEARER},
        },
        "ActivateInvite": {
            "operationId": "profile_activate_invite_create",
            "parameters": {"header.Authorization": BEARER},
        },
        "Referrals": {
            "operationId": "profile_referrals_list",
            "parameters": {"header.Authorization": BEARER},
        },
        "Refresh": {
            "operationId": "auth_refresh_create",
            "requestBody": {"refresh": "$response.body#/refresh"},
        },
        "Logout": {
            "operationId": "auth_logout_create",
            "parameters": {"header.Authorization": BEARER},
            "requestBody": {"refresh": "$response.body#/refresh"},
        },
    },
    "auth_refresh_create": {
        "Refresh": {
            "operationId": "auth_refresh_create",
            "requestBody": {"refresh": "$response.body#/refresh"},
        },
        "Profile": {
            "operationId": "profile_retrieve",
            "parameters": {"header.Authorization": BEARER},
        },
        "Logout": {
            "operationId": "auth_logout_create",
            "parameters": {"header.Authorization": BEARER},
            "requestBody": {"refresh": "$response.body#/refresh"},
        },
    },
}
SCHEMATHESIS_CONFIG = """\
[phases.fuzzing.error-feedback]
enabled = false

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "429"]
"""
REQUEST_LINE_TOO_LONG = {"description": "The request line is over gunicorn's limit (4094 bytes)."}
FUZZ_SEED = os.environ.get("FUZZ_SEED", "20261202")
# Calls with the caller's token. Sign-out everywhere and ending sessions are left out: they end
# the token's own session, and every later call of the run would then be a 401.
PRIVATE_OPERATIONS = r"^/api/v1/(profile/|rewards/|leaderboard/|auth/logout/)"
# The stateful run follows the login links: only the calls those chains are made of.
CHAINED_OPERATIONS = r"^/api/v1/(auth/(request-code|verify-code|refresh|logout)/|profile/)"


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    server = start_server(timeout=SERVER_START_TIMEOUT, **FUZZ_SERVER_ENV)
    yield server
    server.stop()


def _post(server: LiveServer, path: str, data: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


def _as_fuzzed(schema: dict[str, Any]) -> dict[str, Any]:
    """The served schema with `LINKS`, gunicorn's 414, and no page size cap (read as 100)."""
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "page_size":
                    parameter["schema"].pop("maximum")
                if parameter["in"] == "query":
                    operation["responses"]["414"] = REQUEST_LINE_TOO_LONG
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            links = LINKS.get(operation.get("operationId", ""))
            ok = operation.get("responses", {}).get("200")
            if links and ok is not None and not ok.get("links"):
                ok["links"] = links
    return schema


@pytest.fixture(scope="module")
def workdir(fuzz_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served schema (plus links) and the schemathesis configuration, in a scratch folder."""
    folder = tmp_path_factory.mktemp("schemathesis")
    with urllib.request.urlopen(f"{fuzz_server.url}/api/schema/?format=json", timeout=20) as r:
        schema = json.loads(r.read())
    (folder / "schema.json").write_text(json.dumps(_as_fuzzed(schema)))
    (folder / "schemathesis.toml").write_text(SCHEMATHESIS_CONFIG)
    return folder


@pytest.fixture(scope="module")
def access_token(fuzz_server: LiveServer) -> str:
    """A real login: request a code, read `debug_code`, verify it."""
    sent = _post(fuzz_server, "/api/v1/auth/request-code/", {"phone": _random_phone()})
    login = _post(
        fuzz_server,
        "/api/v1/auth/verify-code/",
        {"phone": sent["phone"], "code": sent["debug_code"]},
    )
    token: str = login["access"]
    return token


def _random_phone() -> str:
    return f"+7999{secrets.randbelow(10**7):07d}"


def _statuses(ndjson: Path) -> tuple[Counter[int], Counter[str]]:
    """Status codes of every response, and the operations reached through a link with a 2xx."""
    statuses: Counter[int] = Counter()
    chained: Counter[str] = Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        recorder = event.get("ScenarioFinished", {}).get("recorder")
        if not recorder:
            continue
        for case_id, interaction in recorder.get("interactions", {}).items():
            response = interaction.get("response") or {}
            status = response.get("status_code")
            if status is None:
                continue
            statuses[status] += 1
            case = recorder["cases"][case_id]
            if case.get("is_transition_applied") and 200 <= status < 300:
                chained[f"{case['value']['method']} {case['value']['path']}"] += 1
    return statuses, chained


def _run_schemathesis(
    server: LiveServer, folder: Path, name: str, *args: str
) -> tuple[dict[str, Any], Counter[int], Counter[str]]:
    report_dir = folder / name
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(folder / "schemathesis.toml"),
        "run",
        str(folder / "schema.json"),
        "--url",
        server.url,
        "--checks",
        "all",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--no-color",
        *([] if FUZZ_SEED == "random" else ["--seed", FUZZ_SEED]),
        "--report",
        "json,ndjson",
        "--report-dir",
        str(report_dir),
        *args,
    ]
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    output = result.stdout[-20_000:] + result.stderr[-5_000:]
    reports = sorted(report_dir.glob("*.json"))
    assert reports, output
    report = json.loads(reports[-1].read_text())
    statuses, chained = _statuses(next(report_dir.glob("*.ndjson")))
    assert result.returncode == 0, output
    assert report["failures"] == [], output
    assert report["errors"] == [], output
    assert not [status for status in statuses if status >= 500], (statuses, output)
    return report, statuses, chained


def _figure(name: str, report: dict[str, Any], statuses: Counter[int]) -> str:
    by_class = Counter(f"{status // 100}xx" for status in statuses.elements())
    return (
        f"fuzz {name}: {report['test_cases']['generated']} cases, "
        f"{sum(statuses.values())} responses {dict(sorted(by_class.items()))}, "
        f"failures {len(report['failures'])}, seed {report['seed']}"
    )


def test_fuzz_without_token_finds_no_server_error_or_contract_break(fuzz_server, workdir, figures):
    report, statuses, _ = _run_schemathesis(
        fuzz_server,
        workdir,
        "anonymous",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--exclude-checks",
        "positive_data_acceptance",
    )

    assert report["operations"]["tested"] == report["operations"]["selected"]
    assert statuses[200] > 0
    assert statuses[401] > 0
    figures.append(_figure("without token", report, statuses))


def test_fuzz_with_token_finds_no_server_error_or_contract_break(
    fuzz_server, workdir, access_token, figures
):
    report, statuses, _ = _run_schemathesis(
        fuzz_server,
        workdir,
        "token",
        "--header",
        f"Authorization: Bearer {access_token}",
        "--include-path-regex",
        PRIVATE_OPERATIONS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--exclude-checks",
        "positive_data_acceptance",
    )

    assert report["operations"]["tested"] == report["operations"]["selected"] >= 8
    # The token works: the profile and the referrals answered.
    assert statuses[200] > 0
    figures.append(_figure("with token", report, statuses))


def test_fuzz_stateful_chains_login_to_private_calls(fuzz_server, workdir, figures):
    report, statuses, chained = _run_schemathesis(
        fuzz_server,
        workdir,
        "stateful",
        "--include-path-regex",
        CHAINED_OPERATIONS,
        "--phases",
        "stateful",
        "--max-examples",
        str(STATEFUL_MAX_EXAMPLES),
        "--exclude-checks",
        "positive_data_acceptance,ignored_auth",
    )

    # The links carried real data: logins with the sent code, then calls with their token.
    assert chained["POST /api/v1/auth/verify-code/"] > 0, chained
    private = sum(count for call, count in chained.items() if "/profile/" in call)
    assert private + chained["POST /api/v1/auth/refresh/"] > 0, chained
    figures.append(
        _figure("stateful", report, statuses)
        + f"; 2xx reached through links: {dict(sorted(chained.items()))}"
    )

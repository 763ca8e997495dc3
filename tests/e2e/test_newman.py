"""The Postman collection, run by newman against a live server, passes every assertion."""

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.live import PROJECT_DIR, LiveServer

pytestmark = pytest.mark.e2e

POSTMAN_DIR = PROJECT_DIR / "postman"
COLLECTION = POSTMAN_DIR / "referral_api.postman_collection.json"
ENVIRONMENT = POSTMAN_DIR / "local.postman_environment.json"
NEWMAN = POSTMAN_DIR / "node_modules" / ".bin" / "newman"
# Several test runs may share the checkout, and `npm ci` starts by deleting node_modules: one
# lock for all of them, beside the one scripts/services.sh takes for apt-get.
NPM_LOCK = Path("/tmp/referral-postman-npm.lock")  # noqa: S108 - shared on purpose
# The collection has well over two hundred; far fewer means scripts were lost or skipped.
MIN_ASSERTIONS = 150


def _pinned_newman_version() -> str:
    package = json.loads((POSTMAN_DIR / "package.json").read_text())
    return package["devDependencies"]["newman"]


def _installed_newman_version() -> str | None:
    package = POSTMAN_DIR / "node_modules" / "newman" / "package.json"
    if not NEWMAN.exists() or not package.exists():
        return None
    return json.loads(package.read_text())["version"]


def _failures(report_path: Path) -> str:
    """One line per failed assertion, from newman's JSON report (when it got that far)."""
    if not report_path.exists():
        return "(no JSON report)"
    failures = json.loads(report_path.read_text())["run"]["failures"]
    return "\n".join(
        f"- {failure['source'].get('name', '?')}: {failure['error'].get('test', '')} "
        f"{failure['error'].get('message', '')}"
        for failure in failures
    )


def _count_requests(items: list[dict]) -> int:
    return sum(_count_requests(item["item"]) if "item" in item else 1 for item in items)


@pytest.fixture(scope="session")
def newman() -> Path:
    """newman at the version pinned in postman/package.json (`npm ci` when it is missing)."""
    with NPM_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_newman_version() != _pinned_newman_version():
            npm = shutil.which("npm")
            if npm is None:
                pytest.fail("npm is needed to install newman (apt-get install -y npm)")
            result = subprocess.run(
                [npm, "ci", "--prefix", str(POSTMAN_DIR), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return NEWMAN


@pytest.fixture
def staff_phone(live_api: LiveServer) -> str:
    """A new staff user of the live server, made as an operator would (`createsuperuser`).

    The collection signs this user in by phone like anyone; a fresh number per run keeps clear of
    the previous run's resend cooldown.
    """
    phone = f"+7999{secrets.randbelow(10**7):07d}"
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--phone", phone],
        cwd=PROJECT_DIR,
        env=live_api.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return phone


def test_postman_collection_passes_against_live_server(
    live_api: LiveServer, newman: Path, staff_phone: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "newman-report.json"

    result = subprocess.run(
        [
            str(newman),
            "run",
            str(COLLECTION),
            "--environment",
            str(ENVIRONMENT),
            "--env-var",
            f"baseUrl={live_api.url}",
            "--env-var",
            f"staffPhone={staff_phone}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report_path),
            "--color",
            "off",
            "--timeout-request",
            "20000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )

    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, (
        f"newman exited {result.returncode}; failures:\n{_failures(report_path)}\n\n"
        f"newman output:\n{output}"
    )
    run = json.loads(report_path.read_text())["run"]
    stats = run["stats"]
    assert run["failures"] == [], output
    assert stats["assertions"]["failed"] == 0, output
    assert stats["assertions"]["total"] >= MIN_ASSERTIONS, output
    expected_requests = _count_requests(json.loads(COLLECTION.read_text())["item"])
    assert stats["requests"] == {"total": expected_requests, "pending": 0, "failed": 0}, output

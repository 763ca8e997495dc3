"""`manage.py check --deploy` as an operator runs it: a production environment passes, and each
unsafe setting alone makes it fail (API.md › Configuration)."""

import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from referral_api.settings import BASE_DIR, DEVELOPMENT_SECRET_KEY

# Each unsafe setting, alone, and the check that must name it.
UNSAFE: dict[str, tuple[dict[str, str], str]] = {
    "codes exposed": ({"OTP_EXPOSE_CODE": "true"}, "users.E002"),
    "no REDIS_URL": ({"REDIS_URL": ""}, "users.E001"),
    "development secret key": ({"DJANGO_SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "users.E003"),
    "short secret key": ({"DJANGO_SECRET_KEY": secrets.token_urlsafe(30)[:40]}, "users.E003"),
    "JWT key derived from the secret key": ({"JWT_SIGNING_KEY": ""}, "users.E004"),
    "short JWT key": ({"JWT_SIGNING_KEY": secrets.token_hex(8)}, "users.E004"),
    "DEBUG on": ({"DJANGO_DEBUG": "true"}, "users.E005"),
    "no HTTPS redirect": ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008"),
    "no HSTS": ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
    "cookies without Secure": ({"DJANGO_SECURE_COOKIES": "false"}, "security.W012"),
    "simulated SMS gateway": ({"SMS_BACKEND": "users.sms.SimulatedGatewayBackend"}, "users.W001"),
}


def production_env(**overrides: str) -> dict[str, str]:
    """What docs/operations.md asks production to set; the rest comes from this environment."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "OTP_", "JWT_", "SMS_", "TWILIO_", "SMSRU_"))
    }
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        DATABASE_URL=os.environ.get("DATABASE_URL") or "postgres://u@127.0.0.1:5432/referral",
        OTP_EXPOSE_CODE="false",
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SECURE_COOKIES="true",
        DJANGO_ALLOWED_HOSTS="api.example.com",
        SMS_BACKEND="users.sms_providers.TwilioBackend",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_FROM="+15005550006",
    )
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case's check, two at a time (each is a Django start-up of a second or two)."""
    cases: dict[str, dict[str, Any]] = {"production": production_env()}
    cases.update({name: production_env(**unsafe) for name, (unsafe, _) in UNSAFE.items()})
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(cases, pool.map(check_deploy, cases.values()), strict=True))


def test_check_deploy_passes_a_production_environment(results):
    result = results["production"]

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name", list(UNSAFE))
def test_check_deploy_fails_on_each_unsafe_setting_alone(results, name):
    result = results[name]

    assert result.returncode != 0, result.stdout + result.stderr
    assert UNSAFE[name][1] in result.stderr + result.stdout


def test_check_deploy_names_a_missing_redis_url_where_fakeredis_is_not_installed():
    """The production image installs no fakeredis (the `local` dependency group): without
    REDIS_URL its settings still load, and the check refuses the start as it does elsewhere."""
    without_fakeredis = (
        "import sys; sys.modules['fakeredis'] = None; "  # `import fakeredis` raises ImportError
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", without_fakeredis],
        cwd=BASE_DIR,
        env=production_env(REDIS_URL="", DJANGO_SETTINGS_MODULE="referral_api.settings"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "users.E001" in result.stderr + result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr

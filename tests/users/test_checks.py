"""System checks: `check --deploy` refuses unsafe production setups; test numbers must work."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from users.checks import check_production_safety, check_test_numbers

SAFE_SECRET_KEY = "k3Jq9vR2xW7mZ4pL8nB5tY1cH6fD0sA3gE9uI2oP7lK4jM8vX5zQ"
SAFE_JWT_KEY = "c2VwYXJhdGUtand0LXNpZ25pbmcta2V5LTMyLWJ5dGVz"


@pytest.fixture
def production(settings):
    """A configuration that passes every deploy check; each test breaks one thing."""
    settings.REDIS_URL = "redis://redis.internal:6379/0"
    settings.OTP_EXPOSE_CODE = False
    settings.SECRET_KEY = SAFE_SECRET_KEY
    settings.JWT_SIGNING_KEY_DERIVED = False
    settings.JWT_SIGNING_KEY = SAFE_JWT_KEY
    settings.DEBUG = False
    return settings


def error_ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_check_production_safety_safe_configuration_passes(production):
    assert len(SAFE_SECRET_KEY) >= 50

    messages = check_production_safety()

    assert messages == []


@pytest.mark.parametrize(
    ("setting", "value", "error_id"),
    [
        pytest.param("REDIS_URL", "", "users.E001", id="otp-in-process-memory"),
        pytest.param("OTP_EXPOSE_CODE", True, "users.E002", id="codes-exposed"),
        pytest.param("SECRET_KEY", None, "users.E003", id="development-secret-key"),
        pytest.param("SECRET_KEY", SAFE_SECRET_KEY[:49], "users.E003", id="short-secret-key"),
        pytest.param("JWT_SIGNING_KEY_DERIVED", True, "users.E004", id="derived-jwt-key"),
        pytest.param("JWT_SIGNING_KEY", "k" * 31, "users.E004", id="short-jwt-key"),
        pytest.param("DEBUG", True, "users.E005", id="debug-on"),
    ],
)
def test_check_production_safety_each_unsafe_setting_is_an_error(
    production, setting, value, error_id
):
    if value is None:
        value = production.DEVELOPMENT_SECRET_KEY
    setattr(production, setting, value)

    messages = check_production_safety()

    assert error_ids(messages) == [error_id]
    assert all(message.is_serious() for message in messages)


def test_check_production_safety_jwt_key_length_counts_bytes(production):
    production.JWT_SIGNING_KEY = "ключ" * 4  # 16 characters, 32 bytes in UTF-8

    messages = check_production_safety()

    assert messages == []


def test_check_production_safety_development_defaults_fail_every_check(settings):
    settings.REDIS_URL = ""
    settings.OTP_EXPOSE_CODE = True
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    settings.JWT_SIGNING_KEY_DERIVED = True
    settings.DEBUG = True

    messages = check_production_safety()

    assert error_ids(messages) == [f"users.E00{n}" for n in range(1, 6)]


def test_check_deploy_command_fails_on_unsafe_configuration(production):
    production.OTP_EXPOSE_CODE = True

    with pytest.raises(SystemCheckError, match=r"users\.E002"):
        call_command("check", deploy=True)


def test_check_deploy_command_passes_on_safe_configuration(production):
    call_command("check", deploy=True, fail_level="ERROR")


def test_check_without_deploy_ignores_production_safety(production):
    production.OTP_EXPOSE_CODE = True
    production.DEBUG = True

    call_command("check")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "+79990000000:1234",
        " +7 999 000-00-00 : 1234 , +14155552671:0000 ,",
        # Reserved review numbers need only be shaped like a number.
        "+70000000000:0000",
    ],
)
def test_check_test_numbers_usable_entries_pass(settings, raw):
    settings.OTP_TEST_NUMBERS = raw

    messages = check_test_numbers()

    assert messages == []


@pytest.mark.parametrize(
    ("raw", "error_ids_expected"),
    [
        pytest.param("not-a-phone:1234", ["users.E010"], id="letters"),
        pytest.param("+79990000000:123", ["users.E011"], id="short-code"),
        pytest.param("+79990000000:12345", ["users.E011"], id="long-code"),
        pytest.param("+79990000000:12a4", ["users.E011"], id="non-digit-code"),
        pytest.param("+79990000000", ["users.E011"], id="missing-code"),
        pytest.param("+79990000000:", ["users.E011"], id="empty-code"),
        pytest.param("+7:12", ["users.E010", "users.E011"], id="both-wrong"),
        pytest.param("+79990000000:1234,+79990000001:99", ["users.E011"], id="one-bad-among-good"),
    ],
)
def test_check_test_numbers_bad_entries_are_errors(settings, raw, error_ids_expected):
    settings.OTP_TEST_NUMBERS = raw

    messages = check_test_numbers()

    assert error_ids(messages) == error_ids_expected


def test_check_test_numbers_code_length_follows_otp_length(settings):
    settings.OTP_LENGTH = 6
    settings.OTP_TEST_NUMBERS = "+79990000000:1234"

    messages = check_test_numbers()

    assert error_ids(messages) == ["users.E011"]
    assert "6 digits" in messages[0].msg


def test_check_test_numbers_runs_with_the_ordinary_check(settings):
    settings.OTP_TEST_NUMBERS = "+79990000000:12"

    with pytest.raises(SystemCheckError, match=r"users\.E011"):
        call_command("check")

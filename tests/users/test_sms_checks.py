"""System checks of the SMS setup: a real provider in production (users.W001), a backend that
loads (users.E020) and an adapter with its credentials (users.E021)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.users.provider_servers import SMSRU_API_ID, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from users.checks import check_sms_backend_is_real, check_sms_settings

TWILIO = "users.sms_providers.TwilioBackend"
SMSRU = "users.sms_providers.SmsRuBackend"


@pytest.fixture(autouse=True)
def _credentials(settings):
    settings.TWILIO_ACCOUNT_SID = TWILIO_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.TWILIO_FROM = "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.SMSRU_API_ID = SMSRU_API_ID


@pytest.mark.parametrize(
    "backend", ["users.sms.SimulatedGatewayBackend", "users.sms.MemoryBackend"]
)
def test_check_sms_backend_stand_in_in_production_is_a_warning(settings, backend):
    settings.DEBUG = False
    settings.SMS_BACKEND = backend

    messages = check_sms_backend_is_real()

    assert [(message.id, message.is_serious()) for message in messages] == [("users.W001", False)]


@pytest.mark.parametrize(
    ("debug", "backend"),
    [(True, "users.sms.SimulatedGatewayBackend"), (False, TWILIO), (False, SMSRU)],
)
def test_check_sms_backend_debug_or_real_provider_passes(settings, debug, backend):
    settings.DEBUG = debug
    settings.SMS_BACKEND = backend

    messages = check_sms_backend_is_real()

    assert messages == []


def test_check_deploy_command_warns_about_the_simulated_gateway(settings):
    settings.DEBUG = False
    settings.SMS_BACKEND = "users.sms.SimulatedGatewayBackend"

    with pytest.raises(SystemCheckError, match=r"users\.W001"):
        call_command("check", deploy=True, fail_level="WARNING", tags=["security"])


def test_check_sms_settings_backend_that_cannot_be_imported_is_an_error(settings):
    settings.SMS_BACKEND = "users.sms.NoSuchBackend"

    messages = check_sms_settings()

    assert [message.id for message in messages] == ["users.E020"]


@pytest.mark.parametrize(
    ("backend", "unset", "problems"),
    [
        (TWILIO, ["TWILIO_ACCOUNT_SID"], ["TWILIO_ACCOUNT_SID is not set."]),
        (TWILIO, ["TWILIO_AUTH_TOKEN"], ["TWILIO_AUTH_TOKEN is not set."]),
        (TWILIO, ["TWILIO_FROM"], ["set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID"]),
        (SMSRU, ["SMSRU_API_ID"], ["SMSRU_API_ID is not set."]),
    ],
)
def test_check_sms_settings_adapter_without_credentials_is_an_error(
    settings, backend, unset, problems
):
    settings.SMS_BACKEND = backend
    for name in unset:
        setattr(settings, name, "")

    messages = check_sms_settings()

    assert [message.id for message in messages] == ["users.E021"] * len(problems)
    assert all(problem in message.msg for problem, message in zip(problems, messages, strict=True))


@pytest.mark.parametrize("backend", [TWILIO, SMSRU])
def test_check_sms_settings_configured_adapter_passes(settings, backend):
    settings.SMS_BACKEND = backend

    messages = check_sms_settings()

    assert messages == []

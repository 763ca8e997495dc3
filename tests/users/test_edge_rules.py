"""Rules at the edges of phone login: review numbers, a failing gateway, staff accounts."""

import pytest
from django.core.management import call_command

from tests.login import request_code, verify_code
from tests.redis_keys import stored_keys
from users.checks import check_production_safety
from users.models import User
from users.sms import SmsMessage

pytestmark = pytest.mark.django_db


class FailingGateway:
    """A gateway that is down: every send raises."""

    def send(self, message: SmsMessage) -> None:
        raise ConnectionError("gateway unreachable")


def test_request_code_reserved_review_number_is_accepted_and_never_sent(
    api_client, outbox, settings
):
    settings.OTP_TEST_NUMBERS = "+70000000000:0000"

    requested = request_code(api_client, "+7 000 000-00-00")
    verified = verify_code(api_client, "+70000000000", "0000")

    assert requested.status_code == 200
    assert requested.json()["phone"] == "+70000000000"
    assert outbox == []
    assert verified.status_code == 200
    assert verified.json()["user"]["phone"] == "+70000000000"


def test_request_code_reserved_number_not_configured_is_refused(api_client, outbox):
    response = request_code(api_client, "+70000000000")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "phone": ["Enter a valid phone number in international format, e.g. +79991234567."]
    }


def test_request_code_gateway_failure_is_503_and_discards_the_code(api_client, settings):
    settings.SMS_BACKEND = "tests.users.test_edge_rules.FailingGateway"

    response = request_code(api_client, "+79991234567")

    assert response.status_code == 503
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The service is temporarily unavailable. Try again shortly.",
        "errors": {},
    }
    assert int(response["Retry-After"]) >= 1
    assert stored_keys("referral:otp:{+79991234567}:code") == []


# The check reads only the settings; no connection is opened with them.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_deploy_check_refuses_sqlite(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.OTP_EXPOSE_CODE = False
    settings.SECRET_KEY = "s" * 60
    settings.JWT_SIGNING_KEY_DERIVED = False
    settings.JWT_SIGNING_KEY = "j" * 40
    settings.DEBUG = False
    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}}

    errors = check_production_safety()

    assert [error.id for error in errors] == ["users.E006"]


def test_createsuperuser_stores_the_phone_in_e164(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-passphrase")

    call_command("createsuperuser", phone="+7 999 123-45-67", interactive=False, verbosity=0)

    admin = User.objects.get()
    assert admin.phone == "+79991234567"
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.check_password("a-long-admin-passphrase")


def test_create_user_with_an_invalid_phone_is_refused():
    with pytest.raises(ValueError, match="not a valid phone number"):
        User.objects.create_user("12345")


def test_verify_code_when_no_invite_code_is_free_is_503_not_500(
    api_client, outbox, monkeypatch, make_user
):
    taken = make_user()
    monkeypatch.setattr("users.managers.generate_invite_code", lambda: taken.invite_code)
    request_code(api_client, "+79991234567")

    response = verify_code(api_client, "+79991234567", outbox[-1].text[-4:])

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert not User.objects.filter(phone="+79991234567").exists()

"""The real SMS adapters (Twilio, SMS.ru) against local stand-ins of the providers' HTTP APIs.

The adapters' HTTP code runs for real; only the far end is a stand-in (tests/users/
provider_servers.py). Each outcome is checked at the adapter (the request it sent, the exception
it raised) and through POST /api/v1/auth/request-code/ (the whole answer, and no code left).
"""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from referral_api.error_codes import ErrorCode
from tests.login import PHONE, request_code, verify_code
from tests.users.provider_servers import (
    SMSRU_API_ID,
    SMSRU_INVALID_NUMBER,
    SMSRU_PATH,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM,
    TWILIO_INVALID_NUMBER,
    TWILIO_LANDLINE,
    TWILIO_MESSAGES_PATH,
    ProviderServer,
    SentRequest,
    basic_auth,
    closed_port,
    serving,
    smsru_answer,
    twilio_answer,
)
from users.sms import SmsInvalidNumberError, SmsMessage, SmsUnavailableError
from users.sms_providers import SmsRuBackend, TwilioBackend

pytestmark = pytest.mark.django_db

TWILIO = "users.sms_providers.TwilioBackend"
SMSRU = "users.sms_providers.SmsRuBackend"
TEXT = "Your login code: 1234"

SERVICE_UNAVAILABLE = {
    "code": ErrorCode.SERVICE_UNAVAILABLE,
    "message": "The service is temporarily unavailable. Try again shortly.",
    "errors": {},
}
UNDELIVERABLE = {
    "code": ErrorCode.VALIDATION_ERROR,
    "message": "The request has invalid fields.",
    "errors": {"phone": ["This number cannot receive SMS. Check it, or use another number."]},
}
OTP_EXPIRED = {
    "code": ErrorCode.OTP_EXPIRED,
    "message": "There is no valid code for this phone number. Request a new one.",
    "errors": {},
}


@pytest.fixture(autouse=True)
def _provider_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings.SMS_CONNECT_TIMEOUT_SECONDS = 2.0
    # Short, so a hanging provider ends the test quickly; a local answer takes milliseconds.
    settings.SMS_READ_TIMEOUT_SECONDS = 0.5
    settings.TWILIO_ACCOUNT_SID = TWILIO_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.TWILIO_FROM = TWILIO_FROM
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.SMSRU_API_ID = SMSRU_API_ID
    settings.SMSRU_FROM = ""


@pytest.fixture
def twilio(settings: Any) -> Iterator[ProviderServer]:
    with serving(twilio_answer) as server:
        settings.SMS_BACKEND = TWILIO
        settings.TWILIO_API_BASE_URL = server.url
        yield server


@pytest.fixture
def smsru(settings: Any) -> Iterator[ProviderServer]:
    with serving(smsru_answer) as server:
        settings.SMS_BACKEND = SMSRU
        settings.SMSRU_API_URL = server.url + SMSRU_PATH
        yield server


@pytest.fixture(params=["twilio", "smsru"])
def provider(request: pytest.FixtureRequest) -> ProviderServer:
    server: ProviderServer = request.getfixturevalue(request.param)
    return server


def sent_text(server: ProviderServer) -> str:
    form = server.requests[-1].form
    return form.get("Body") or form["msg"]


def code_in(text: str) -> str:
    return text.split()[-1]


# --------------------------------------------------------------------------- Twilio


def test_twilio_backend_sends_the_documented_request(twilio):
    TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert twilio.requests == [
        SentRequest(
            "POST",
            TWILIO_MESSAGES_PATH,
            twilio.requests[0].headers,
            {"To": PHONE, "From": TWILIO_FROM, "Body": TEXT},
        )
    ]
    headers = twilio.requests[0].headers
    assert headers["Authorization"] == basic_auth(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_twilio_backend_messaging_service_is_the_sender_when_set(twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "2" * 32

    TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert twilio.requests[0].form == {
        "To": PHONE,
        "MessagingServiceSid": "MG" + "2" * 32,
        "Body": TEXT,
    }


@pytest.mark.parametrize(
    ("phone", "error"),
    [
        pytest.param(TWILIO_INVALID_NUMBER, "error 21211", id="21211-invalid-to"),
        pytest.param(TWILIO_LANDLINE, "error 21614", id="21614-not-mobile"),
    ],
)
def test_twilio_backend_invalid_number_raises_invalid_number(twilio, phone, error):
    with pytest.raises(SmsInvalidNumberError, match=error) as raised:
        TwilioBackend().send(SmsMessage(phone=phone, text=TEXT))

    assert phone not in str(raised.value)
    assert raised.value.__suppress_context__


def test_twilio_backend_bad_credentials_is_unavailable(twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "0" * 32

    with pytest.raises(SmsUnavailableError, match=r"HTTP 401, error 20003"):
        TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))


def test_twilio_backend_server_error_is_unavailable(twilio):
    twilio.mode = "fail"

    with pytest.raises(SmsUnavailableError, match=r"HTTP 503"):
        TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert len(twilio.requests) == 1


def test_twilio_backend_read_timeout_is_unavailable_and_not_retried(twilio):
    twilio.mode = "hang"

    with pytest.raises(SmsUnavailableError, match=r"not reached: ReadTimeout"):
        TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert len(twilio.requests) == 1


def test_twilio_backend_created_with_an_unreadable_answer_counts_as_sent(twilio, caplog):
    twilio.mode = "garbled"

    TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert len(twilio.requests) == 1
    assert "Twilio accepted an SMS with an unreadable answer" in caplog.text


def test_twilio_backend_library_request_lines_are_debug_only(twilio, caplog):
    caplog.set_level(logging.INFO)

    TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert [record.name for record in caplog.records] == ["users.sms_providers"]


def test_twilio_backend_connection_refused_is_unavailable(settings):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(SmsUnavailableError, match=r"not reached: ConnectionError"):
        TwilioBackend().send(SmsMessage(phone=PHONE, text=TEXT))


# --------------------------------------------------------------------------- SMS.ru


def test_smsru_backend_sends_the_documented_request(smsru):
    SmsRuBackend().send(SmsMessage(phone=PHONE, text="Код для входа: 1234"))

    assert [(sent.method, sent.path, sent.form) for sent in smsru.requests] == [
        (
            "POST",
            SMSRU_PATH,
            {"api_id": SMSRU_API_ID, "to": PHONE[1:], "msg": "Код для входа: 1234", "json": "1"},
        )
    ]


def test_smsru_backend_sender_name_is_sent_when_set(smsru, settings):
    settings.SMSRU_FROM = "Referral"

    SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert smsru.requests[0].form["from"] == "Referral"


def test_smsru_backend_invalid_number_raises_invalid_number(smsru):
    with pytest.raises(SmsInvalidNumberError, match=r"status 202"):
        SmsRuBackend().send(SmsMessage(phone=SMSRU_INVALID_NUMBER, text=TEXT))


def test_smsru_backend_invalid_number_for_the_whole_request_raises_invalid_number(smsru):
    smsru.answer = lambda sent: (200, {"status": "ERROR", "status_code": 202})

    with pytest.raises(SmsInvalidNumberError, match=r"status 202"):
        SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        pytest.param(
            {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"},
            "status 200",
            id="200-bad-api-id",
        ),
        pytest.param(
            {"status": "ERROR", "status_code": 220, "status_text": "Сервис временно недоступен"},
            "status 220",
            id="220-temporarily-unavailable",
        ),
        pytest.param(
            {
                "status": "OK",
                "status_code": 100,
                "sms": {"79991234567": {"status": "ERROR", "status_code": 201}},
            },
            "status 201",
            id="201-no-balance",
        ),
        pytest.param({"status": "OK", "status_code": 100}, "without the number", id="no-sms"),
        pytest.param({"unexpected": True}, "unreadable", id="unreadable"),
    ],
)
def test_smsru_backend_refusals_are_unavailable(smsru, answer, error):
    smsru.answer = lambda sent: (200, answer)

    with pytest.raises(SmsUnavailableError, match=error):
        SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))


def test_smsru_backend_wrong_api_id_is_refused_by_the_stand_in(smsru, settings):
    settings.SMSRU_API_ID = "wrong"

    with pytest.raises(SmsUnavailableError, match=r"refused the message: status 200"):
        SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))


def test_smsru_backend_server_error_is_unavailable(smsru):
    smsru.mode = "fail"

    with pytest.raises(SmsUnavailableError, match=r"HTTP 503"):
        SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert len(smsru.requests) == 1


def test_smsru_backend_read_timeout_is_unavailable_and_not_retried(smsru):
    smsru.mode = "hang"

    with pytest.raises(SmsUnavailableError, match=r"not reached: ReadTimeout"):
        SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))

    assert len(smsru.requests) == 1


def test_smsru_backend_connection_refused_is_unavailable(settings):
    settings.SMSRU_API_URL = f"http://127.0.0.1:{closed_port()}{SMSRU_PATH}"

    with pytest.raises(SmsUnavailableError, match=r"not reached: ConnectError"):
        SmsRuBackend().send(SmsMessage(phone=PHONE, text=TEXT))


# --------------------------------------------------------------- through the API


def test_request_code_accepted_by_the_provider_is_200_and_the_code_verifies(api_client, provider):
    response = request_code(api_client)
    code = code_in(sent_text(provider))

    verified = verify_code(api_client, PHONE, code)

    assert response.status_code == 200
    assert response.json() == {"phone": PHONE, "expires_in": 300, "resend_in": 60, "code_length": 4}
    assert sent_text(provider) == f"Код для входа: {code}"
    assert len(provider.requests) == 1
    assert verified.status_code == 200


@pytest.mark.parametrize(
    ("backend", "phone"),
    [
        pytest.param("twilio", TWILIO_INVALID_NUMBER, id="twilio-21211"),
        pytest.param("twilio", TWILIO_LANDLINE, id="twilio-21614"),
        pytest.param("smsru", SMSRU_INVALID_NUMBER, id="smsru-202"),
    ],
)
def test_request_code_number_refused_by_the_provider_is_a_phone_error(
    api_client, request, backend, phone
):
    server = request.getfixturevalue(backend)

    response = request_code(api_client, phone)
    verified = verify_code(api_client, phone, code_in(sent_text(server)))

    assert response.status_code == 400
    assert response.json() == UNDELIVERABLE
    assert "Retry-After" not in response
    assert verified.status_code == 400
    assert verified.json() == OTP_EXPIRED


def break_provider(server: ProviderServer, settings: Any, failure: str) -> None:
    if failure == "bad-credentials":
        settings.TWILIO_AUTH_TOKEN = "0" * 32
        settings.SMSRU_API_ID = "wrong"
    elif failure == "connection-refused":
        down = f"http://127.0.0.1:{closed_port()}"
        settings.TWILIO_API_BASE_URL = down
        settings.SMSRU_API_URL = down + SMSRU_PATH
    else:
        server.mode = failure


@pytest.mark.parametrize("failure", ["bad-credentials", "fail", "hang", "connection-refused"])
def test_request_code_provider_failure_is_503_and_leaves_no_code(
    api_client, provider, settings, failure
):
    break_provider(provider, settings, failure)

    response = request_code(api_client)
    sent = list(provider.requests)
    verified = verify_code(api_client, PHONE, code_in(sent_text(provider)) if sent else "1234")

    assert response.status_code == 503
    assert response.json() == SERVICE_UNAVAILABLE
    # The send started the resend cooldown: a retry succeeds no sooner.
    assert response["Retry-After"] == "60"
    assert len(sent) == (0 if failure == "connection-refused" else 1)
    assert verified.status_code == 400
    assert verified.json() == OTP_EXPIRED


def test_request_code_after_a_failure_retry_after_later_succeeds(api_client, twilio):
    with time_machine.travel("2026-01-05 12:00:00Z", tick=False) as clock:
        twilio.mode = "fail"
        failed = request_code(api_client)
        twilio.mode = "answer"
        clock.shift(int(failed["Retry-After"]))

        retried = request_code(api_client)

    assert failed.status_code == 503
    assert retried.status_code == 200
    assert len(twilio.requests) == 2


def test_request_code_provider_logs_hold_neither_number_nor_code(
    api_client, provider, settings, caplog
):
    caplog.set_level(logging.INFO)
    request_code(api_client)
    code = code_in(sent_text(provider))
    provider.mode = "fail"
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0

    request_code(api_client)

    assert "SMS sent to +79…67 via" in caplog.text
    assert "SMS not sent to +79…67: " in caplog.text
    assert PHONE not in caplog.text
    assert PHONE[1:] not in caplog.text
    assert code not in caplog.text

"""Real SMS providers behind `users.sms.SmsBackend`: set `SMS_BACKEND` to one (docs/sms.md).

Each adapter sends one HTTP request with a connect and a read timeout and never retries. Once a
request may have reached the provider, the provider may have accepted it, and a second try could
send the code twice. A connection that was never made is not retried either: the client is told
to try again (503 with `Retry-After`), so the one retry is the user's, in plain sight.

Outcomes: accepted → return; the provider says the number is invalid → `SmsInvalidNumberError`;
anything else (bad credentials, no balance, provider error, 5xx, timeout, no connection, an answer
that cannot be read) → `SmsUnavailableError`. Exception texts name the provider and its answer,
never the number or the message; the original exception is dropped (`from None`) because the
libraries' own texts may quote the number.
"""

import logging
from typing import NoReturn

import httpx
from django.conf import settings
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from users.sms import SmsInvalidNumberError, SmsMessage, SmsUnavailableError, mask_phone

logger = logging.getLogger(__name__)

# Twilio error codes that mean the number itself cannot get the message
# (twilio.com/docs/api/errors): 21211 invalid 'To' number, 21614 'To' is not a mobile number.
TWILIO_INVALID_NUMBER_CODES = frozenset({21211, 21614})

# SMS.ru status codes (sms.ru/api/send): 100 accepted; 202 the recipient's number is wrong.
# Every other code (200 bad api_id, 201 no balance, 220 service unavailable, 230-233 its own
# limits, …) leaves the message unsent for a reason the user cannot fix.
SMSRU_ACCEPTED = 100
SMSRU_INVALID_NUMBER_CODES = frozenset({202})


class _WireLog(logging.LoggerAdapter[logging.Logger]):
    """Twilio's client logs each request's URL and headers (never the body) at INFO: eleven
    lines a message. They go out at DEBUG instead (DJANGO_LOG_LEVEL=DEBUG shows them)."""

    def info(self, msg: object, *args: object, **kwargs: object) -> None:
        self.debug(msg, *args, **kwargs)  # type: ignore[arg-type]


_TWILIO_WIRE_LOG = _WireLog(logging.getLogger("twilio.http_client"), {})


def _timeouts() -> tuple[float, float]:
    return settings.SMS_CONNECT_TIMEOUT_SECONDS, settings.SMS_READ_TIMEOUT_SECONDS


class TwilioBackend:
    """Twilio Programmable Messaging, through Twilio's own library (`twilio`)."""

    @classmethod
    def configuration_errors(cls) -> list[str]:
        problems = [
            f"{name} is not set."
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
            if not getattr(settings, name)
        ]
        if not (settings.TWILIO_FROM or settings.TWILIO_MESSAGING_SERVICE_SID):
            problems.append("set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID (the sender).")
        return problems

    def send(self, message: SmsMessage) -> None:
        # requests' default adapter, which Twilio's client mounts, makes no retries. Its
        # constructor takes one timeout for both phases; requests takes the (connect, read) pair.
        http = TwilioHttpClient(pool_connections=True, logger=_TWILIO_WIRE_LOG)
        http.timeout = _timeouts()
        try:
            self._create(http, message)
        finally:
            if http.session is not None:
                http.session.close()
        logger.info("SMS sent to %s via Twilio", mask_phone(message.phone))

    def _create(self, http: TwilioHttpClient, message: SmsMessage) -> None:
        sender = (
            {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else {"from_": settings.TWILIO_FROM}
        )
        try:
            client = Client(
                settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http
            )
            # The API's address (TWILIO_API_BASE_URL); the tests point it at a local server.
            client.api.base_url = settings.TWILIO_API_BASE_URL
            client.messages.create(to=message.phone, body=message.text, **sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            if exc.code in TWILIO_INVALID_NUMBER_CODES:
                raise SmsInvalidNumberError(
                    f"Twilio refused the number: error {exc.code}"
                ) from None
            raise SmsUnavailableError(
                f"Twilio refused the message: HTTP {exc.status}, error {exc.code}"
            ) from None
        except RequestException as exc:
            raise SmsUnavailableError(f"Twilio not reached: {type(exc).__name__}") from None
        except TwilioException as exc:
            # Raised before any request, e.g. for missing credentials.
            raise SmsUnavailableError(f"Twilio client not usable: {exc}") from None
        except ValueError:
            # A 2xx answer whose body is not JSON: Twilio created the message, so it is sent;
            # failing here would discard a code that is on its way.
            logger.warning("Twilio accepted an SMS with an unreadable answer")


class SmsRuBackend:
    """SMS.ru (Russia and the CIS), over its HTTP API with `httpx`: it has no library of its own."""

    @classmethod
    def configuration_errors(cls) -> list[str]:
        return [] if settings.SMSRU_API_ID else ["SMSRU_API_ID is not set."]

    def send(self, message: SmsMessage) -> None:
        data = {
            "api_id": settings.SMSRU_API_ID,
            "to": message.phone.removeprefix("+"),
            "msg": message.text,
            "json": "1",
        }
        if settings.SMSRU_FROM:
            data["from"] = settings.SMSRU_FROM
        connect, read = _timeouts()
        timeout = httpx.Timeout(read, connect=connect)
        try:
            # POST keeps api_id out of URLs (and so out of proxies' logs); httpx never retries.
            with httpx.Client(timeout=timeout) as client:
                response = client.post(settings.SMSRU_API_URL, data=data)
        except httpx.HTTPError as exc:
            raise SmsUnavailableError(f"SMS.ru not reached: {type(exc).__name__}") from None
        self._check_answer(response)
        logger.info("SMS sent to %s via SMS.ru", mask_phone(message.phone))

    def _check_answer(self, response: httpx.Response) -> None:
        if response.status_code != httpx.codes.OK:
            raise SmsUnavailableError(f"SMS.ru answered HTTP {response.status_code}")
        try:
            body = response.json()
            request_status, request_code = body["status"], int(body["status_code"])
            # One number per request, so the answer has one entry (keyed by SMS.ru's form of it).
            entries = list(body.get("sms", {}).values())
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SmsUnavailableError("SMS.ru answered something unreadable") from None
        if request_status != "OK":
            # The whole request was refused (its code is the reason, e.g. 200: wrong api_id).
            self._raise_for(request_code)
        if len(entries) != 1 or not isinstance(entries[0], dict):
            raise SmsUnavailableError("SMS.ru answered without the number's status")
        try:
            code = int(entries[0]["status_code"])
        except (KeyError, TypeError, ValueError):
            raise SmsUnavailableError("SMS.ru answered something unreadable") from None
        if entries[0].get("status") != "OK" or code != SMSRU_ACCEPTED:
            self._raise_for(code)

    @staticmethod
    def _raise_for(code: int) -> NoReturn:
        if code in SMSRU_INVALID_NUMBER_CODES:
            raise SmsInvalidNumberError(f"SMS.ru refused the number: status {code}")
        raise SmsUnavailableError(f"SMS.ru refused the message: status {code}")

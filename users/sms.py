"""The SMS gateway boundary: one function, and a backend class chosen by `SMS_BACKEND`."""

import logging
import random
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


class SmsBackend(Protocol):
    """Sends one message, or raises: `SmsError` for a refusal it understood, anything else for a
    failure it did not (both leave the message unsent as far as the caller knows)."""

    def send(self, message: SmsMessage) -> None: ...


class SmsError(Exception):
    """A provider did not take the message. The text is safe to log: it names the provider and
    its answer, never the number or the message."""


class SmsInvalidNumberError(SmsError):
    """The provider refused the number itself: asking again will not help, another number may."""


class SmsUnavailableError(SmsError):
    """The provider could not be reached, refused our credentials, failed, or timed out."""


def mask_phone(phone: str) -> str:
    """Enough of a number to follow it in logs without publishing it."""
    return f"{phone[:3]}…{phone[-2:]}"


class SimulatedGatewayBackend:
    """Stands in for a real gateway: waits as long as one does (1–2 s by default) and logs."""

    def send(self, message: SmsMessage) -> None:
        # The sleep releases the GIL and holds no CPU, so a threaded worker keeps serving.
        time.sleep(random.uniform(settings.SMS_DELAY_MIN_SECONDS, settings.SMS_DELAY_MAX_SECONDS))  # noqa: S311
        if settings.DEBUG:
            # Only a development server shows the text, so codes never reach production logs.
            logger.info("SMS to %s: %s", message.phone, message.text)
        else:
            logger.info("SMS sent to %s", mask_phone(message.phone))


class MemoryBackend:
    """Records messages in `outbox` instead of sending them (tests and demos)."""

    outbox: list[SmsMessage] = []

    def send(self, message: SmsMessage) -> None:
        self.outbox.append(message)


def send_sms(*, phone: str, text: str) -> None:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    backend.send(SmsMessage(phone=phone, text=text))

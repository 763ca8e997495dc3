"""Phone login through the HTTP API, as a client does it: ask for a code, read the SMS, verify."""

import re
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from users.sms import SmsMessage

PHONE = "+79991234567"
OTHER_PHONE = "+79997654321"


def request_code(client: APIClient, phone: str = PHONE, **extra: Any) -> Any:
    return client.post(reverse("users:auth-request-code"), {"phone": phone}, **extra)


def verify_code(client: APIClient, phone: str, code: str, **fields: Any) -> Any:
    return client.post(reverse("users:auth-verify-code"), {"phone": phone, "code": code, **fields})


def sent_code(outbox: list[SmsMessage], phone: str = PHONE) -> str:
    """The code in the latest SMS to `phone`."""
    message = [sms for sms in outbox if sms.phone == phone][-1]
    match = re.search(r"\b(\d+)\b", message.text)
    assert match is not None, message.text
    return match.group(1)


def wrong_code(code: str) -> str:
    """A code of the same length that is certainly not `code`."""
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def log_in(client: APIClient, outbox: list[SmsMessage], phone: str = PHONE, **fields: Any) -> Any:
    """Sign in (signing up on the first call); returns the verify-code body."""
    requested = request_code(client, phone)
    assert requested.status_code == 200, requested.json()
    code = sent_code(outbox, requested.json()["phone"])
    response = verify_code(client, phone, code, **fields)
    assert response.status_code == 200, response.json()
    return response.json()


def bearer(access: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}

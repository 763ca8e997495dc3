"""What the activation endpoint answers (API.md › 6), and a short way to ask it."""

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

URL = "invites:profile-activate-invite"
UNKNOWN_CODE = "ZZZZZZ"
NOT_FOUND = {
    "code": "invite_code_not_found",
    "message": "No user has this invite code.",
    "errors": {},
}
OWN = {
    "code": "invite_code_own",
    "message": "You cannot activate your own invite code.",
    "errors": {},
}
CYCLE = {
    "code": "invite_cycle",
    "message": "This code belongs to someone you invited, directly or through others.",
    "errors": {},
}
THROTTLED = {
    "code": "throttled",
    "message": "Too many failed activation attempts. Try again later.",
    "errors": {},
}
TOO_LONG = "Ensure this field has no more than 64 characters."
INVALID_CODE = "An invite code is 6 letters or digits, e.g. A1B2C3."


def already_activated(code: str) -> dict[str, object]:
    return {
        "code": "invite_already_activated",
        "message": f"You have already activated the invite code {code}.",
        "errors": {},
    }


def invalid(*messages: str) -> dict[str, object]:
    return {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "errors": {"invite_code": list(messages)},
    }


def activate(client: APIClient, invite_code: object) -> tuple[int, dict[str, Any]]:
    """POST one activation; the status and the JSON body."""
    response = client.post(reverse(URL), {"invite_code": invite_code}, format="json")
    return response.status_code, response.json()

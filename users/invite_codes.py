"""Invite codes: six characters of A–Z and 0–9, drawn at random, stored upper case."""

import secrets

INVITE_CODE_LENGTH = 6
INVITE_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class NoFreeInviteCodeError(Exception):
    """Every draw of a sign-up hit a code already taken: the code space is nearly full."""


def generate_invite_code() -> str:
    """A uniformly random code: 36^6 ≈ 2.2 billion of them."""
    # One draw from `secrets` for the whole code: each draw is a system call, and in a threaded
    # server every system call hands the GIL to another thread.
    number = secrets.randbelow(len(INVITE_CODE_ALPHABET) ** INVITE_CODE_LENGTH)
    digits = []
    for _ in range(INVITE_CODE_LENGTH):
        number, digit = divmod(number, len(INVITE_CODE_ALPHABET))
        digits.append(INVITE_CODE_ALPHABET[digit])
    return "".join(digits)

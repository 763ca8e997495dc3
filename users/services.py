"""Phone login: sending and checking one-time codes, signing up, and the token life cycle."""

import logging
import secrets
from contextlib import nullcontext
from dataclasses import dataclass

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken

from invites.selectors import invite_owner
from referral_api.errors import OUTAGE_RETRY_AFTER, ServiceUnavailableError
from users import otp
from users.exceptions import (
    AccountDisabledError,
    OtpAttemptsExceededError,
    OtpCooldownError,
    OtpExpiredError,
    OtpInvalidError,
    OtpSendLimitError,
    RefreshTokenForeignError,
    TokenNotValidError,
)
from users.models import INVITE_CODE_ALPHABET, INVITE_CODE_LENGTH, User
from users.selectors import user_by_phone
from users.sms import mask_phone, send_sms
from users.tokens import (
    SESSION_START_CLAIM,
    TokenPair,
    blacklist,
    claims_ignoring_expiry,
    parse_refresh,
    token_pair_for,
)

logger = logging.getLogger(__name__)

# 36^6 ≈ 2.2 billion codes: even with a million users a draw collides about once in 2,000.
INVITE_CODE_ATTEMPTS = 5


@dataclass(frozen=True)
class OtpSent:
    phone: str
    code: str


@dataclass(frozen=True)
class Login:
    user: User
    is_new_user: bool
    tokens: TokenPair


def invite_code_generate() -> str:
    # One draw from `secrets` for the whole code: each draw is a system call, and in a threaded
    # server every system call hands the GIL to another thread.
    number = secrets.randbelow(len(INVITE_CODE_ALPHABET) ** INVITE_CODE_LENGTH)
    digits = []
    for _ in range(INVITE_CODE_LENGTH):
        number, digit = divmod(number, len(INVITE_CODE_ALPHABET))
        digits.append(INVITE_CODE_ALPHABET[digit])
    return "".join(digits)


def user_create(*, phone: str, **fields: object) -> User:
    """Insert a user with a fresh invite code, drawing again when the code is already taken."""
    for draw in range(1, INVITE_CODE_ATTEMPTS + 1):
        user = User(phone=phone, invite_code=invite_code_generate(), **fields)
        # What set_unusable_password() stores, drawn in one system call instead of 40.
        user.password = UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)
        # In a transaction, a failed INSERT needs a savepoint to go on; on its own the INSERT is
        # its own transaction, and BEGIN/COMMIT around it would only add two round trips.
        in_transaction = transaction.get_connection().in_atomic_block
        try:
            with transaction.atomic() if in_transaction else nullcontext():
                user.save(force_insert=True)
        except IntegrityError:
            if not User.objects.filter(invite_code=user.invite_code).exists():
                raise
            # The draw number shows how close the code space is to full (make bench counts them).
            logger.warning("invite code collision at sign-up, draw %d; drawing another", draw)
            continue
        return user
    # Five collisions in a row: the code space is nearly full, which operators must see.
    logger.error("no free invite code after %d draws", INVITE_CODE_ATTEMPTS)
    raise ServiceUnavailableError(retry_after=OUTAGE_RETRY_AFTER)


def otp_request(*, phone: str, client_ip: str) -> OtpSent:
    """Store a new code for `phone` when the limits allow, then send it by SMS."""
    fixed_code = otp.test_numbers().get(phone)
    code = fixed_code or otp.generate_code()
    result = otp.store_code(phone=phone, code=code, client_ip=client_ip)
    match result.status:
        case "locked":
            raise OtpAttemptsExceededError(retry_after=result.retry_after)
        case "cooldown":
            raise OtpCooldownError(retry_after=result.retry_after)
        case "phone_limit" | "ip_limit":
            raise OtpSendLimitError(retry_after=result.retry_after)
    if fixed_code is None:
        try:
            send_sms(phone=phone, text=f"Your login code: {code}")
        except Exception as exc:
            # A code nobody received must not stay guessable; the send still counts toward
            # the limits, so a failing gateway cannot be used to get around them.
            otp.discard_code(phone=phone)
            logger.exception("SMS gateway failed for %s", mask_phone(phone))
            raise ServiceUnavailableError(retry_after=OUTAGE_RETRY_AFTER) from exc
    return OtpSent(phone=phone, code=code)


def otp_verify(*, phone: str, code: str) -> None:
    """Consume the phone's code, or count the wrong try and raise."""
    result = otp.check_code(phone=phone, code=code)
    match result.status:
        case "ok":
            return
        case "invalid":
            raise OtpInvalidError()
        case "expired":
            raise OtpExpiredError()
        case _:
            raise OtpAttemptsExceededError(retry_after=result.retry_after)


def user_sign_up(*, phone: str, inviter: User | None = None) -> User:
    """Create a user; with an inviter, the activation is part of the same transaction."""
    if inviter is None:
        return user_create(phone=phone)
    with transaction.atomic():
        # One instant for both: the referral happened as the account was created.
        now = timezone.now()
        user = user_create(phone=phone, referred_by=inviter, referred_at=now, date_joined=now)
        User.objects.filter(pk=inviter.pk).update(referrals_count=F("referrals_count") + 1)
        return user


def auth_login(*, phone: str, code: str, invite_code: str | None = None) -> Login:
    """Exchange a correct code for tokens; the first login creates the user."""
    user = user_by_phone(phone=phone)
    inviter = None
    if user is None and invite_code is not None:
        # Checked before the login code, so a mistyped invite code does not spend it.
        inviter = invite_owner(code=invite_code)
    otp_verify(phone=phone, code=code)

    is_new_user = user is None
    if user is None:
        try:
            user = user_sign_up(phone=phone, inviter=inviter)
        except IntegrityError:
            # Another request signed this phone up first; the code we hold was still valid.
            user = User.objects.select_related("referred_by").get(phone=phone)
            is_new_user = False
    if not user.is_active:
        raise AccountDisabledError()
    return Login(user=user, is_new_user=is_new_user, tokens=token_pair_for(user))


def token_refresh(*, refresh: str) -> TokenPair:
    """Rotate a refresh token: it works once, and the new pair stays within its session."""
    try:
        token = parse_refresh(refresh)
    except TokenError as exc:
        raise TokenNotValidError() from exc
    try:
        user = User.objects.get(pk=token.get(api_settings.USER_ID_CLAIM), is_active=True)
    except User.DoesNotExist:
        user = None
    if user is None:
        raise TokenNotValidError()
    with transaction.atomic():
        if not blacklist(token):
            raise TokenNotValidError()
        return token_pair_for(user, session_start=token[SESSION_START_CLAIM])


def auth_logout(*, user: User, refresh: str) -> None:
    """Revoke the caller's refresh token; one already revoked or expired is fine."""
    foreign = RefreshTokenForeignError(errors={"refresh": [RefreshTokenForeignError.message]})
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError:
        claims = claims_ignoring_expiry(refresh)
        if claims is None or claims.get(api_settings.USER_ID_CLAIM) != user.pk:
            raise foreign from None
        return
    if token.get(api_settings.USER_ID_CLAIM) != user.pk:
        raise foreign
    blacklist(token)

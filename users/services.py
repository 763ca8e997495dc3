"""Phone login: sending and checking one-time codes, signing up, and the token life cycle."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken

from invites.selectors import invite_owner
from invites.services import referral_record
from referral_api import metrics
from referral_api.errors import OUTAGE_RETRY_AFTER, ServiceUnavailableError
from referral_api.rows import Upsert, write
from users import otp
from users.exceptions import (
    AccountDisabledError,
    OtpAttemptsExceededError,
    OtpCooldownError,
    OtpExpiredError,
    OtpInvalidError,
    OtpSendLimitError,
    PhoneUndeliverableError,
    RefreshTokenForeignError,
    TokenNotValidError,
)
from users.invite_codes import NoFreeInviteCodeError
from users.models import Session, User
from users.selectors import user_by_phone
from users.sessions import new_session
from users.sightings import ClientMarks, sightings
from users.sms import SmsError, SmsInvalidNumberError, mask_phone, send_sms
from users.sms_text import login_code_text
from users.test_numbers import test_numbers
from users.tokens import (
    TokenPair,
    blacklist,
    claims_ignoring_expiry,
    parse_refresh,
    session_id_of,
    token_pair_for,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OtpSent:
    phone: str
    code: str


@dataclass(frozen=True)
class SignIn:
    user: User
    is_new_user: bool
    # The login's session, when it started one (the API's logins do).
    session: Session | None = None


@dataclass(frozen=True)
class Login:
    user: User
    is_new_user: bool
    tokens: TokenPair


def otp_request(*, phone: str, client_ip: str) -> OtpSent:
    """Store a new code for `phone` when the limits allow, then send it by SMS."""
    fixed_code = test_numbers().get(phone)
    code = fixed_code or otp.generate_code()
    result = otp.store_code(phone=phone, code=code, client_ip=client_ip)
    match result.status:
        case "locked":
            raise OtpAttemptsExceededError(retry_after=result.retry_after)
        case "cooldown":
            raise OtpCooldownError(retry_after=result.retry_after)
        case "phone_limit" | "ip_limit" | "prefix_limit":
            raise OtpSendLimitError(retry_after=result.retry_after, limit=f"otp_{result.status}")
    if fixed_code is None:
        try:
            send_sms(phone=phone, text=login_code_text(phone=phone, code=code))
        except Exception as exc:
            # A code nobody received must not stay guessable; the send still counts toward
            # the limits, so a failing gateway cannot be used to get around them.
            otp.discard_code(phone=phone)
            metrics.SMS_FAILURES.labels(
                metrics.provider_name(settings.SMS_BACKEND), _failure_reason(exc)
            ).inc()
            if isinstance(exc, SmsInvalidNumberError):
                logger.warning("SMS not sent to %s: %s", mask_phone(phone), exc)
                raise PhoneUndeliverableError() from exc
            if isinstance(exc, SmsError):
                logger.error("SMS not sent to %s: %s", mask_phone(phone), exc)
            else:
                logger.exception("SMS gateway failed for %s", mask_phone(phone))
            # The resend cooldown has started with this send: no sooner can a retry succeed.
            retry_after = max(OUTAGE_RETRY_AFTER, settings.OTP_RESEND_COOLDOWN_SECONDS)
            raise ServiceUnavailableError(retry_after=retry_after) from exc
        metrics.OTP_CODES_SENT.labels(metrics.country_code_of(phone)).inc()
    return OtpSent(phone=phone, code=code)


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, SmsInvalidNumberError):
        return "invalid_number"
    return "unavailable" if isinstance(exc, SmsError) else "error"


def otp_verify(*, phone: str, code: str) -> None:
    """Consume the phone's code, or count the wrong try and raise."""
    result = otp.check_code(phone=phone, code=code)
    # Redis has answered: whatever the request does next, this check happened.
    # The script's answers are a fixed set: ok, invalid, expired, burned (that try used up the
    # code's attempts) and locked (the phone's failure cap).
    metrics.OTP_VERIFICATIONS.labels(result.status).inc()
    match result.status:
        case "ok":
            return
        case "invalid":
            raise OtpInvalidError()
        case "expired":
            raise OtpExpiredError()
        case _:
            raise OtpAttemptsExceededError(retry_after=result.retry_after)


def _login_rows(
    user: User, *, marks: ClientMarks | None, user_agent: str | None, at: datetime
) -> tuple[list[Model | Upsert], Session | None]:
    """What a login writes besides a new user: its sightings and, for the API, its session."""
    rows: list[Model | Upsert] = []
    if marks is not None:
        rows.append(sightings(user=user, marks=marks, at=at))
    session = None
    if user_agent is not None:
        session = new_session(user=user, at=at, user_agent=user_agent)
        rows.append(session)
    return rows, session


def user_sign_up(
    *,
    phone: str,
    inviter: User | None = None,
    marks: ClientMarks | None = None,
    user_agent: str | None = None,
) -> SignIn:
    """Create a user; with an inviter, the activation is part of the same transaction.

    `marks` are recorded as the user's sightings; with a `user_agent` the login starts a session.
    Both go in the statement that writes the user: a round trip less for each (rows.write).
    """
    # One instant for all: the referral happened as the account was created.
    now = timezone.now()
    user = User(phone=phone, date_joined=now)
    rows, session = _login_rows(user, marks=marks, user_agent=user_agent, at=now)
    try:
        if inviter is None:
            User.objects.insert_with_invite_code(user, *rows)
        else:
            with transaction.atomic():
                User.objects.insert_with_invite_code(user, *rows)
                user = referral_record(user=user, owner=inviter, at=now, marks=marks)
    except NoFreeInviteCodeError as exc:
        raise ServiceUnavailableError(retry_after=OUTAGE_RETRY_AFTER) from exc
    return SignIn(user=user, is_new_user=True, session=session)


def user_sign_in(
    *,
    phone: str,
    code: str,
    invite_code: str | None = None,
    marks: ClientMarks | None = None,
    user_agent: str | None = None,
) -> SignIn:
    """Every rule of a login, without tokens: check the code; the first login creates the user.

    The API's `auth_login` passes `user_agent`: the login then starts a session (`SignIn.session`)
    for its tokens; the web pages start a Django session instead.
    `marks`: the request's client IP and device (HMACs): recorded for the user, and checked for
    abuse signals when this call records a referral.
    """
    user = user_by_phone(phone=phone)
    inviter = None
    if user is None and invite_code is not None:
        # Checked before the login code, so a mistyped invite code does not spend it.
        inviter = invite_owner(code=invite_code)
    otp_verify(phone=phone, code=code)

    if user is None:
        try:
            return user_sign_up(phone=phone, inviter=inviter, marks=marks, user_agent=user_agent)
        except IntegrityError:
            # Another request signed this phone up first; the code we hold was still valid.
            user = User.objects.select_related("referred_by").get(phone=phone)
    if not user.is_active:
        raise AccountDisabledError()
    rows, session = _login_rows(user, marks=marks, user_agent=user_agent, at=timezone.now())
    if rows:
        write(*rows)
    return SignIn(user=user, is_new_user=False, session=session)


def auth_login(
    *,
    phone: str,
    code: str,
    invite_code: str | None = None,
    marks: ClientMarks | None = None,
    user_agent: str = "",
) -> Login:
    """Exchange a correct code for tokens: `user_sign_in` with a session, and its tokens."""
    signed_in = user_sign_in(
        phone=phone, code=code, invite_code=invite_code, marks=marks, user_agent=user_agent
    )
    # A login given a user agent always starts a session.
    user, session = signed_in.user, cast(Session, signed_in.session)
    return Login(
        user=user, is_new_user=signed_in.is_new_user, tokens=token_pair_for(user, session=session)
    )


def token_refresh(*, refresh: str) -> TokenPair:
    """Rotate a refresh token: it works once, and the new pair stays within its session."""
    try:
        token = parse_refresh(refresh)
    except TokenError as exc:
        raise TokenNotValidError() from exc
    session_id = session_id_of(token)
    if session_id is None:
        raise TokenNotValidError()
    with transaction.atomic():
        # The session row stays locked until the new pair exists: a logout-all that ends it
        # meanwhile waits, so the new pair is never issued for an ended session (and the pair
        # carries the session's id, which every later use checks).
        session = (
            Session.objects.select_for_update()
            .select_related("user")
            .filter(
                pk=session_id,
                user_id=token.get(api_settings.USER_ID_CLAIM),
                user__is_active=True,
                ended_at__isnull=True,
            )
            .first()
        )
        if session is None or not blacklist(token):
            raise TokenNotValidError()
        return token_pair_for(session.user, session=session)


def auth_logout(*, user: User, refresh: str) -> None:
    """Revoke the caller's refresh token; one already revoked or expired is fine."""
    message = str(RefreshTokenForeignError.message)
    foreign = RefreshTokenForeignError(message, errors={"refresh": [message]})
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError:
        claims = claims_ignoring_expiry(refresh)
        if claims is None or claims.get(api_settings.USER_ID_CLAIM) != user.pk:
            raise foreign from None
        session_end(user=user, session_id=session_id_of(claims))
        return
    if token.get(api_settings.USER_ID_CLAIM) != user.pk:
        raise foreign
    blacklist(token)
    session_end(user=user, session_id=session_id_of(token))


def session_end(*, user: User, session_id: UUID | None) -> bool:
    """End one of the user's sessions: its tokens stop working at once. False when the user has
    no such session (ending an ended one is fine)."""
    if session_id is None:
        return False
    sessions = Session.objects.filter(pk=session_id, user=user)
    sessions.filter(ended_at__isnull=True).update(ended_at=timezone.now())
    return sessions.exists()


def sessions_end_all(*, user: User) -> int:
    """End every live session of the user (sign out everywhere); returns how many."""
    return Session.objects.filter(user=user, ended_at__isnull=True).update(ended_at=timezone.now())

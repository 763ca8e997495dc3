"""SimpleJWT with an absolute session cap and rotation that stays single-use under concurrency."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

from users.models import Session, User
from users.sessions import session_start

# When the login that started a session happened (epoch seconds), as OpenID Connect names it.
SESSION_START_CLAIM = "auth_time"
# The session (users.Session) every token of one login carries, as OpenID Connect names it.
SESSION_ID_CLAIM = "sid"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


class SessionExpiredError(TokenError):
    pass


def _session_end(session_start: int) -> datetime:
    return datetime_from_epoch(session_start) + timedelta(days=settings.JWT_SESSION_MAX_DAYS)


def token_pair_for(user: User, *, session: Session | None = None) -> TokenPair:
    """A new refresh token and its access token of `session` (a new one when None), both
    ending no later than the session.

    The token is not written down here: `blacklist` records it when it is used or revoked, which
    is all rotation needs, and a login saves an INSERT.
    """
    if session is None:
        session = session_start(user=user, at=timezone.now())
    start = datetime_to_epoch(session.created_at)
    session_end = _session_end(start)
    refresh = RefreshToken()
    refresh[api_settings.USER_ID_CLAIM] = user.pk
    refresh[SESSION_START_CLAIM] = start
    # Copied into the access token by SimpleJWT (access_token copies every claim it does not own).
    refresh[SESSION_ID_CLAIM] = str(session.pk)
    if refresh.current_time + refresh.lifetime > session_end:
        refresh.set_exp(from_time=session_end, lifetime=timedelta(0))
    access = refresh.access_token
    if access.current_time + access.lifetime > session_end:
        access.set_exp(from_time=session_end, lifetime=timedelta(0))
    return TokenPair(access=str(access), refresh=str(refresh))


def parse_refresh(raw: str) -> RefreshToken:
    """A refresh token that is well signed, unexpired, not blacklisted, within its session's
    lifetime, and names a session (whether it is still live is the caller's to check)."""
    token = RefreshToken(raw)  # type: ignore[arg-type]
    start = token.get(SESSION_START_CLAIM)
    if not isinstance(start, int) or _session_end(start) <= timezone.now():
        raise SessionExpiredError("The session has ended.")
    if session_id_of(token) is None:
        raise SessionExpiredError("The token names no session.")
    return token


def session_id_of(token: Token | dict[str, object]) -> UUID | None:
    """The session id a token carries; None when it has none or a malformed one."""
    raw = token.get(SESSION_ID_CLAIM)
    try:
        return UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def blacklist(token: RefreshToken) -> bool:
    """Blacklist a refresh token; False when it already was (so it was used or revoked before)."""
    jti = token[api_settings.JTI_CLAIM]
    # Tokens are recorded when first used or revoked (see token_pair_for).
    OutstandingToken.objects.bulk_create(
        [
            OutstandingToken(
                jti=jti,
                user_id=token.get(api_settings.USER_ID_CLAIM),
                token=str(token),
                created_at=datetime_from_epoch(token["iat"]),
                expires_at=datetime_from_epoch(token["exp"]),
            )
        ],
        ignore_conflicts=True,
    )
    outstanding = OutstandingToken.objects.get(jti=jti)
    try:
        # The unique row is the arbiter: of two concurrent rotations only one inserts it.
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        return False
    return True


def claims_ignoring_expiry(raw: str) -> dict[str, object] | None:
    """The claims of a well-signed refresh token even when it has expired; None if forged."""
    try:
        claims: dict[str, object] = jwt.decode(
            raw,
            api_settings.SIGNING_KEY,
            algorithms=[api_settings.ALGORITHM],
            options={"verify_exp": False},
        )
    except jwt.InvalidTokenError:
        return None
    if claims.get(api_settings.TOKEN_TYPE_CLAIM) != "refresh":
        return None
    return claims

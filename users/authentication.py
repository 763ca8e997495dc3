from django.utils import timezone
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from users.models import User
from users.selectors import session_caller
from users.sessions import session_touch
from users.tokens import session_id_of


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer access tokens; the user, the code they activated and the token's session come in
    one query."""

    www_authenticate_realm = "api"
    user_model = User

    def __init__(self) -> None:
        # DRF builds the authenticator for every request, and SimpleJWT's __init__ looks the user
        # model up in the app registry each time (3 % of a profile request's CPU); it is fixed.
        pass

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        session_id = session_id_of(validated_token)
        found = None
        if isinstance(user_id, int) and session_id is not None:
            found = session_caller(user_id=user_id, session_id=session_id)
        if found is None or session_id is None:
            # Deleted, deactivated, an ended session, or claims that are no ids: the answer for
            # any bad token.
            raise InvalidToken("The token is invalid or expired.")
        user, last_used_at = found
        session_touch(session_id=session_id, last_used_at=last_used_at, now=timezone.now())
        return user

    def authenticate_header(self, request: Request) -> str:
        return f'{api_settings.AUTH_HEADER_TYPES[0]} realm="{self.www_authenticate_realm}"'


def signed_in_user(request: Request) -> User:
    """The caller of a view that requires authentication, typed as our user model."""
    if not isinstance(request.user, User):
        raise NotAuthenticated()
    return request.user

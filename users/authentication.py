from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from users.models import User
from users.selectors import active_user


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer access tokens; the user and the code they activated come in one query."""

    www_authenticate_realm = "api"
    user_model = User

    def __init__(self) -> None:
        # DRF builds the authenticator for every request, and SimpleJWT's __init__ looks the user
        # model up in the app registry each time (3 % of a profile request's CPU); it is fixed.
        pass

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        user = active_user(user_id=user_id) if isinstance(user_id, int) else None
        if user is None:
            # Deleted, deactivated, or a claim that is no id: the answer for any bad token.
            raise InvalidToken("The token is invalid or expired.")
        return user

    def authenticate_header(self, request: Request) -> str:
        return f'{api_settings.AUTH_HEADER_TYPES[0]} realm="{self.www_authenticate_realm}"'


def signed_in_user(request: Request) -> User:
    """The caller of a view that requires authentication, typed as our user model."""
    if not isinstance(request.user, User):
        raise NotAuthenticated()
    return request.user

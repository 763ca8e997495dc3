from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from users.models import User


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer access tokens; the user and the code they activated come in one query."""

    www_authenticate_realm = "api"

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        user = User.objects.select_related("referred_by").filter(pk=user_id, is_active=True).first()
        if user is None:
            # A deleted or deactivated user: the same answer as for any other bad token.
            raise InvalidToken("The token is invalid or expired.")
        return user

    def authenticate_header(self, request: Request) -> str:
        return f'{api_settings.AUTH_HEADER_TYPES[0]} realm="{self.www_authenticate_realm}"'


def signed_in_user(request: Request) -> User:
    """The caller of a view that requires authentication, typed as our user model."""
    if not isinstance(request.user, User):
        raise NotAuthenticated()
    return request.user

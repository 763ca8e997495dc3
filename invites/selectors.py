from django.db.models import QuerySet

from invites.exceptions import InviteCodeNotFoundError
from users.models import User


def invite_owner(*, code: str) -> User:
    """The user whose invite code this is (codes are stored upper case)."""
    try:
        return User.objects.get(invite_code=code.strip().upper())
    except User.DoesNotExist:
        raise InviteCodeNotFoundError() from None


def referrals_of(*, user: User) -> QuerySet[User]:
    """Users who activated `user`'s code, newest first (served by the referrals index)."""
    return User.objects.filter(referred_by=user).order_by("-referred_at", "-id")

"""Activating invite codes: once per user, never their own, never closing a cycle."""

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from invites import limits
from invites.exceptions import (
    InviteActivationThrottledError,
    InviteAlreadyActivatedError,
    InviteCodeNotFoundError,
    InviteCodeOwnError,
    InviteCycleError,
)
from invites.selectors import invite_owner
from referral_api.errors import ServiceUnavailableError
from users.models import User

# A chain only moves when its root activates a code meanwhile; a few rounds always settle it.
ACTIVATION_ROUNDS = 10

_CHAIN_SQL = """
WITH RECURSIVE chain(id, referred_by_id) AS (
    SELECT id, referred_by_id FROM users_user WHERE id = %s
    UNION
    SELECT u.id, u.referred_by_id FROM users_user u JOIN chain c ON u.id = c.referred_by_id
)
SELECT id, referred_by_id FROM chain
"""


class _ChainMovedError(Exception):
    """The owner's chain got a new root while we waited for the locks; start again."""


def _already_activated(code: str) -> InviteAlreadyActivatedError:
    return InviteAlreadyActivatedError(f"You have already activated the invite code {code}.")


def referrer_chain(*, user_id: int) -> list[int]:
    """`user_id` and everyone above it: its referrer, their referrer, … up to the root."""
    with connection.cursor() as cursor:
        cursor.execute(_CHAIN_SQL, [user_id])
        parents = dict(cursor.fetchall())
    chain: list[int] = []
    current: int | None = user_id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def _activate(*, user_id: int, owner: User) -> None:
    chain = referrer_chain(user_id=owner.pk)
    root_id = chain[-1]
    # Lock the caller (a root until it activates), the owner and the root of the owner's chain,
    # in id order so that activations never deadlock. Every activation that could close a cycle
    # with this one must lock one of the same roots, so they run one after the other, and the
    # later one sees the earlier one's edge.
    # No select_related here: PostgreSQL refuses to lock through the nullable join, and after
    # waiting for a lock it re-reads the locked row but not the joined one.
    locked = {
        row.pk: row
        for row in User.objects.select_for_update(no_key=True)
        .filter(pk__in={user_id, owner.pk, root_id})
        .order_by("pk")
    }
    caller = locked[user_id]
    if caller.referred_by_id is not None:
        referrer_code = User.objects.values_list("invite_code", flat=True).get(
            pk=caller.referred_by_id
        )
        raise _already_activated(referrer_code)
    if locked[root_id].referred_by_id is not None:
        raise _ChainMovedError()
    # The chain below a root never changes (a referrer is set once), so it is still exact.
    if user_id in chain:
        raise InviteCycleError()
    User.objects.filter(pk=user_id).update(referred_by=owner, referred_at=timezone.now())
    User.objects.filter(pk=owner.pk).update(referrals_count=F("referrals_count") + 1)


def invite_activate(*, user: User, code: str) -> User:
    """Make `user` a referral of the owner of `code`; returns the user as it now is."""
    wait = limits.activation_wait(user_id=user.pk)
    if wait:
        raise InviteActivationThrottledError(retry_after=wait)
    if user.referred_by_id is not None:
        raise _already_activated(user.activated_invite_code or "")
    try:
        owner = invite_owner(code=code)
    except InviteCodeNotFoundError:
        # Only unknown codes count: they are the guesses the limit is there to slow down.
        limits.activation_failed(user_id=user.pk)
        raise
    if owner.pk == user.pk:
        raise InviteCodeOwnError()

    for _ in range(ACTIVATION_ROUNDS):
        try:
            with transaction.atomic():
                _activate(user_id=user.pk, owner=owner)
        except _ChainMovedError:
            continue
        return User.objects.select_related("referred_by").get(pk=user.pk)
    raise ServiceUnavailableError(retry_after=1)

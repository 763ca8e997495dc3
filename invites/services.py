"""Activating invite codes: once per user, never their own, never closing a cycle."""

from datetime import UTC, datetime
from functools import partial

from django.db import connection, models, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext

from invites import leaderboard, limits
from invites.abuse import referral_signals
from invites.exceptions import (
    InviteActivationThrottledError,
    InviteAlreadyActivatedError,
    InviteCodeNotFoundError,
    InviteCodeOwnError,
    InviteCycleError,
)
from invites.models import ReferralDay
from invites.selectors import invite_owner
from referral_api.errors import ServiceUnavailableError
from rewards.services import reward_entries_for_referral
from users.models import User
from users.sightings import ClientMarks, sighting_record

# A chain only moves when its root activates a code meanwhile; a few rounds always settle it.
ACTIVATION_ROUNDS = 10

_USERS = User._meta.db_table
# The table name comes from the model, never from input.
_CHAIN_SQL = f"""
WITH RECURSIVE chain(id, referred_by_id) AS (
    SELECT id, referred_by_id FROM {_USERS} WHERE id = %s
    UNION
    SELECT u.id, u.referred_by_id FROM {_USERS} u JOIN chain c ON u.id = c.referred_by_id
)
SELECT id, referred_by_id FROM chain
"""  # noqa: S608  # nosec


class _ChainMovedError(Exception):
    """The owner's chain got a new root while we waited for the locks; start again."""


def _already_activated(code: str) -> InviteAlreadyActivatedError:
    # Formatted when raised: in the language of the request being answered.
    return InviteAlreadyActivatedError(
        gettext("You have already activated the invite code %(code)s.") % {"code": code}
    )


def referral_record(
    *, user: User, owner: User, at: datetime, marks: ClientMarks | None = None
) -> None:
    """Record that `user` activated `owner`'s invite code at `at`: the one write path of a referral.

    Sign-up with an invite code and activation both come here, inside their own transaction,
    after they checked the rules; everything a referral causes is written here, in that
    transaction, so it happens exactly when the referral does.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a referral is recorded inside the transaction that checked its rules")
    # One statement for both rows: one round trip inside a transaction that holds locks.
    User.objects.filter(pk__in=[user.pk, owner.pk]).update(
        referred_by=Case(
            When(pk=user.pk, then=Value(owner.pk)),
            default=F("referred_by"),
            output_field=models.BigIntegerField(),
        ),
        referred_at=Case(
            When(pk=user.pk, then=Value(at)),
            default=F("referred_at"),
            output_field=models.DateTimeField(),
        ),
        referrals_count=Case(
            When(pk=owner.pk, then=F("referrals_count") + 1),
            default=F("referrals_count"),
            output_field=models.PositiveIntegerField(),
        ),
    )
    user.referred_by = owner
    user.referred_at = at
    # The owner's row is locked by the UPDATE above until the transaction ends: per-owner
    # counts below cannot race another referral of the same owner.
    day = at.astimezone(UTC).date()
    if not ReferralDay.objects.filter(owner=owner, date=day).update(referrals=F("referrals") + 1):
        ReferralDay.objects.create(owner=owner, date=day, referrals=1)
    signals = (
        [] if marks is None else referral_signals(owner=owner, referral=user, marks=marks, at=at)
    )
    reward_entries_for_referral(referral=user, owner=owner, at=at, risk_signals=signals)
    # Redis only once the referral is committed; a failure there is logged, not the request's
    # (rebuild_leaderboards repairs the sets from PostgreSQL).
    transaction.on_commit(
        partial(leaderboard.record_referral, owner_id=owner.pk, at=at), robust=True
    )


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


def _activate(*, user_id: int, owner: User, marks: ClientMarks | None) -> None:
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
    now = timezone.now()
    if marks is not None:
        sighting_record(user_id=user_id, marks=marks, at=now)
    referral_record(user=caller, owner=owner, at=now, marks=marks)


def invite_activate(*, user: User, code: str, marks: ClientMarks | None = None) -> User:
    """Make `user` a referral of the owner of `code`; returns the user as it now is.

    `marks`: the request's client IP and device (HMACs), recorded and checked for abuse signals.
    """
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
                _activate(user_id=user.pk, owner=owner, marks=marks)
        except _ChainMovedError:
            continue
        return User.objects.select_related("referred_by").get(pk=user.pk)
    raise ServiceUnavailableError(retry_after=1)

"""Activating invite codes: once per user, never their own, never closing a cycle."""

from datetime import UTC, datetime

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
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
from referral_api import metrics
from referral_api.errors import ServiceUnavailableError
from rewards.services import reward_entries_for_referral
from users.models import User
from users.sightings import ClientMarks, sighting_record

# A tree only moves when its root activates a code meanwhile; a few rounds always settle it.
ACTIVATION_ROUNDS = 10


class _ChainMovedError(Exception):
    """The owner's chain got a new root while we waited for the locks; start again."""


def referral_root_of(*, user_id: int) -> int:
    """The top of the user's chain of referrers (the user itself when nobody referred it): one
    row read, whatever the chain's depth."""
    root = User.objects.values_list("referral_root", flat=True).get(pk=user_id)
    return root or user_id


def _lock_for_referral(*, user_id: int, owner_id: int) -> tuple[User, User]:
    """Lock the rows a referral of `user_id` to `owner_id` changes, and check the graph rules.

    The roots come first, in id order, then the owner: every transaction that writes rows of a
    tree (a referral to one of its members, or its root's own activation, which moves the whole
    tree to a new root) holds the tree's root first, so they run one after the other and never
    deadlock. The caller is a root itself (it has no referrer yet). The owner's root is read
    before the locks; if the owner's tree moved meanwhile, the round starts again.
    """
    root_id = referral_root_of(user_id=owner_id)
    lockable = User.objects.select_for_update(no_key=True)
    locked: dict[int, User] = {}
    # One row at a time, each checked as soon as it is held: a transaction never waits for a
    # lock while it holds a row that is no longer a root (the stale root read in a race), which
    # would let it wait on the very transaction that is moving that row's tree.
    # No select_related: PostgreSQL refuses to lock through the nullable join.
    for pk in sorted({user_id, root_id}):
        row = locked[pk] = lockable.get(pk=pk)
        if pk == user_id and row.referred_by_id is not None:
            referrer_code = User.objects.values_list("invite_code", flat=True).get(
                pk=row.referred_by_id
            )
            raise _already_activated(referrer_code)
        if row.referred_by_id is not None:
            raise _ChainMovedError()
    if owner_id not in locked:
        locked[owner_id] = lockable.get(pk=owner_id)
    caller, owner = locked[user_id], locked[owner_id]
    if (owner.referral_root or owner.pk) != root_id:
        raise _ChainMovedError()
    # The caller is a root: it is above the owner exactly when it is the owner's root.
    if root_id == user_id:
        raise InviteCycleError()
    return caller, owner


def _already_activated(code: str) -> InviteAlreadyActivatedError:
    # Formatted when raised: in the language of the request being answered.
    return InviteAlreadyActivatedError(
        gettext("You have already activated the invite code %(code)s.") % {"code": code}
    )


def referral_record(
    *, user: User, owner: User, at: datetime, marks: ClientMarks | None = None
) -> User:
    """Record that `user` activated `owner`'s invite code at `at`: the one write path of a referral.

    Sign-up with an invite code and activation both come here, inside their own transaction:
    the rows are locked and the graph rules (once per user, no cycle) checked here, and
    everything a referral causes is written here, in that transaction, so it happens exactly
    when the referral does. Returns the user as it now is.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a referral is recorded inside the caller's transaction")
    for _ in range(ACTIVATION_ROUNDS):
        try:
            # A savepoint per round: rolling it back releases that round's row locks.
            with transaction.atomic():
                caller, locked_owner = _lock_for_referral(user_id=user.pk, owner_id=owner.pk)
                _write_referral(user=caller, owner=locked_owner, at=at, marks=marks)
        except _ChainMovedError:
            continue
        return caller
    raise ServiceUnavailableError(retry_after=1)


def _write_referral(*, user: User, owner: User, at: datetime, marks: ClientMarks | None) -> None:
    new_root = owner.referral_root or owner.pk
    # One statement: the user gets its referrer, the owner one more referral, and the user's
    # whole tree (the users whose root it was) the owner's root. An index on referral_root finds
    # the tree; the cost does not depend on how deep the owner's chain is.
    in_users_tree = Q(pk=user.pk) | Q(referral_root=user.pk)
    User.objects.filter(Q(pk=owner.pk) | in_users_tree).update(
        referral_root=Case(
            When(in_users_tree, then=Value(new_root)),
            default=F("referral_root"),
            output_field=models.BigIntegerField(),
        ),
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
    user.referral_root = new_root
    # The owner's row is locked by the UPDATE above until the transaction ends: per-owner
    # counts below cannot race another referral of the same owner.
    day = at.astimezone(UTC).date()
    if not ReferralDay.objects.filter(owner=owner, date=day).update(referrals=F("referrals") + 1):
        ReferralDay.objects.create(owner=owner, date=day, referrals=1)
    signals = (
        referral_signals(owner=owner, referral=user, marks=marks, at=at)
        if marks is not None and settings.REFERRAL_ABUSE_CHECKS
        else []
    )
    reward_entries_for_referral(referral=user, owner=owner, at=at, risk_signals=signals)

    # Redis only once the referral is committed; a failure there is logged, not the request's
    # (rebuild_leaderboards repairs the sets from PostgreSQL).
    def count_in_leaderboards() -> None:
        # A named function: Django's robust on_commit logs a failure by the callback's name.
        leaderboard.record_referral(owner_id=owner.pk, phone=owner.phone, at=at)

    transaction.on_commit(count_in_leaderboards, robust=True)

    def count_in_metrics() -> None:
        metrics.REFERRALS.inc()
        for signal in signals:
            metrics.REFERRALS_FLAGGED.labels(signal).inc()

    metrics.after_commit(count_in_metrics)


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

    with transaction.atomic():
        now = timezone.now()
        if marks is not None:
            sighting_record(user=user, marks=marks, at=now)
        referral_record(user=user, owner=owner, at=now, marks=marks)
    return User.objects.select_related("referred_by").get(pk=user.pk)

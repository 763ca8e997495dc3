"""The rewards ledger: rules, entries written with each referral, credits and reversals.

Every write of an entry's state goes through `_move` (or `reward_entries_for_referral` for a new
entry), which keeps the owner's `RewardBalance` row in the same transaction, so balances equal
the ledger at every moment. Entries are locked (`SELECT … FOR UPDATE`) before their state moves,
so of concurrent credits and reversals of one entry each move happens once.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from referral_api import metrics
from referral_api.rows import insert_many, upsert
from rewards.exceptions import RewardNotFoundError, RewardStateConflictError
from rewards.models import RewardBalance, RewardEntry, RewardRule
from users.models import User

logger = logging.getLogger(__name__)

State = RewardEntry.State
Kind = RewardEntry.Kind

# Entries the credit job locks and credits per transaction.
CREDIT_BATCH = 500

_BALANCE_FIELD = {
    State.PENDING: "pending",
    State.HELD: "pending",  # held entries show as pending to their owner
    State.CREDITED: "credited",
    State.REVERSED: "reversed",
}


def _utc_day(at: datetime) -> tuple[datetime, datetime]:
    start = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _balance_add(*, user_id: int, unit: str, changes: dict[str, int]) -> None:
    """Add `changes` (field → amount, negative to take away) to a user's balance in `unit`."""
    updates = {field: F(field) + amount for field, amount in changes.items()}
    if not RewardBalance.objects.filter(user_id=user_id, unit=unit).update(**updates):
        # Only for an entry written without its balance (a repair by hand): every entry that
        # `reward_entries_for_referral` writes is added to its balance in the same statement.
        # The entry is locked, so no other transaction moves it meanwhile.
        RewardBalance.objects.create(user_id=user_id, unit=unit, **changes)


# ---------------------------------------------------------------- rules


def _lock_rules() -> datetime:
    """Lock the rules table against every reader until the transaction ends; returns the instant
    the change takes effect.

    A referral picks the rule that was active at its own instant (`_rule_at`), and that instant
    is taken before it reads the rules. The lock waits for the referrals that already read the
    rules and holds back the others until the change is committed, and the instant is taken
    once the lock is held: no referral can read the rules without seeing every change that took
    effect before its instant, so the rule it picks was the active one at that instant.
    """
    if connection.vendor == "postgresql":
        # Table name from the model, never from input. (SQLite, for `make run` only, has one
        # writer at a time anyway.)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {RewardRule._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    return timezone.now()


@transaction.atomic
def reward_rule_create(
    *,
    staff: User | None,
    referrer_amount: int,
    referee_amount: int,
    unit: str = "points",
    auto_credit_days: int | None = 0,
    referrer_daily_cap: int | None = None,
) -> RewardRule:
    """Create a rule; it becomes the only active one (the previous one is deactivated)."""
    # The lock also runs two staff members' creations one after the other.
    now = _lock_rules()
    RewardRule.objects.filter(is_active=True).update(
        is_active=False, deactivated_at=now, deactivated_by=staff
    )
    return RewardRule.objects.create(
        referrer_amount=referrer_amount,
        referee_amount=referee_amount,
        unit=unit,
        auto_credit_days=auto_credit_days,
        referrer_daily_cap=referrer_daily_cap,
        created_at=now,
        created_by=staff,
    )


@transaction.atomic
def reward_rule_deactivate(*, rule_id: int, staff: User | None) -> RewardRule:
    """No rule is active any more; deactivating an inactive rule changes nothing."""
    now = _lock_rules()
    RewardRule.objects.filter(pk=rule_id, is_active=True).update(
        is_active=False, deactivated_at=now, deactivated_by=staff
    )
    try:
        return RewardRule.objects.get(pk=rule_id)
    except RewardRule.DoesNotExist:
        raise RewardNotFoundError() from None


def _rule_at(at: datetime) -> RewardRule | None:
    """The rule that was active at `at` (a referral's instant, taken before it got here)."""
    # Rules are created one at a time under the lock, so ids follow their instants: newest first
    # the primary key finds it at once (the active rule, or the one just before).
    return (
        RewardRule.objects.filter(
            Q(deactivated_at__isnull=True) | Q(deactivated_at__gt=at), created_at__lte=at
        )
        .order_by("-id")
        .first()
    )


# ---------------------------------------------------------------- entries


def reward_entries_for_referral(
    *, referral: User, owner: User, at: datetime, risk_signals: list[str] | None = None
) -> list[RewardEntry]:
    """Write the entries of the rule active at `at` for a referral that is being recorded.

    Called by `invites.services.referral_record` only, inside the referral's transaction and
    after it locked the owner's row: the daily cap's count cannot race another referral of the
    same owner.
    """
    rule = _rule_at(at)
    if rule is None:
        return []
    signals = list(risk_signals or [])
    if signals:
        state, credited_at, due = State.HELD, None, None
    elif rule.auto_credit_days == 0:
        state, credited_at, due = State.CREDITED, at, None
    elif rule.auto_credit_days is None:
        state, credited_at, due = State.PENDING, None, None
    else:
        state, credited_at, due = State.PENDING, None, at + timedelta(days=rule.auto_credit_days)

    def entry(user: User, kind: str, amount: int) -> RewardEntry:
        return RewardEntry(
            user=user,
            referral=referral,
            kind=kind,
            rule=rule,
            amount=amount,
            unit=rule.unit,
            state=state,
            risk_signals=signals,
            created_at=at,
            credit_due_at=due,
            credited_at=credited_at,
        )

    entries = []
    if rule.referrer_amount and not _referrer_capped(owner=owner, rule=rule, at=at):
        entries.append(entry(owner, Kind.REFERRER, rule.referrer_amount))
    if rule.referee_amount:
        entries.append(entry(referral, Kind.REFEREE, rule.referee_amount))
    if not entries:
        return entries
    insert_many(entries)
    metrics.after_commit(lambda: metrics.REWARD_ENTRIES.labels(str(state)).inc(len(entries)))
    # Both balances in one statement (a new user has none yet), whose rows lock in user id order,
    # like every other multi-row write here, so transactions never deadlock. The referrer and the
    # referee are never one user (nobody activates their own code).
    field = _BALANCE_FIELD[state]
    upsert(
        [
            RewardBalance(user_id=created.user_id, unit=created.unit, **{field: created.amount})
            for created in sorted(entries, key=lambda item: item.user_id)
        ],
        unique_fields=("user", "unit"),
        add_fields=(field,),
    )
    return entries


def _referrer_capped(*, owner: User, rule: RewardRule, at: datetime) -> bool:
    cap = rule.referrer_daily_cap
    if cap is None:
        return False
    start, end = _utc_day(at)
    today = RewardEntry.objects.filter(
        user=owner, kind=Kind.REFERRER, created_at__gte=start, created_at__lt=end
    )
    # Counts at most `cap` rows: the cost does not grow with the owner's history.
    return today[:cap].count() >= cap


def _locked_entry(entry_id: int) -> RewardEntry:
    try:
        return RewardEntry.objects.select_for_update().get(pk=entry_id)
    except RewardEntry.DoesNotExist:
        raise RewardNotFoundError() from None


def _move(entry: RewardEntry, to: State, **fields: object) -> None:
    """Move a locked entry to state `to`, and its amount between the owner's balance fields."""
    source, target = _BALANCE_FIELD[State(entry.state)], _BALANCE_FIELD[State(to)]
    if source != target:
        changes = {source: -entry.amount, target: entry.amount}
        _balance_add(user_id=entry.user_id, unit=entry.unit, changes=changes)
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.state = to
    entry.save(update_fields=["state", *fields])
    metrics.after_commit(lambda: metrics.REWARD_ENTRIES.labels(str(to)).inc())


@transaction.atomic
def reward_credit(*, entry_id: int, staff: User | None) -> RewardEntry:
    """Pending or held → credited. Crediting a credited entry changes nothing."""
    entry = _locked_entry(entry_id)
    if entry.state == State.REVERSED:
        raise RewardStateConflictError()
    if entry.state != State.CREDITED:
        _move(entry, State.CREDITED, credited_at=timezone.now(), credited_by=staff)
    return entry


@transaction.atomic
def reward_reverse(*, entry_id: int, staff: User | None, reason: str) -> RewardEntry:
    """Pending, held or credited → reversed (a clawback). Reversing twice changes nothing."""
    entry = _locked_entry(entry_id)
    if entry.state != State.REVERSED:
        _move(
            entry,
            State.REVERSED,
            reversed_at=timezone.now(),
            reversed_by=staff,
            reversal_reason=reason,
        )
    return entry


def credit_due_rewards(*, now: datetime | None = None, batch: int = CREDIT_BATCH) -> int:
    """Credit every pending entry whose `credit_due_at` has come; returns how many.

    Safe to run from several machines at once: each batch locks its entries with SKIP LOCKED,
    so two runs never take the same entry, and the state is checked again under the lock.
    """
    moment = now or timezone.now()
    skip_locked = connection.features.has_select_for_update_skip_locked
    credited = 0
    while True:
        with transaction.atomic():
            due = list(
                RewardEntry.objects.select_for_update(skip_locked=skip_locked)
                .filter(state=State.PENDING, credit_due_at__lte=moment)
                .order_by("credit_due_at", "id")[:batch]
            )
            # Balances in user id order, as everywhere, so transactions never deadlock.
            for entry in sorted(due, key=lambda item: (item.user_id, item.pk)):
                _move(entry, State.CREDITED, credited_at=moment)
        credited += len(due)
        if len(due) < batch:
            return credited

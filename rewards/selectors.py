from django.db.models import QuerySet

from rewards.models import RewardBalance, RewardEntry, RewardRule
from users.models import User

_ENTRY_FIELDS = (
    "id",
    "kind",
    "amount",
    "unit",
    "state",
    "referral",
    "created_at",
    "credit_due_at",
    "credited_at",
    "reversed_at",
)


def reward_entries_of(*, user: User) -> QuerySet[RewardEntry]:
    """The user's entries, newest first, with the invited user's phone (one query a page)."""
    return (
        RewardEntry.objects.filter(user=user)
        .select_related("referral")
        .only(*_ENTRY_FIELDS, "referral__phone")
        .order_by("-created_at", "-id")
    )


def reward_balances_of(*, user: User) -> QuerySet[RewardBalance]:
    """The user's balance rows, one per unit, sorted by unit (O(1) of the ledger's size)."""
    return RewardBalance.objects.filter(user=user).order_by("unit")


def staff_reward_entries(
    *, state: str | None = None, user: User | None = None
) -> QuerySet[RewardEntry]:
    """Every user's entries, newest first, optionally of one state or one user."""
    entries = RewardEntry.objects.select_related("referral", "user").order_by("-created_at", "-id")
    if state is not None:
        entries = entries.filter(state=state)
    if user is not None:
        entries = entries.filter(user=user)
    return entries


def reward_rules() -> QuerySet[RewardRule]:
    return RewardRule.objects.order_by("-created_at", "-id")

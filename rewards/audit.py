"""The balances against the ledger: what `manage.py check_rewards` verifies."""

from collections import defaultdict

from django.db.models import Sum

from rewards.models import RewardBalance, RewardEntry

_FIELD = {"pending": "pending", "held": "pending", "credited": "credited", "reversed": "reversed"}


def balance_mismatches() -> list[str]:
    """One line per (user, unit) whose balance row differs from the sum of its entries."""
    expected: dict[tuple[int, str], dict[str, int]] = defaultdict(
        lambda: {"pending": 0, "credited": 0, "reversed": 0}
    )
    sums = RewardEntry.objects.values("user_id", "unit", "state").annotate(total=Sum("amount"))
    for row in sums:
        expected[(row["user_id"], row["unit"])][_FIELD[row["state"]]] += row["total"]
    found = {
        (row.user_id, row.unit): {
            "pending": row.pending,
            "credited": row.credited,
            "reversed": row.reversed,
        }
        for row in RewardBalance.objects.all()
    }
    zero = {"pending": 0, "credited": 0, "reversed": 0}
    return [
        f"balance of user {user_id} in {unit}: {found.get((user_id, unit), zero)}, "
        f"ledger {expected.get((user_id, unit), zero)}"
        for user_id, unit in sorted(expected.keys() | found.keys())
        if found.get((user_id, unit), zero) != expected.get((user_id, unit), zero)
    ]

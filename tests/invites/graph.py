"""The referral graph as the database holds it, and the invariants every state of it keeps."""

from collections import Counter
from collections.abc import Mapping

from users.models import User


def referrers() -> dict[int, int | None]:
    """Every user's id → the id of the user who referred them (None for roots)."""
    return dict(User.objects.values_list("pk", "referred_by_id"))


def find_cycle(parents: Mapping[int, int | None]) -> list[int] | None:
    """A cycle of `referred_by` links, as the ids along it, or None when there is none."""
    done: set[int] = set()
    for start in parents:
        path: list[int] = []
        current: int | None = start
        while current is not None and current not in done:
            if current in path:
                return path[path.index(current) :]
            path.append(current)
            current = parents.get(current)
        done.update(path)
    return None


def true_root(parents: Mapping[int, int | None], user_id: int) -> int:
    """The top of a user's chain of referrers, found by walking it."""
    current = user_id
    while parents[current] is not None:
        current = parents[current]  # type: ignore[assignment]
    return current


def assert_referral_graph_is_sound() -> None:
    """One referrer at most (a single column), nobody their own, no cycles, exact counters, and
    every user's stored root is the real top of its chain."""
    rows = list(User.objects.values_list("pk", "referred_by_id", "referred_at", "referrals_count"))
    parents = {pk: referred_by for pk, referred_by, _, _ in rows}
    stored_roots = dict(User.objects.values_list("pk", "referral_root"))
    actual_counts = Counter(referred_by for referred_by in parents.values() if referred_by)

    assert [pk for pk, referred_by in parents.items() if pk == referred_by] == []
    assert [pk for pk, by, at, _ in rows if (by is None) != (at is None)] == []
    assert find_cycle(parents) is None
    assert {pk: count for pk, _, _, count in rows if count != actual_counts[pk]} == {}
    expected_roots = {pk: (true_root(parents, pk) if by else None) for pk, by in parents.items()}
    assert {pk: root for pk, root in stored_roots.items() if root != expected_roots[pk]} == {}

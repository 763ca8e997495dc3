"""Referral chains of any depth, loaded by COPY: a root, then each user referred by the one before.

Rows are what the one write path (`invites.services.referral_record`) leaves after `depth`
activations, each of the previous user's code: referrer, time, the chain's root in
`referral_root`, one referral counted per owner and its per-day count. Building a chain of
100,000 users one activation at a time would take the benchmark's whole budget.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from bench_tools.population import (
    REFERRAL_DAYS_SQL,
    InviteCodes,
    UserRow,
    copy_users,
    reserve_user_ids,
)


@dataclass(frozen=True)
class Chain:
    """`depth` referrals below `root_id`; `bottom_id` is the last one (the root when depth 0)."""

    root_id: int
    bottom_id: int
    depth: int


def copy_chain(*, depth: int, phone_start: int, codes: InviteCodes, at: datetime) -> Chain:
    """A new chain of `depth` referrals (depth + 1 users, phones from `phone_start`), referred at
    `at`. Run it inside a transaction with a chain's other rows, or alone: one COPY, one INSERT."""
    first = reserve_user_ids(depth + 1)
    last = first + depth

    def rows() -> Iterator[UserRow]:
        for offset in range(depth + 1):
            referrer = None if offset == 0 else first + offset - 1
            yield (
                first + offset,
                phone_start + offset,
                referrer,
                None if referrer is None else at,
                0 if offset == depth else 1,
            )

    copy_users(rows(), codes=codes, joined=at - timedelta(days=1), root=first)
    with connection.cursor() as cursor:
        cursor.execute(REFERRAL_DAYS_SQL, {"first": first, "last": last})
    return Chain(root_id=first, bottom_id=last, depth=depth)

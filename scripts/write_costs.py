"""CPU of the hot writes in one process: `referral_api.rows` against the ORM calls it replaces.

Each write runs `--calls` times through each path, the paths alternating in `--rounds` rounds
on one connection, so both meet the same machine; printed: the median CPU per call of each path
and their quotient. Run with PostgreSQL and Redis up and their environment loaded
(`make services`, then `source <dir>/env`):

    uv run python scripts/write_costs.py
"""

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_api.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.utils import timezone  # noqa: E402

from referral_api.rows import insert, insert_many, upsert  # noqa: E402
from rewards.models import RewardBalance, RewardEntry  # noqa: E402
from rewards.services import reward_rule_create  # noqa: E402
from users.invite_codes import generate_invite_code  # noqa: E402
from users.models import Session, Sighting, User  # noqa: E402

Make = Callable[[int], Any]
Write = Callable[[Any], object]

_phones = (f"+7990{number:07d}" for number in itertools.count(int(time.time()) % 5_000_000))


def new_user() -> User:
    return User(phone=next(_phones), invite_code=generate_invite_code(), password="!unusable")  # noqa: S106 - no password


def cpu_per_call(write: Callable[[Any], object], subjects: list[Any]) -> float:
    start = time.process_time()
    for subject in subjects:
        write(subject)
    return (time.process_time() - start) / len(subjects) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner = User.objects.create_with_invite_code(phone=next(_phones))
    now = timezone.now()

    def sighting(index: int) -> list[Sighting]:
        return [Sighting(user=owner, kind="ip", digest=f"{index:064d}", last_seen_at=now)]

    def session(_: int) -> Session:
        return Session(user=owner, created_at=now, last_used_at=now)

    def entries(_: int) -> list[RewardEntry]:
        referral = User.objects.create_with_invite_code(phone=next(_phones))
        return [
            RewardEntry(
                user=user,
                referral=referral,
                kind=kind,
                rule=rule,
                amount=50,
                unit="points",
                state=RewardEntry.State.HELD,
                risk_signals=["ip_burst"],
                created_at=now,
            )
            for user, kind in ((owner, "referrer"), (referral, "referee"))
        ]

    def balances(_: int) -> list[RewardBalance]:
        # A referrer with a balance already and a new referee, as most referrals are.
        referral = User.objects.create_with_invite_code(phone=next(_phones))
        return [RewardBalance(user=user, unit="points", pending=50) for user in (owner, referral)]

    def add_each(rows: list[RewardBalance]) -> None:
        # What rewards.services did before: an UPDATE with F(), and an INSERT when it found none.
        for row in rows:
            updated = RewardBalance.objects.filter(user_id=row.user_id, unit=row.unit).update(
                pending=F("pending") + row.pending
            )
            if not updated:
                RewardBalance.objects.create(
                    user_id=row.user_id, unit=row.unit, pending=row.pending
                )

    writes: dict[str, tuple[Make, Write, Write]] = {
        "user INSERT": (
            lambda _: new_user(),
            lambda user: insert(user),
            lambda user: user.save(force_insert=True),
        ),
        "session INSERT": (
            session,
            lambda row: insert(row),
            lambda row: row.save(force_insert=True),
        ),
        "sighting upsert": (
            sighting,
            lambda rows: upsert(
                rows,
                unique_fields=("user", "kind", "digest"),
                update_fields=("last_seen_at",),
            ),
            lambda rows: Sighting.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["user", "kind", "digest"],
                update_fields=["last_seen_at"],
            ),
        ),
        "2 entries INSERT": (entries, insert_many, RewardEntry.objects.bulk_create),
        "2 balances added": (
            balances,
            lambda rows: upsert(rows, unique_fields=("user", "unit"), add_fields=("pending",)),
            add_each,
        ),
    }
    counter = itertools.count()
    print(f"{'write':16} {'rows.py us':>11} {'ORM us':>8} {'rows/ORM':>9}")
    with transaction.atomic():  # nothing stays behind
        rule = reward_rule_create(staff=None, referrer_amount=50, referee_amount=50)
        RewardBalance.objects.create(user=owner, unit="points")
        for name, (make, fast, orm) in writes.items():
            costs: dict[str, list[float]] = {"fast": [], "orm": []}
            for index in range(args.rounds):
                order = [("fast", fast), ("orm", orm)][:: 1 if index % 2 == 0 else -1]
                for path, write in order:
                    subjects = [make(next(counter)) for _ in range(args.calls)]
                    costs[path].append(cpu_per_call(write, subjects))
            fast_us, orm_us = (statistics.median(costs[path]) for path in ("fast", "orm"))
            print(f"{name:16} {fast_us:11.0f} {orm_us:8.0f} {fast_us / orm_us:8.0%}")
        transaction.set_rollback(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

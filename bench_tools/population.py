"""The benchmark's users: phones by index, where each kind of code owner sits, rows by COPY.

`manage.py seed_users` lays the users out by phone index (from its --start):

    start                       the big owner, with --referrals referrals (the next indexes)
    start + referrals + 1       the small owner, with SMALL_REFERRALS referrals (the next ones)
    then                        the crowd: --crowd owners with 1-12 referrals each, then theirs
    then                        plain users: no referrer, no referrals

`manage.py bench_fixtures` finds the small owner from the big owner's phone and referrals count.
"""

import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection, models

from invites.models import ReferralDay
from rewards.models import RewardRule
from rewards.services import reward_rule_create
from users.invite_codes import INVITE_CODE_ALPHABET, INVITE_CODE_LENGTH
from users.models import User

# Phone indexes of the staff user and of the new users who activate codes (bench_fixtures).
STAFF_PHONE_INDEX = 7_999_999
ACTIVATION_PHONE_START = 8_000_000
# Phone indexes of the new phones that sign up (bench_fixtures' login codes).
SIGN_UP_PHONE_START = 9_000_000
# Russian mobile numbers +7 999 xxx-xx-xx: ten million valid, distinct E.164 numbers.
PHONE_PREFIX = "+7999"
PHONE_INDEXES = 10_000_000
SMALL_REFERRALS = 10
COLUMNS = (
    "id",
    "phone",
    "invite_code",
    "password",
    "referred_by_id",
    "referred_at",
    "referral_root",
    "referrals_count",
    "date_joined",
    "is_active",
    "is_staff",
    "is_superuser",
)
# Referrals per owner and UTC date among the users [first, last], as referral_record counts them.
REFERRAL_DAYS_SQL = f"""
INSERT INTO {ReferralDay._meta.db_table} (owner_id, date, referrals)
SELECT referred_by_id, (referred_at AT TIME ZONE 'UTC')::date, COUNT(*)
FROM {User._meta.db_table}
WHERE id BETWEEN %(first)s AND %(last)s AND referred_by_id IS NOT NULL
GROUP BY 1, 2
"""  # noqa: S608  # nosec - table names come from the models
# A row to COPY: id, phone index, referrer id or None, referred at or None, referrals count.
UserRow = tuple[int, int, int | None, datetime | None, int]


def seed_phone(index: int) -> str:
    return f"{PHONE_PREFIX}{index:07d}"


def phone_index(phone: str) -> int:
    return int(phone.removeprefix(PHONE_PREFIX))


def small_owner_phone(*, owner: User) -> str:
    """The phone of the small owner that seed_users placed after `owner` and its referrals."""
    return seed_phone(phone_index(owner.phone) + owner.referrals_count + 1)


class InviteCodes:
    """Distinct random invite codes, none of them already in the users table."""

    def __init__(self) -> None:
        self._taken = set(User.objects.values_list("invite_code", flat=True))
        # Benchmark data, not secrets: `random` draws without a system call per code.
        self._random = random.Random()  # noqa: S311  # nosec

    def draw(self) -> str:
        while True:
            code = "".join(self._random.choices(INVITE_CODE_ALPHABET, k=INVITE_CODE_LENGTH))
            if code not in self._taken:
                self._taken.add(code)
                return code


# The seeded ledger's rule; scripts/bench.py creates the same one through the staff API.
SEED_RULE: dict[str, Any] = {
    "referrer_amount": 100,
    "referee_amount": 50,
    "unit": "points",
    "auto_credit_days": 7,
}


def seed_rule_create() -> RewardRule:
    """The seeded ledger's rule (SEED_RULE), now the active one."""
    return reward_rule_create(staff=None, **SEED_RULE)


def reserve_user_ids(count: int) -> int:
    """The first of `count` consecutive user ids that the id sequence will never hand out."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence("
            "%s, 'id')) + %s - 1)",
            [User._meta.db_table, User._meta.db_table, count],
        )
        last = cursor.fetchone()[0]
    return int(last) - count + 1


def copy_users(
    rows: Iterable[UserRow], *, codes: InviteCodes, joined: datetime, root: int | None = None
) -> None:
    """COPY users with explicit ids (so that referrers can be named before they exist).

    A referred row's `referral_root` (the top of its chain) is `root`, or its referrer when
    `root` is None: right for layouts one referral deep, whose referrers nobody referred.
    """
    sql = f"COPY {User._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for user_id, index, referrer, referred_at, referrals in rows:
            copy.write_row(
                (
                    user_id,
                    seed_phone(index),
                    codes.draw(),
                    "!",
                    referrer,
                    referred_at,
                    None if referrer is None else (root or referrer),
                    referrals,
                    joined,
                    True,
                    False,
                    False,
                )
            )


@contextmanager
def foreign_keys_checked_once(*tables: type[models.Model]) -> Iterator[None]:
    """Check the foreign keys of these models' tables once at the end, as pg_restore does.

    Checked row by row, each new row locks the row it points to (`FOR KEY SHARE`): for a million
    users and their ledger that took longer than writing the rows. Run inside a transaction:
    nobody else sees the tables without their keys.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            [[model._meta.db_table for model in tables]],
        )
        keys = cursor.fetchall()
        for table, name, _ in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    with connection.cursor() as cursor:
        for table, name, definition in keys:
            # One join per key validates every row at once.
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')

"""Bulk-load users for benchmarks: a million users in well under a minute through COPY."""

import secrets
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from users.invite_codes import INVITE_CODE_ALPHABET, INVITE_CODE_LENGTH
from users.models import User

# Russian mobile numbers +7 999 xxx-xx-xx: ten million valid, distinct E.164 numbers.
PHONE_PREFIX = "+7999"
COLUMNS = (
    "phone",
    "invite_code",
    "password",
    "referred_by_id",
    "referred_at",
    "referrals_count",
    "date_joined",
    "is_active",
    "is_staff",
    "is_superuser",
)


def seed_phone(index: int) -> str:
    return f"{PHONE_PREFIX}{index:07d}"


class Command(BaseCommand):
    help = (
        "Create USERS users with phones +7999NNNNNNN (from --start) and random invite codes; "
        "the first of them gets --referrals of the others as referrals. PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("users", type=int, help="How many users to create.")
        parser.add_argument("--referrals", type=int, default=0, help="Referrals of the first user.")
        parser.add_argument("--start", type=int, default=0, help="Index of the first phone.")

    def handle(self, *args: Any, users: int, referrals: int, start: int, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_users loads through COPY and needs PostgreSQL (DATABASE_URL).")
        if not 0 <= referrals < users or start + users > 10_000_000:
            raise CommandError("Need 0 <= --referrals < users and start + users <= 10,000,000.")

        taken = set(User.objects.values_list("invite_code", flat=True))
        now = timezone.now()
        with transaction.atomic():
            owner = User.objects.create(
                phone=seed_phone(start),
                invite_code=self._code(taken),
                password="!",  # noqa: S106
            )
            self._copy(
                owner=owner,
                first=start + 1,
                count=users - 1,
                referrals=referrals,
                now=now,
                taken=taken,
            )
            User.objects.filter(pk=owner.pk).update(referrals_count=referrals)
        with connection.cursor() as cursor:
            # Settle the table now (statistics, visibility map, hint bits): otherwise autovacuum
            # works through a million fresh rows in the middle of whatever runs next.
            cursor.execute("VACUUM (ANALYZE) users_user")
        self.stdout.write(f"{users} users created; {owner.phone} has {referrals} referrals.")

    def _code(self, taken: set[str]) -> str:
        while True:
            code = "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))
            if code not in taken:
                taken.add(code)
                return code

    def _copy(
        self, *, owner: User, first: int, count: int, referrals: int, now: Any, taken: set[str]
    ) -> None:
        sql = f"COPY users_user ({', '.join(COLUMNS)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for offset in range(count):
                referred = offset < referrals
                copy.write_row(
                    (
                        seed_phone(first + offset),
                        self._code(taken),
                        "!",
                        owner.pk if referred else None,
                        now - timedelta(seconds=referrals - offset) if referred else None,
                        0,
                        now,
                        True,
                        False,
                        False,
                    )
                )

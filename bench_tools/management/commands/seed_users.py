"""Bulk-load users for benchmarks: a million users in well under a minute through COPY.

With them, the referral program's data as the one write path would have left it: a reward rule,
the ledger (a referrer and a referee entry per referral), balances equal to the ledger, the per-day
referral counts. The leaderboards in Redis come from `manage.py rebuild_leaderboards` afterwards.
"""

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from bench_tools.population import (
    PHONE_INDEXES,
    REFERRAL_DAYS_SQL,
    SMALL_REFERRALS,
    InviteCodes,
    UserRow,
    copy_users,
    foreign_keys_checked_once,
    reserve_user_ids,
    seed_phone,
    seed_rule_create,
)
from invites.models import ReferralDay
from rewards.models import RewardBalance, RewardEntry, RewardRule
from users.models import User

# Referrals are spread over this many days before the seed, so every timeline has data.
SPREAD_DAYS = 60
# Crowd owners have 1, 2, … CROWD_MAX_REFERRALS referrals, in turn.
CROWD_MAX_REFERRALS = 12

_USERS = User._meta.db_table
_ENTRIES = RewardEntry._meta.db_table
# A referrer and a referee entry per referral among the users [first, last], in the rule's unit;
# credited once `credit_due_at` has passed (as credit_due_rewards would have done), else pending.
_ENTRIES_SQL = f"""
INSERT INTO {_ENTRIES} (user_id, referral_id, kind, rule_id, amount, unit, state, risk_signals,
                        created_at, credit_due_at, credited_at, reversal_reason)
SELECT user_id, referral_id, kind, %(rule)s, amount, %(unit)s,
       CASE WHEN due <= %(now)s THEN 'credited' ELSE 'pending' END, '[]'::jsonb,
       referred_at, due, CASE WHEN due <= %(now)s THEN due END, ''
FROM (
    SELECT referred_by_id AS user_id, id AS referral_id, 'referrer' AS kind,
           %(referrer_amount)s AS amount, referred_at, referred_at + %(delay)s AS due
    FROM {_USERS} WHERE id BETWEEN %(first)s AND %(last)s AND referred_by_id IS NOT NULL
    UNION ALL
    SELECT id, id, 'referee', %(referee_amount)s, referred_at, referred_at + %(delay)s
    FROM {_USERS} WHERE id BETWEEN %(first)s AND %(last)s AND referred_by_id IS NOT NULL
) AS entries
"""  # noqa: S608  # nosec - table names come from the models
# Each seeded user's balance rows: the sums of their entries (held ones count as pending).
_BALANCES_SQL = f"""
INSERT INTO {RewardBalance._meta.db_table} (user_id, unit, pending, credited, reversed)
SELECT user_id, unit,
       COALESCE(SUM(amount) FILTER (WHERE state IN ('pending', 'held')), 0),
       COALESCE(SUM(amount) FILTER (WHERE state = 'credited'), 0),
       COALESCE(SUM(amount) FILTER (WHERE state = 'reversed'), 0)
FROM {_ENTRIES} WHERE user_id BETWEEN %(first)s AND %(last)s
GROUP BY user_id, unit
"""  # noqa: S608  # nosec


class Command(BaseCommand):
    help = (
        "Create USERS users with phones +7999NNNNNNN (from --start) and random invite codes: the "
        "first has --referrals referrals, the next after them 10, then --crowd owners 1-12 each; "
        "their referrals spread over the last 60 days, with a reward rule, the ledger, balances "
        "and per-day counts. Run rebuild_leaderboards afterwards. PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("users", type=int, help="How many users to create.")
        parser.add_argument("--referrals", type=int, default=0, help="Referrals of the first user.")
        parser.add_argument(
            "--crowd",
            type=int,
            default=None,
            help="Owners with 1-12 referrals each, so leaderboards rank many (default users/100).",
        )
        parser.add_argument("--start", type=int, default=0, help="Index of the first phone.")

    def handle(
        self,
        *args: Any,
        users: int,
        referrals: int,
        crowd: int | None,
        start: int,
        **options: Any,
    ) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_users loads through COPY and needs PostgreSQL (DATABASE_URL).")
        crowd = users // 100 if crowd is None else crowd
        crowd_counts = [1 + owner % CROWD_MAX_REFERRALS for owner in range(crowd)]
        # The big and the small owner, their referrals, the crowd and theirs, one plain user.
        needed = 2 + referrals + SMALL_REFERRALS + crowd + sum(crowd_counts) + 1
        if referrals < 0 or crowd < 0 or needed > users or start + users > PHONE_INDEXES:
            raise CommandError(
                f"Need users >= {needed} for these referrals and crowd, and start + users <= "
                f"{PHONE_INDEXES:,}."
            )

        codes = InviteCodes()
        now = timezone.now()
        tables = (User, RewardEntry, RewardBalance, ReferralDay)
        with transaction.atomic(), foreign_keys_checked_once(*tables):
            first = reserve_user_ids(users)
            last = first + users - 1
            copy_users(
                self._rows(
                    first=first,
                    start=start,
                    users=users,
                    referrals=referrals,
                    crowd_counts=crowd_counts,
                    now=now,
                ),
                codes=codes,
                joined=now - timedelta(days=SPREAD_DAYS + 1),
            )
            rule = seed_rule_create()
            # The rule was there before the first referral it rewards.
            RewardRule.objects.filter(pk=rule.pk).update(
                created_at=now - timedelta(days=SPREAD_DAYS + 1)
            )
            params: dict[str, Any] = {
                "first": first,
                "last": last,
                "now": now,
                "rule": rule.pk,
                "unit": rule.unit,
                "referrer_amount": rule.referrer_amount,
                "referee_amount": rule.referee_amount,
                "delay": timedelta(days=rule.auto_credit_days or 0),
            }
            with connection.cursor() as cursor:
                cursor.execute(_ENTRIES_SQL, params)
                entries = cursor.rowcount
                cursor.execute(_BALANCES_SQL, params)
                cursor.execute(REFERRAL_DAYS_SQL, params)
        with connection.cursor() as cursor:
            # Settle the tables now (statistics, visibility map, hint bits): otherwise autovacuum
            # works through a million fresh rows in the middle of whatever runs next.
            for model in tables:
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
        self.stdout.write(
            f"{users} users created; {seed_phone(start)} has {referrals} referrals, "
            f"{seed_phone(start + referrals + 1)} has {SMALL_REFERRALS}, {crowd} more owners "
            f"have {sum(crowd_counts)}; {entries} reward entries."
        )

    def _rows(
        self,
        *,
        first: int,
        start: int,
        users: int,
        referrals: int,
        crowd_counts: list[int],
        now: datetime,
    ) -> Iterator[UserRow]:
        """Every user's row, in the order of the layout in bench_tools.population."""
        spread = timedelta(days=SPREAD_DAYS)
        position = 0

        def owner(count: int) -> UserRow:
            nonlocal position
            position += 1
            return (first + position - 1, start + position - 1, None, None, count)

        def referral(owner_id: int, at: datetime) -> UserRow:
            nonlocal position
            position += 1
            return (first + position - 1, start + position - 1, owner_id, at, 0)

        big = owner(referrals)
        yield big
        # Oldest first, evenly apart, the last one a moment ago.
        for offset in range(referrals):
            yield referral(big[0], now - spread * (referrals - offset) / referrals)
        small = owner(SMALL_REFERRALS)
        yield small
        # Two days apart, the last one minutes ago: ranked in this week and month too.
        for offset in range(SMALL_REFERRALS):
            days = 2 * (SMALL_REFERRALS - 1 - offset)
            yield referral(small[0], now - timedelta(days=days, minutes=5))
        owners = [owner(count) for count in crowd_counts]
        yield from owners
        draw = random.Random(len(owners))  # noqa: S311  # nosec - benchmark data
        for row in owners:
            for _ in range(row[4]):
                yield referral(row[0], now - spread * draw.random())
        while position < users:
            yield owner(0)

"""Verify every counter the reads rely on against the rows it counts."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from invites.audit import referral_mismatches
from rewards.audit import balance_mismatches


class Command(BaseCommand):
    help = (
        "Check that every balance equals the sum of its ledger entries, every referrals_count "
        "and per-day count equals the referrals, and every leaderboard set equals PostgreSQL. "
        "Prints each mismatch; exits 1 when there is one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = balance_mismatches() + referral_mismatches(now=timezone.now())
        for mismatch in mismatches:
            self.stdout.write(mismatch)
        if mismatches:
            raise CommandError(f"{len(mismatches)} counters disagree with the rows they count")
        self.stdout.write("every counter agrees with the ledger and the referrals")

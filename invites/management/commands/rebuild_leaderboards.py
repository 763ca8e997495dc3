"""Recompute the leaderboards in Redis from PostgreSQL (after a Redis loss or a failed update)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from invites import leaderboard


class Command(BaseCommand):
    help = "Rebuild the all-time, this month's and this week's leaderboards from PostgreSQL."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = leaderboard.rebuild(now=timezone.now())
        for period, ranked in counts.items():
            self.stdout.write(f"{period}: {ranked} users ranked")

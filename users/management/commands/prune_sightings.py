"""Delete the client IP and device sightings older than 30 days (run it daily from cron)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from users.sightings import sightings_prune


class Command(BaseCommand):
    help = "Delete client IP and device sightings older than 30 days. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = sightings_prune(now=timezone.now())
        self.stdout.write(f"deleted {deleted} sightings older than 30 days")

"""Delete the sessions that ended over SESSION_PRUNE_AFTER_DAYS ago (run it daily from cron)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from users.sessions import sessions_prune


class Command(BaseCommand):
    help = (
        "Delete the sessions that ended (logged out, revoked, or past JWT_SESSION_MAX_DAYS) more "
        "than --days days ago (SESSION_PRUNE_AFTER_DAYS, default 30), --batch-size rows at a "
        "time. Idempotent; live sessions are never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, days: int | None, batch_size: int, **options: Any) -> None:
        days = settings.SESSION_PRUNE_AFTER_DAYS if days is None else days
        if days < 0 or batch_size < 1:
            raise CommandError("--days must be 0 or more and --batch-size at least 1.")
        deleted = sessions_prune(now=timezone.now(), days=days, batch_size=batch_size)
        self.stdout.write(f"deleted {deleted} sessions ended more than {days} days ago")

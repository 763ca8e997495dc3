"""Credit every pending reward entry whose holding period is over (run it from cron)."""

from typing import Any

from django.core.management.base import BaseCommand

from rewards.services import credit_due_rewards


class Command(BaseCommand):
    help = (
        "Credit the pending reward entries whose credit_due_at has come. Idempotent, and safe to "
        "run from several machines at once (each entry is credited once)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        credited = credit_due_rewards()
        self.stdout.write(f"credited {credited} reward entries")

from django.conf import settings
from django.db import models


class ReferralDay(models.Model):
    """How many referrals one code owner got on one UTC date: the stats timeline in O(1).

    Kept in the transaction that records each referral (`invites.services.referral_record`), so
    the 30-day timeline is at most 30 index rows, whatever the owner's history.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="referral_days",
        db_index=False,  # the unique (owner, date) index serves it
    )
    date = models.DateField()
    referrals = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index of "an owner's last 30 days".
            models.UniqueConstraint(fields=["owner", "date"], name="referral_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.date}: {self.referrals}"

"""The referral program: reward rules and the rewards ledger (API.md 14–23 › Rewards)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_AMOUNT = 1_000_000_000
UNIT_PATTERN = r"^[a-z0-9_]{1,16}$"


class RewardRule(models.Model):
    """What a referral is worth. Never edited; at most one is active (a partial unique index)."""

    referrer_amount = models.PositiveIntegerField()
    referee_amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=16, default="points")
    # None: entries wait for staff; 0: credited at once; n: credited n days after the referral.
    auto_credit_days = models.PositiveSmallIntegerField(null=True, blank=True, default=0)
    # None: no cap. Referrer entries one owner may get per UTC calendar day.
    referrer_daily_cap = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="reward_rule_one_active"
            ),
            models.CheckConstraint(
                condition=Q(referrer_amount__lte=MAX_AMOUNT, referee_amount__lte=MAX_AMOUNT)
                & (Q(referrer_amount__gt=0) | Q(referee_amount__gt=0)),
                name="reward_rule_amounts",
            ),
            models.CheckConstraint(
                condition=Q(unit__regex=UNIT_PATTERN), name="reward_rule_unit_format"
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, deactivated_at__isnull=True)
                | Q(is_active=False, deactivated_at__isnull=False),
                name="reward_rule_deactivated_at_when_inactive",
            ),
        ]

    def __str__(self) -> str:
        return f"rule {self.pk}: {self.referrer_amount}/{self.referee_amount} {self.unit}"


class RewardEntry(models.Model):
    """One line of the rewards ledger: what one user earned for one referral."""

    class Kind(models.TextChoices):
        REFERRER = "referrer"
        REFEREE = "referee"

    class State(models.TextChoices):
        PENDING = "pending"
        HELD = "held"
        CREDITED = "credited"
        REVERSED = "reversed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reward_entries"
    )
    # The referral is the user who activated a code: each user is referred at most once.
    referral = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    rule = models.ForeignKey(RewardRule, on_delete=models.PROTECT, related_name="entries")
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=16)
    state = models.CharField(max_length=8, choices=State.choices)
    risk_signals = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    credit_due_at = models.DateTimeField(null=True, blank=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    credited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reversal_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "reward entries"
        constraints = [
            # Idempotent creation: one entry per (referral, kind), whatever the retries.
            models.UniqueConstraint(fields=["referral", "kind"], name="reward_entry_once"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "held", "credited", "reversed"]),
                name="reward_entry_state",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="reward_entry_amount"),
        ]
        indexes = [
            # A user's entries, newest first (the rewards list; the daily cap's count).
            models.Index(fields=["user", "-created_at", "-id"], name="reward_entry_user_idx"),
            # Staff's list filtered by state, newest first.
            models.Index(fields=["state", "-created_at", "-id"], name="reward_entry_state_idx"),
            # The credit job's queue: pending entries by due time.
            models.Index(
                fields=["credit_due_at"],
                name="reward_entry_due_idx",
                condition=Q(state="pending", credit_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.unit} ({self.state})"


class RewardBalance(models.Model):
    """A user's sums per unit and state, kept with every entry write (never a ledger scan).

    `pending` includes held entries: their owner sees them as pending.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reward_balances",
        db_index=False,  # the unique (user, unit) index serves it
    )
    unit = models.CharField(max_length=16)
    pending = models.BigIntegerField(default=0)
    credited = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "unit"], name="reward_balance_unique"),
            models.CheckConstraint(
                condition=Q(pending__gte=0, credited__gte=0, reversed__gte=0),
                name="reward_balance_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.unit}"

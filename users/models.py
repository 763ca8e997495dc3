import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from users.invite_codes import INVITE_CODE_LENGTH
from users.managers import UserManager


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with a phone number and may have been invited by another user."""

    # Unique through Meta.constraints, not unique=True: that would add a second, LIKE-pattern
    # index to each, which no query uses and every sign-up would pay to maintain.
    phone = models.CharField("phone number (E.164)", max_length=16)
    # Stored upper case (a CHECK keeps it so), which makes the unique index case-insensitive.
    invite_code = models.CharField(max_length=INVITE_CODE_LENGTH, editable=False)
    referred_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        # The referrals index below starts with this column, so no separate index.
        db_index=False,
        null=True,
        blank=True,
        related_name="referrals",
        help_text="The user whose invite code this user activated.",
    )
    referred_at = models.DateTimeField(null=True, blank=True)
    # The top of this user's chain of referrers (None: nobody referred this user, it is its own
    # root). Kept by invites.services.referral_record, so the cycle check reads one row, not the
    # chain; an index finds a root's whole tree when the root itself gets a referrer.
    referral_root = models.BigIntegerField(null=True, blank=True, editable=False)
    # Kept in the same transaction as each activation, so the profile never counts rows.
    referrals_count = models.PositiveIntegerField(default=0, editable=False)
    date_joined = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phone"], name="user_phone_unique"),
            models.UniqueConstraint(fields=["invite_code"], name="user_invite_code_unique"),
            models.CheckConstraint(
                condition=Q(invite_code__regex=r"^[A-Z0-9]{6}$"),
                name="user_invite_code_format",
            ),
            models.CheckConstraint(
                condition=~Q(referred_by=F("id")),
                name="user_not_referred_by_self",
            ),
            models.CheckConstraint(
                condition=Q(referred_by__isnull=True, referred_at__isnull=True)
                | Q(referred_by__isnull=False, referred_at__isnull=False),
                name="user_referred_at_with_referrer",
            ),
        ]
        indexes = [
            models.Index(
                fields=["referral_root"],
                name="user_referral_root_idx",
                condition=Q(referral_root__isnull=False),
            ),
            # "Referrals of X, newest first": one index range scan per page, at any depth. Only
            # referred users are in it, so a sign-up without an invite code skips it.
            models.Index(
                fields=["referred_by", "-referred_at", "-id"],
                name="user_referrals_idx",
                condition=Q(referred_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.phone

    @property
    def activated_invite_code(self) -> str | None:
        # Loads the referrer unless the query already did (select_related, users.selectors).
        referrer = self.referred_by
        return referrer.invite_code if referrer is not None else None


class Sighting(models.Model):
    """A client IP or device id a user signed in or activated a code from: an HMAC, never the
    value itself (`users.sightings`). Kept 30 days for the referral abuse signals."""

    class Kind(models.TextChoices):
        IP = "ip"
        DEVICE = "device"

    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="sightings",
        db_index=False,  # the unique (user, kind, digest) index serves it
    )
    kind = models.CharField(max_length=6, choices=Kind.choices)
    digest = models.CharField(max_length=64, help_text="HMAC-SHA256 of the IP or device id.")
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "digest"], name="sighting_unique"),
        ]
        indexes = [models.Index(fields=["last_seen_at"], name="sighting_last_seen_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.digest[:8]}…"


class Session(models.Model):
    """One login and every token pair rotated from it (API.md 24–26).

    Its id is in every token of that login (the `sid` claim); ending it refuses them all at once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="sessions",
        db_index=False,  # the (user, created_at) index serves it
    )
    created_at = models.DateTimeField()
    # Written at most once a minute per session (users.authentication), never per request.
    last_used_at = models.DateTimeField()
    user_agent = models.CharField(max_length=200, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="session_user_idx"),
            # manage.py prune_sessions finds ended sessions through these two, in batches:
            # the logged-out or revoked ones (a partial index, written only when one ends) and
            # those past their lifetime, by their login time.
            models.Index(
                fields=["ended_at"], name="session_ended_idx", condition=Q(ended_at__isnull=False)
            ),
            models.Index(fields=["created_at"], name="session_created_idx"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"

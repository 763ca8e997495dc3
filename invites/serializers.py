from typing import Any

from rest_framework import serializers

from invites.leaderboard import Period
from users.models import User
from users.serializers import InviteCodeField


class InviteActivateInputSerializer(serializers.Serializer):
    invite_code = InviteCodeField(help_text="Another user's invite code; case-insensitive.")


class ReferralSerializer(serializers.ModelSerializer):
    """A user who activated the caller's invite code."""

    activated_at = serializers.DateTimeField(
        source="referred_at", help_text="When they activated the code (UTC)."
    )

    class Meta:
        model = User
        fields = ["phone", "activated_at"]
        read_only_fields = fields


# Formats a time as every DateTimeField of the API does (ISO 8601, "Z" for UTC).
_DATETIME = serializers.DateTimeField()


class ReferralDaySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="A UTC date.")
    referrals = serializers.IntegerField(help_text="Referrals activated on that date.")


class ReferralStatsSerializer(serializers.Serializer):
    """How the caller's invitations are doing."""

    referrals_count = serializers.IntegerField(help_text="Every referral, ever.")
    referrals_last_7_days = serializers.IntegerField(help_text="Sum of the timeline's last 7.")
    referrals_last_30_days = serializers.IntegerField(help_text="Sum of the whole timeline.")
    timeline = ReferralDaySerializer(
        many=True, help_text="Exactly 30 days, oldest first, the last one today (UTC)."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # Written out: DRF's field-by-field walk of the 30 days took a fifth of the request's CPU.
        # The fields above stay the schema; a test holds the two representations equal.
        return {
            "referrals_count": int(instance["referrals_count"]),
            "referrals_last_7_days": int(instance["referrals_last_7_days"]),
            "referrals_last_30_days": int(instance["referrals_last_30_days"]),
            "timeline": [
                {"date": day["date"].isoformat(), "referrals": int(day["referrals"])}
                for day in instance["timeline"]
            ],
        }


class LeaderboardQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(
        choices=[period.value for period in Period],
        default=Period.ALL.value,
        help_text="`all` (every referral), `month` (this calendar month, UTC) or `week` (this "
        "ISO week, UTC).",
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=100, default=10, help_text="How many top referrers (1–100)."
    )


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="Equal counts share a rank; the next one skips.")
    phone = serializers.CharField(help_text="Masked: the country code and the last two digits.")
    referrals = serializers.IntegerField()


class LeaderboardOwnSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True, help_text="null: no referral in the period.")
    referrals = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    """Top referrers of a period and the caller's own standing."""

    period = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True, help_text="null for `all`.")
    results = LeaderboardEntrySerializer(many=True)
    me = LeaderboardOwnSerializer()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # Written out, as the stats: the fields above stay the schema; a test holds the two
        # representations equal.
        starts_at = instance["starts_at"]
        return {
            "period": str(instance["period"]),
            "starts_at": None if starts_at is None else _DATETIME.to_representation(starts_at),
            "results": [
                {
                    "rank": int(row["rank"]),
                    "phone": str(row["phone"]),
                    "referrals": int(row["referrals"]),
                }
                for row in instance["results"]
            ],
            "me": {
                "rank": None if instance["me"]["rank"] is None else int(instance["me"]["rank"]),
                "referrals": int(instance["me"]["referrals"]),
            },
        }


class StaffLeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    user_id = serializers.IntegerField()
    phone = serializers.CharField(help_text="The whole E.164 number.")
    referrals = serializers.IntegerField()


class StaffLeaderboardSerializer(serializers.Serializer):
    """The leaderboard with whole phones and user ids."""

    period = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True)
    results = StaffLeaderboardEntrySerializer(many=True)

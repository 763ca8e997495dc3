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

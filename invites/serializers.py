from rest_framework import serializers

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

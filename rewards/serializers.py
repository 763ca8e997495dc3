from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from rewards.models import MAX_AMOUNT, UNIT_PATTERN, RewardEntry, RewardRule
from users.serializers import PhoneField

State = RewardEntry.State

# Formats dates as a declared DateTimeField does (ISO 8601, UTC as "Z").
_DATETIME = serializers.DateTimeField()


def _time(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


class JsonIntegerField(serializers.IntegerField):
    """A JSON integer: DRF would also take "100", 100.0 and turn them into 100."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class JsonStringRegexField(serializers.RegexField):
    """A JSON string matching the pattern: DRF would turn the JSON number 5 into "5"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class JsonStringField(serializers.CharField):
    """A JSON string: DRF would turn the JSON number 5 into "5"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class RewardEntrySerializer(serializers.Serializer):
    """One entry of the caller's rewards ledger."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=RewardEntry.Kind.choices,
        help_text="`referrer`: for inviting someone; `referee`: for accepting an invitation.",
    )
    amount = serializers.IntegerField()
    unit = serializers.CharField()
    state = serializers.ChoiceField(
        choices=[State.PENDING, State.CREDITED, State.REVERSED],
        help_text="Entries held for review show as `pending`.",
    )
    referral_phone = serializers.CharField(
        allow_null=True, help_text="The invited user's phone on `referrer` entries; else null."
    )
    created_at = serializers.DateTimeField()
    credit_due_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is credited automatically; null: only staff credit it."
    )
    credited_at = serializers.DateTimeField(allow_null=True)
    reversed_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, entry: RewardEntry) -> dict[str, Any]:
        referrer_entry = entry.kind == RewardEntry.Kind.REFERRER
        return {
            "id": entry.pk,
            "kind": entry.kind,
            "amount": entry.amount,
            "unit": entry.unit,
            # Held entries wait for a person; their owner sees them as pending.
            "state": State.PENDING if entry.state == State.HELD else entry.state,
            "referral_phone": entry.referral.phone if referrer_entry else None,
            "created_at": _time(entry.created_at),
            "credit_due_at": _time(entry.credit_due_at),
            "credited_at": _time(entry.credited_at),
            "reversed_at": _time(entry.reversed_at),
        }


class StaffRewardEntrySerializer(RewardEntrySerializer):
    """An entry as staff see it: its owner, its real state, its signals and who acted on it."""

    state = serializers.ChoiceField(choices=State.choices)
    user_id = serializers.IntegerField()
    user_phone = serializers.CharField()
    risk_signals = serializers.ListField(
        child=serializers.CharField(), help_text="Why the entry was held for review (if it was)."
    )
    credited_by = serializers.IntegerField(allow_null=True, help_text="Staff user id, or null.")
    reversed_by = serializers.IntegerField(allow_null=True, help_text="Staff user id, or null.")
    reversal_reason = serializers.CharField()

    def to_representation(self, entry: RewardEntry) -> dict[str, Any]:
        body = super().to_representation(entry)
        body.update(
            state=entry.state,
            user_id=entry.user_id,
            user_phone=entry.user.phone,
            risk_signals=list(entry.risk_signals),
            credited_by=entry.credited_by_id,
            reversed_by=entry.reversed_by_id,
            reversal_reason=entry.reversal_reason,
        )
        return body


class RewardBalanceSerializer(serializers.Serializer):
    unit = serializers.CharField()
    pending = serializers.IntegerField(help_text="Sum of pending entries (held ones included).")
    credited = serializers.IntegerField()
    reversed = serializers.IntegerField()


class RewardBalancesSerializer(serializers.Serializer):
    """The caller's balances, one item per unit, sorted by unit."""

    balances = RewardBalanceSerializer(many=True)


class RewardRuleSerializer(serializers.ModelSerializer):
    """A reward rule: what each referral is worth while it is active."""

    class Meta:
        model = RewardRule
        fields = [
            "id",
            "referrer_amount",
            "referee_amount",
            "unit",
            "auto_credit_days",
            "referrer_daily_cap",
            "is_active",
            "created_at",
            "deactivated_at",
        ]
        read_only_fields = fields


class RewardRuleCreateInputSerializer(serializers.Serializer):
    referrer_amount = JsonIntegerField(
        min_value=0, max_value=MAX_AMOUNT, help_text="For the code's owner, per referral."
    )
    referee_amount = JsonIntegerField(
        min_value=0, max_value=MAX_AMOUNT, help_text="For the user who activated the code."
    )
    unit = JsonStringRegexField(
        UNIT_PATTERN,
        default="points",
        max_length=16,
        help_text="1–16 characters of a–z, 0–9 and _.",
        error_messages={"invalid": _("1–16 characters of a–z, 0–9 and _.")},
    )
    auto_credit_days = JsonIntegerField(
        min_value=0,
        max_value=365,
        allow_null=True,
        default=0,
        help_text="0: credited at once; n: n days after the referral; null: only by staff.",
    )
    referrer_daily_cap = JsonIntegerField(
        min_value=1,
        max_value=100_000,
        allow_null=True,
        default=None,
        help_text="Referrer entries one owner may get per UTC day; null: no cap.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["referrer_amount"] == 0 and data["referee_amount"] == 0:
            raise serializers.ValidationError(_("The two amounts cannot both be 0."))
        return data


class RewardReverseInputSerializer(serializers.Serializer):
    reason = JsonStringField(
        min_length=1, max_length=500, help_text="Why the entry is reversed (1–500 characters)."
    )


class StaffRewardQuerySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=State.choices, required=False)
    phone = PhoneField(required=False, help_text="Only this user's entries.")

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from invites.abuse import Signal
from referral_api.errors import ApplicationError
from rewards.models import RewardBalance, RewardEntry, RewardRule
from rewards.services import reward_credit, reward_reverse, reward_rule_create
from users.models import User

ADMIN_REVERSAL_REASON = "Reversed from the admin."


@admin.register(RewardRule)
class RewardRuleAdmin(admin.ModelAdmin):
    """Rules are created here through the same service as the API, and never edited."""

    list_display = (
        "id",
        "referrer_amount",
        "referee_amount",
        "unit",
        "auto_credit_days",
        "referrer_daily_cap",
        "is_active",
        "created_at",
        "created_by",
        "deactivated_at",
    )
    list_filter = ("is_active", "unit")
    ordering = ("-created_at", "-id")
    fields = (
        "referrer_amount",
        "referee_amount",
        "unit",
        "auto_credit_days",
        "referrer_daily_cap",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: RewardRule | None = None) -> Any:
        # Read only once created: a rule's entries copy its amounts, so it is never changed.
        if obj is not None:
            return (*self.fields, "is_active", "created_at", "created_by", "deactivated_at")
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RewardRule, form: Any, change: bool) -> None:
        if change:
            return
        staff = request.user if isinstance(request.user, User) else None
        created = reward_rule_create(
            staff=staff,
            referrer_amount=obj.referrer_amount,
            referee_amount=obj.referee_amount,
            unit=obj.unit,
            auto_credit_days=obj.auto_credit_days,
            referrer_daily_cap=obj.referrer_daily_cap,
        )
        obj.pk = created.pk


class RiskSignalFilter(admin.SimpleListFilter):
    """Held entries by the abuse signal that held them (API.md › Abuse signals)."""

    title = "risk signal"
    parameter_name = "signal"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(signal.value, signal.value.replace("_", " ")) for signal in Signal]

    def queryset(self, request: HttpRequest, queryset: QuerySet[RewardEntry]) -> Any:
        if self.value() is None:
            return queryset
        return queryset.filter(risk_signals__contains=[self.value()])


@admin.register(RewardEntry)
class RewardEntryAdmin(admin.ModelAdmin):
    """The ledger: filter, search, and credit or reverse entries through the same services."""

    list_display = (
        "id",
        "user",
        "kind",
        "amount",
        "unit",
        "state",
        "risk_signals",
        "created_at",
        "credit_due_at",
        "credited_at",
        "reversed_at",
    )
    list_filter = ("state", "unit", "kind", RiskSignalFilter)
    search_fields = ("user__phone", "referral__phone")
    ordering = ("-created_at", "-id")
    list_select_related = ("user",)
    actions = ("credit_selected", "reverse_selected")
    readonly_fields = (
        "user",
        "referral",
        "kind",
        "rule",
        "amount",
        "unit",
        "state",
        "risk_signals",
        "created_at",
        "credit_due_at",
        "credited_at",
        "credited_by",
        "reversed_at",
        "reversed_by",
        "reversal_reason",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Credit the selected entries")
    def credit_selected(self, request: HttpRequest, queryset: QuerySet[RewardEntry]) -> None:
        self._apply(
            request, queryset, lambda entry_id, staff: reward_credit(entry_id=entry_id, staff=staff)
        )

    @admin.action(description="Reverse the selected entries")
    def reverse_selected(self, request: HttpRequest, queryset: QuerySet[RewardEntry]) -> None:
        self._apply(
            request,
            queryset,
            lambda entry_id, staff: reward_reverse(
                entry_id=entry_id, staff=staff, reason=ADMIN_REVERSAL_REASON
            ),
        )

    def _apply(self, request: HttpRequest, queryset: QuerySet[RewardEntry], move: Any) -> None:
        staff = request.user if isinstance(request.user, User) else None
        done, refused = 0, 0
        for entry_id in queryset.values_list("pk", flat=True):
            try:
                move(entry_id, staff)
                done += 1
            except ApplicationError:
                refused += 1
        self.message_user(request, f"{done} entries done.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} entries refused (reversed).", messages.WARNING)


@admin.register(RewardBalance)
class RewardBalanceAdmin(admin.ModelAdmin):
    list_display = ("user", "unit", "pending", "credited", "reversed")
    list_filter = ("unit",)
    search_fields = ("user__phone",)
    readonly_fields = ("user", "unit", "pending", "credited", "reversed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

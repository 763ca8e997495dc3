from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from users.models import User


class ReferralInline(admin.TabularInline):
    """The users who activated this user's code (read only: referrals are made through the API)."""

    model = User
    fk_name = "referred_by"
    fields = ("phone", "referred_at", "is_active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "referral"
    verbose_name_plural = "referrals"
    ordering = ("-referred_at", "-id")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "phone",
        "invite_code",
        "referred_by",
        "referrals_count",
        "date_joined",
        "is_active",
    )
    list_filter = ("is_active", "is_staff")
    search_fields = ("phone", "invite_code", "referred_by__phone", "referred_by__invite_code")
    ordering = ("-date_joined",)
    list_select_related = ("referred_by",)
    readonly_fields = (
        "invite_code",
        "referred_by",
        "referred_at",
        "referrals_count",
        "date_joined",
        "last_login",
    )
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("Referrals", {"fields": ("invite_code", "referred_by", "referred_at", "referrals_count")}),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone", "password1", "password2")}),)
    inlines = (ReferralInline,)

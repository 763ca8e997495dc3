from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import BaseUserManager

if TYPE_CHECKING:
    from users.models import User


class UserManager(BaseUserManager["User"]):
    """Phone users have no usable password; staff created here may have one for the admin."""

    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **fields: Any) -> "User":
        from users.phone import normalize_phone
        from users.services import user_create

        normalized = normalize_phone(phone)
        if normalized is None:
            raise ValueError(f"{phone!r} is not a valid phone number (use +<country><number>).")
        user = user_create(phone=normalized, **fields)
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def create_superuser(self, phone: str, password: str | None = None, **fields: Any) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(phone, password, **fields)

import logging
import secrets
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.db.models import Model

from referral_api.rows import Upsert, write
from users.invite_codes import NoFreeInviteCodeError, generate_invite_code
from users.phone import normalize_phone

if TYPE_CHECKING:
    from users.models import User

logger = logging.getLogger(__name__)

# With a million users a draw collides about once in 2,000: five in a row mean the code space
# is nearly full.
INVITE_CODE_ATTEMPTS = 5


class UserManager(BaseUserManager["User"]):
    """Phone users have no usable password; staff created here may have one for the admin."""

    use_in_migrations = True

    def create_with_invite_code(self, *, phone: str, **fields: Any) -> "User":
        """Insert a user with a fresh invite code, drawing again when the code is already taken."""
        user = self.model(phone=phone, **fields)
        self.insert_with_invite_code(user)
        return user

    def insert_with_invite_code(self, user: "User", *dependents: Model | Upsert) -> None:
        """INSERT the new `user` with a fresh invite code, drawing again when the code is already
        taken; `dependents`, rows that point at it, go in the same statement (`rows.write`)."""
        # What set_unusable_password() stores, drawn in one system call instead of 40.
        user.password = UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)
        for draw in range(1, INVITE_CODE_ATTEMPTS + 1):
            user.invite_code = generate_invite_code()
            # In a transaction, a failed INSERT needs a savepoint to go on; on its own the INSERT
            # is its own transaction, and BEGIN/COMMIT around it would only add two round trips.
            in_transaction = transaction.get_connection().in_atomic_block
            try:
                with transaction.atomic() if in_transaction else nullcontext():
                    write(user, *dependents, using=self._db)
            except IntegrityError:
                if not self.filter(invite_code=user.invite_code).exists():
                    raise
                # The draw number shows how close the code space is to full (make bench counts).
                logger.warning("invite code collision at sign-up, draw %d; drawing another", draw)
                continue
            return
        # Five collisions in a row: the code space is nearly full, which operators must see.
        logger.error("no free invite code after %d draws", INVITE_CODE_ATTEMPTS)
        raise NoFreeInviteCodeError()

    def create_user(self, phone: str, password: str | None = None, **fields: Any) -> "User":
        normalized = normalize_phone(phone)
        if normalized is None:
            raise ValueError(f"{phone!r} is not a valid phone number (use +<country><number>).")
        user = self.create_with_invite_code(phone=normalized, **fields)
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def create_superuser(self, phone: str, password: str | None = None, **fields: Any) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(phone, password, **fields)

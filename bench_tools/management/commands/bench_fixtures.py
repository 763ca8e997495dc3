"""Tokens, a deep cursor and ready login codes for the benchmark (`make bench`)."""

import json
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandParser
from rest_framework.pagination import Cursor

from invites.pagination import ReferralCursorPagination
from invites.selectors import referrals_of
from users import otp
from users.models import User
from users.tokens import token_pair_for

VERIFY_PHONE_START = 9_000_000


class Command(BaseCommand):
    help = (
        "Print JSON for the benchmark: access tokens (a plain user and the user with the most "
        "referrals), the referrals cursor of the last page, and write login codes, stored the "
        "way request-code stores them, as 'phone,code' lines: --codes for new phones (each "
        "login signs up) to --codes-file, --signin-codes for distinct existing users to "
        "--signin-codes-file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--codes", type=int, default=0)
        parser.add_argument("--codes-file", default="")
        parser.add_argument("--signin-codes", type=int, default=0)
        parser.add_argument("--signin-codes-file", default="")
        parser.add_argument("--page-size", type=int, default=20)

    def handle(
        self,
        *args: Any,
        codes: int,
        codes_file: str,
        signin_codes: int,
        signin_codes_file: str,
        page_size: int,
        **options: Any,
    ) -> None:
        owner = User.objects.order_by("-referrals_count", "pk").first()
        plain = User.objects.order_by("-pk").first()
        if owner is None or plain is None or plain.pk == owner.pk:
            self.stderr.write("seed users first: manage.py seed_users")
            raise SystemExit(1)
        owner_access = token_pair_for(owner).access
        plain_access = token_pair_for(plain).access
        new_phones = [f"+7999{VERIFY_PHONE_START + index:07d}" for index in range(codes)]
        with open(codes_file or "/dev/null", "w") as out:
            self._write_codes(out, new_phones, "new")
        with open(signin_codes_file or "/dev/null", "w") as out:
            self._write_codes(out, self._existing_phones(signin_codes), "existing")
        fixtures = {
            "profile_token": plain_access,
            "owner_token": owner_access,
            "owner_referrals": owner.referrals_count,
            "last_page_cursor": self._last_page_cursor(owner, page_size),
        }
        self.stdout.write(json.dumps(fixtures))

    def _write_codes(self, out: TextIO, phones: list[str], label: str) -> None:
        for index, phone in enumerate(phones):
            code = otp.generate_code()
            otp.store_code(phone=phone, code=code, client_ip=f"bench-{label}-{index}")
            out.write(f"{phone},{code}\n")

    def _existing_phones(self, count: int) -> list[str]:
        """Phones of `count` distinct users picked at random across the whole table."""
        if count == 0:
            return []
        # One sort of the table in PostgreSQL: a list of ids as parameters would pass the
        # 65,535 a statement can bind.
        return list(User.objects.order_by("?").values_list("phone", flat=True)[:count])

    def _last_page_cursor(self, owner: User, page_size: int) -> str:
        """The cursor that `next` links would reach last: the oldest `page_size` referrals."""
        boundary = referrals_of(user=owner).values_list("referred_at", flat=True)[
            max(owner.referrals_count - page_size - 1, 0)
        ]
        paginator = ReferralCursorPagination()
        paginator.base_url = "http://bench/api/v1/profile/referrals/"
        # A cursor's position is the first ordering field of the boundary row, as a string.
        cursor = Cursor(offset=0, reverse=False, position=str(boundary))  # type: ignore[arg-type]
        url = paginator.encode_cursor(cursor)
        return url.split("cursor=", 1)[1]

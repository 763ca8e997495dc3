"""Tokens, a deep cursor, ready login codes and users to activate codes for the benchmark."""

import itertools
import json
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from rest_framework.pagination import Cursor

from bench_tools.population import (
    ACTIVATION_PHONE_START,
    SEED_RULE,
    SIGN_UP_PHONE_START,
    STAFF_PHONE_INDEX,
    InviteCodes,
    copy_users,
    reserve_user_ids,
    seed_phone,
    small_owner_phone,
)
from invites.pagination import ReferralCursorPagination
from invites.selectors import referrals_of
from rewards.models import RewardRule
from users import otp
from users.models import User
from users.tokens import token_pair_for


class Command(BaseCommand):
    help = (
        "Print JSON for the benchmark: access tokens (a plain user, the user with the most "
        "referrals, the small owner seed_users placed after them and a staff user), the active "
        "reward rule's id and fields, the referrals cursor of "
        "the last page, and write login codes, stored the way request-code stores them, as "
        "'phone,code' lines: --codes for new phones (each login signs up) to --codes-file, "
        "--signin-codes for distinct existing users to --signin-codes-file; and create "
        "--activations new users without a referrer, writing 'access token,invite code' lines "
        "to --activations-file: each an existing user's code, distinct while there are enough."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--codes", type=int, default=0)
        parser.add_argument("--codes-file", default="")
        parser.add_argument("--signin-codes", type=int, default=0)
        parser.add_argument("--signin-codes-file", default="")
        parser.add_argument("--activations", type=int, default=0)
        parser.add_argument("--activations-file", default="")
        parser.add_argument("--page-size", type=int, default=20)

    def handle(
        self,
        *args: Any,
        codes: int,
        codes_file: str,
        signin_codes: int,
        signin_codes_file: str,
        activations: int,
        activations_file: str,
        page_size: int,
        **options: Any,
    ) -> None:
        owner = User.objects.order_by("-referrals_count", "pk").first()
        plain = User.objects.order_by("-pk").first()
        if owner is None or plain is None or plain.pk == owner.pk:
            self.stderr.write("seed users first: manage.py seed_users")
            raise SystemExit(1)
        small = User.objects.get(phone=small_owner_phone(owner=owner))
        new_phones = [seed_phone(SIGN_UP_PHONE_START + index) for index in range(codes)]
        with open(codes_file or "/dev/null", "w") as out:
            self._write_codes(out, new_phones, "new")
        with open(signin_codes_file or "/dev/null", "w") as out:
            self._write_codes(out, self._existing_phones(signin_codes), "existing")
        # Picked before the new users exist: none of them is another one's owner (no cycles).
        codes_to_activate = self._codes_to_activate(activations, exclude=[plain.pk, small.pk])
        with open(activations_file or "/dev/null", "w") as out:
            for user_id, code in zip(
                self._new_users(activations), itertools.cycle(codes_to_activate), strict=False
            ):
                out.write(f"{token_pair_for(User(pk=user_id)).access},{code}\n")
        fixtures = {
            "profile_token": token_pair_for(plain).access,
            "owner_token": token_pair_for(owner).access,
            "owner_referrals": owner.referrals_count,
            "small_token": token_pair_for(small).access,
            "small_referrals": small.referrals_count,
            "staff_token": token_pair_for(self._staff()).access,
            "reward_rule_id": RewardRule.objects.filter(is_active=True)
            .values_list("pk", flat=True)
            .first(),
            "reward_rule": SEED_RULE,
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

    def _staff(self) -> User:
        staff = User.objects.filter(phone=seed_phone(STAFF_PHONE_INDEX)).first()
        return staff or User.objects.create_with_invite_code(
            phone=seed_phone(STAFF_PHONE_INDEX), is_staff=True
        )

    def _codes_to_activate(self, count: int, *, exclude: list[int]) -> list[str]:
        """Invite codes of up to `count` distinct users with neither a referrer nor referrals.

        Each is the root of its own chain, so activations of different codes never wait for
        one another's locks, as with most real activations.
        """
        if count == 0:
            return []
        plain = User.objects.filter(referred_by__isnull=True, referrals_count=0).exclude(
            pk__in=exclude
        )
        codes = list(plain.order_by("?").values_list("invite_code", flat=True)[:count])
        if not codes:
            self.stderr.write("no user without referrer and referrals to invite the new ones")
            raise SystemExit(1)
        return codes

    def _new_users(self, count: int) -> range:
        """Ids of `count` new users, created by COPY, with phones from ACTIVATION_PHONE_START."""
        if count == 0:
            return range(0)
        codes = InviteCodes()
        with transaction.atomic():
            first = reserve_user_ids(count)
            rows = (
                (first + offset, ACTIVATION_PHONE_START + offset, None, None, 0)
                for offset in range(count)
            )
            copy_users(rows, codes=codes, joined=timezone.now())
        return range(first, first + count)

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

"""Test data in one place: users through the real sign-up path, other rows with model-bakery.

A user's invite code matters to almost every rule, so users are made the way sign-up makes them
(`User.objects.create_with_invite_code`: a drawn code, retried on a collision). Rows whose
content the test does not care about come from model-bakery recipes that still satisfy the
database's constraints.
"""

import itertools
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import time_machine
from django.db import transaction
from model_bakery.recipe import Recipe

from invites.services import referral_record
from rewards.models import RewardBalance, RewardRule
from rewards.services import reward_rule_create
from users.invite_codes import generate_invite_code
from users.models import User

# Valid Russian mobile numbers, distinct for the whole test run.
_PHONES = (f"+7999{index:07d}" for index in itertools.count(5_000_000))


def next_phone() -> str:
    return next(_PHONES)


def create_user(*, phone: str | None = None, **fields: Any) -> User:
    """A user created the way sign-up creates one (random invite code), with any field set."""
    return User.objects.create_with_invite_code(phone=phone or next_phone(), **fields)


# A user row for tests that need one and nothing about its code's history (baker.make_recipe).
user_recipe = Recipe(User, phone=next_phone, invite_code=generate_invite_code, referred_by=None)


def make_rule(*, at: datetime | None = None, **fields: Any) -> RewardRule:
    """The active reward rule, created the way staff create one (the previous one deactivated),
    now or, with `at`, at that instant: a referral gets the rule that was active at its own
    instant, so a test that records referrals at fixed past instants creates its rules before."""
    values = {"referrer_amount": 100, "referee_amount": 50, "auto_credit_days": 0, **fields}
    with time_machine.travel(at, tick=False) if at is not None else nullcontext():
        return reward_rule_create(staff=None, **values)


def record_referral(*, referral: User, owner: User, at: datetime) -> User:
    """`referral` activated `owner`'s code at `at`, through the one write path of a referral
    (`referral_record`: counters, day counts, reward entries; the activation rules are not what
    the caller tests). The leaderboard is fed on commit: wrap in
    `django_capture_on_commit_callbacks(execute=True)` where it must be."""
    with transaction.atomic():
        referral_record(user=referral, owner=owner, at=at)
    return referral


def balance_of(user: User, unit: str = "points") -> tuple[int, int, int]:
    """The user's (pending, credited, reversed) in `unit`, as the balance row holds them."""
    row = RewardBalance.objects.filter(user=user, unit=unit).first()
    return (row.pending, row.credited, row.reversed) if row else (0, 0, 0)

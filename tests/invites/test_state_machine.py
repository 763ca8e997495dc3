"""Random sequences of sign-ups and activations, checked against a plain-Python model."""

import itertools
from typing import Any

import pytest
from django_redis import get_redis_connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from invites.exceptions import (
    InviteActivationThrottledError,
    InviteAlreadyActivatedError,
    InviteCodeNotFoundError,
    InviteCodeOwnError,
    InviteCycleError,
)
from invites.services import invite_activate
from referral_api.errors import ApplicationError
from tests.factories import create_user
from tests.invites.graph import assert_referral_graph_is_sound, referrers
from users.models import User

pytestmark = pytest.mark.django_db

FAILURE_LIMIT = 3
UNKNOWN = "unknown"
PHONES = (f"+7999666{index:04d}" for index in itertools.count())


class ReferralGraph(RuleBasedStateMachine):
    """Users are ids; the model keeps who referred whom and each user's unknown-code failures."""

    users = Bundle("users")

    def __init__(self) -> None:
        super().__init__()
        # One test function runs every example: start each from an empty graph and no counters.
        User.objects.update(referred_by=None, referred_at=None)
        User.objects.all().delete()
        get_redis_connection("default").flushdb()
        self.referrer: dict[int, int | None] = {}
        self.code: dict[int, str] = {}
        self.failures: dict[int, int] = {}

    def chain_above(self, user_id: int) -> list[int]:
        chain, current = [], self.referrer[user_id]
        while current is not None:
            chain.append(current)
            current = self.referrer[current]
        return chain

    def expected(self, caller: int, owner: int | None) -> type[ApplicationError] | None:
        """What API.md › 6 says the activation answers, in its order of precedence."""
        if self.failures[caller] >= FAILURE_LIMIT:
            return InviteActivationThrottledError
        if self.referrer[caller] is not None:
            return InviteAlreadyActivatedError
        if owner is None:
            return InviteCodeNotFoundError
        if owner == caller:
            return InviteCodeOwnError
        if caller in [owner, *self.chain_above(owner)]:
            return InviteCycleError
        return None

    def unknown_code(self) -> str:
        return next(c for c in ("ZZZZZZ", "ZZZZZ0", "ZZZZZ1") if c not in self.code.values())

    @rule(target=users)
    def add_user(self) -> int:
        user = create_user(phone=next(PHONES))
        self.referrer[user.pk] = None
        self.code[user.pk] = user.invite_code
        self.failures[user.pk] = 0
        return user.pk

    @rule(
        caller=users,
        owner=st.one_of(users, st.just(UNKNOWN)),
        lower=st.booleans(),
        padded=st.booleans(),
    )
    def activate(self, caller: int, owner: Any, lower: bool, padded: bool) -> None:
        owner_id = None if owner == UNKNOWN else owner
        code = self.unknown_code() if owner_id is None else self.code[owner_id]
        code = code.lower() if lower else code
        code = f" {code} " if padded else code
        expected = self.expected(caller, owner_id)

        result = self.attempt(caller=caller, code=code)

        if isinstance(result, ApplicationError):
            assert type(result) is expected, f"expected {expected}, got {result!r}"
            if expected is InviteCodeNotFoundError:
                self.failures[caller] += 1
            if expected is InviteAlreadyActivatedError:
                referrer_code = self.code[self.referrer[caller]]  # type: ignore[index]
                assert result.message.endswith(f"invite code {referrer_code}.")
        else:
            assert expected is None, f"expected {expected}, got success"
            assert result.referred_by_id == owner_id
            self.referrer[caller] = owner_id

    @staticmethod
    def attempt(*, caller: int, code: str) -> User | ApplicationError:
        try:
            return invite_activate(
                user=User.objects.select_related("referred_by").get(pk=caller), code=code
            )
        except ApplicationError as error:
            return error

    @invariant()
    def database_matches_model(self) -> None:
        assert referrers() == self.referrer

    @invariant()
    def graph_is_sound(self) -> None:
        assert_referral_graph_is_sound()


def test_referral_graph_follows_the_model(settings: Any) -> None:
    settings.INVITE_ACTIVATE_FAILURES_PER_HOUR = FAILURE_LIMIT

    run_state_machine_as_test(
        ReferralGraph,
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )

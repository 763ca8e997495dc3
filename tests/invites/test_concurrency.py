"""Referral rules under real concurrency: threads, separate connections, real PostgreSQL and Redis.

Each race runs in several rounds (a lost race is likely, not certain, to show in one round), and
every test ends by checking the whole referral graph.
"""

import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from invites import services as invite_services
from invites.services import invite_activate
from referral_api.errors import ApplicationError, ServiceUnavailableError
from tests.concurrency import run_concurrently
from tests.factories import create_user
from tests.invites.graph import assert_referral_graph_is_sound, referrers
from users import managers as user_managers
from users.managers import INVITE_CODE_ATTEMPTS
from users.models import User
from users.services import user_sign_up
from users.sms import SmsMessage

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = range(8)


def load(pk: int) -> User:
    return User.objects.select_related("referred_by").get(pk=pk)


def outcome(result: Any) -> str:
    """A thread's result in one word: ok, the error code of a refusal, or the surprise itself."""
    if isinstance(result, User):
        return "ok"
    if isinstance(result, ApplicationError):
        return result.code
    return repr(result)


def activate_all(pairs: list[tuple[User, User]]) -> list[str]:
    """Every (caller, owner) activation at the same moment, each from a fresh load."""
    results = run_concurrently(
        len(pairs),
        lambda index: invite_activate(
            user=load(pairs[index][0].pk), code=pairs[index][1].invite_code
        ),
    )
    return [outcome(result) for result in results]


def activate_each(caller: User, owners: list[User]) -> list[Any]:
    """`caller` activates every owner's code at the same moment (service calls)."""
    return run_concurrently(
        len(owners),
        lambda index: invite_activate(user=load(caller.pk), code=owners[index].invite_code),
    )


def post_each(caller: User, owners: list[User]) -> list[tuple[int, str]]:
    """`caller` activates every owner's code at the same moment, one API client each."""

    def post(index: int) -> tuple[int, str]:
        client = APIClient()
        client.force_authenticate(user=load(caller.pk))
        response = client.post(
            reverse("invites:profile-activate-invite"), {"invite_code": owners[index].invite_code}
        )
        return response.status_code, response.json().get("code", "ok")

    return run_concurrently(len(owners), post)


@pytest.fixture
def users(make_user: Callable[..., User]) -> Callable[[int], list[User]]:
    return lambda count: [make_user() for _ in range(count)]


# ---------------------------------------------------------------- once per user


def test_invite_activate_ten_codes_at_once_exactly_one_wins(users) -> None:
    rounds = [users(11) for _ in ROUNDS]

    results = [activate_each(caller, owners) for caller, *owners in rounds]

    for (caller, *owners), got in zip(rounds, results, strict=True):
        assert Counter(map(outcome, got)) == {"ok": 1, "invite_already_activated": 9}
        winner = owners[next(i for i, result in enumerate(got) if outcome(result) == "ok")]
        assert load(caller.pk).referred_by == winner
        assert {o.pk: load(o.pk).referrals_count for o in owners} == {
            o.pk: int(o == winner) for o in owners
        }
        assert {r.message for r in got if outcome(r) != "ok"} == {
            f"You have already activated the invite code {winner.invite_code}."
        }
    assert_referral_graph_is_sound()


def test_activate_invite_api_ten_codes_at_once_exactly_one_wins(users) -> None:
    rounds = [users(11) for _ in ROUNDS]

    results = [post_each(caller, owners) for caller, *owners in rounds]

    for (_, *owners), got in zip(rounds, results, strict=True):
        assert Counter(got) == {(200, "ok"): 1, (409, "invite_already_activated"): 9}
        assert sum(load(o.pk).referrals_count for o in owners) == 1
    assert_referral_graph_is_sound()


def test_invite_activate_same_code_ten_times_at_once_counts_once(users) -> None:
    rounds = [users(2) for _ in ROUNDS]

    results = [activate_all([(caller, owner)] * 10) for caller, owner in rounds]

    for (_, owner), outcomes in zip(rounds, results, strict=True):
        assert Counter(outcomes) == {"ok": 1, "invite_already_activated": 9}
        assert load(owner.pk).referrals_count == 1
    assert_referral_graph_is_sound()


# ---------------------------------------------------------------- no cycles


def test_invite_activate_two_users_crossing_never_both_win(users) -> None:
    rounds = [users(2) for _ in ROUNDS]

    results = [activate_all([(a, b), (b, a)]) for a, b in rounds]

    assert [sorted(outcomes) for outcomes in results] == [["invite_cycle", "ok"]] * len(ROUNDS)
    assert_referral_graph_is_sound()


@pytest.mark.parametrize("length", [3, 4, 5])
def test_invite_activate_ring_at_once_leaves_exactly_one_edge_out(users, length: int) -> None:
    rings = [users(length) for _ in ROUNDS]

    # A activates B's code, B activates C's, …, and the last one activates A's.
    results = [activate_all([(r[i], r[(i + 1) % length]) for i in range(length)]) for r in rings]

    expected = ["invite_cycle"] + ["ok"] * (length - 1)
    assert [sorted(outcomes) for outcomes in results] == [expected] * len(ROUNDS)
    assert_referral_graph_is_sound()


def two_chains(users, refer, length: int) -> tuple[list[User], list[User]]:
    """Chains a[0] <- a[1] <- … and b[0] <- b[1] <- … (each activated the code above it)."""
    a, b = users(length), users(length)
    for chain in (a, b):
        for referrer, referral in itertools.pairwise(chain):
            refer(referral, referrer)
    return a, b


@pytest.mark.parametrize("length", [2, 3])
def test_invite_activate_ring_closed_onto_existing_chains_is_refused(
    users, refer, length: int
) -> None:
    # At once a[0] activates the last b's code and b[0] the last a's: a ring of 2 * length. The
    # two calls touch four different rows, so locking only caller and owner lets both win.
    rounds = [two_chains(users, refer, length) for _ in ROUNDS]

    results = [activate_all([(a[0], b[-1]), (b[0], a[-1])]) for a, b in rounds]

    assert [sorted(outcomes) for outcomes in results] == [["invite_cycle", "ok"]] * len(ROUNDS)
    assert_referral_graph_is_sound()


@pytest.fixture
def chains_read_together(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """`chains_read_together(n)`: each activation, once, waits right after reading the root of its
    owner's chain of referrers until n of them have: the worst interleaving for a cycle check,
    for sure. It only delays the real function; nothing is replaced."""

    def install(parties: int) -> None:
        barrier = threading.Barrier(parties)
        waited = threading.local()
        original = invite_services.referral_root_of

        def referral_root_of(*, user_id: int) -> int:
            root = original(user_id=user_id)
            if not getattr(waited, "once", False):
                waited.once = True
                barrier.wait(timeout=10)
            return root

        monkeypatch.setattr(invite_services, "referral_root_of", referral_root_of)

    return install


@pytest.mark.parametrize("length", [2, 3])
def test_invite_activate_ring_with_chains_read_before_any_lock_is_refused(
    users, refer, chains_read_together, length: int
) -> None:
    a, b = two_chains(users, refer, length)
    chains_read_together(2)

    outcomes = activate_all([(a[0], b[-1]), (b[0], a[-1])])

    assert sorted(outcomes) == ["invite_cycle", "ok"]
    assert_referral_graph_is_sound()


def crowd_activations(crowd: list[User], rng: random.Random) -> list[str]:
    """Every user not yet referred activates a random other's code, all at the same moment."""
    roots = [user for user in crowd if referrers()[user.pk] is None]
    return activate_all([(user, rng.choice([u for u in crowd if u != user])) for user in roots])


@pytest.mark.parametrize("seed", range(4))
def test_invite_activate_random_crowd_keeps_graph_acyclic(users, seed: int) -> None:
    rng = random.Random(seed)
    crowd = users(12)

    waves = [crowd_activations(crowd, rng) for _ in range(3)]

    assert {outcome for wave in waves for outcome in wave} <= {"ok", "invite_cycle"}
    assert "ok" in waves[0]
    assert_referral_graph_is_sound()


# ---------------------------------------------------------------- invite codes at sign-up


def draws(*codes: str) -> Callable[[], str]:
    """A stand-in for the random source that hands out `codes` in order, thread-safely."""
    pending: Iterator[str] = iter(codes)
    lock = threading.Lock()

    def draw() -> str:
        with lock:
            return next(pending)

    return draw


def test_user_create_drawn_code_taken_draws_again(
    make_user: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    taken = make_user()
    monkeypatch.setattr(user_managers, "generate_invite_code", draws(taken.invite_code, "FRESH1"))

    created = create_user(phone="+79994440001")

    assert created.invite_code == "FRESH1"
    # make bench counts these lines, by draw number, to show how full the code space is.
    assert caplog.messages == ["invite code collision at sign-up, draw 1; drawing another"]
    assert User.objects.get(phone="+79994440001").invite_code == "FRESH1"
    assert User.objects.filter(invite_code=taken.invite_code).get() == taken


def test_user_sign_up_codes_always_taken_gives_up_without_a_trace(
    make_user: Callable[..., User], owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = make_user()
    draw = draws(*[taken.invite_code] * (INVITE_CODE_ATTEMPTS + 1))
    monkeypatch.setattr(user_managers, "generate_invite_code", draw)

    with pytest.raises(ServiceUnavailableError):
        user_sign_up(phone="+79994440002", inviter=owner)

    assert not User.objects.filter(phone="+79994440002").exists()
    assert load(owner.pk).referrals_count == 0
    assert draw() == taken.invite_code  # exactly INVITE_CODE_ATTEMPTS draws were used


def sign_up_two_drawing_the_same_code(monkeypatch: pytest.MonkeyPatch, tag: int) -> list[Any]:
    same, fresh_a, fresh_b = f"SAME{tag:02d}", f"NEW{tag:02d}A", f"NEW{tag:02d}B"
    monkeypatch.setattr(user_managers, "generate_invite_code", draws(same, same, fresh_a, fresh_b))
    return run_concurrently(2, lambda index: create_user(phone=f"+799944410{tag}{index}"))


def test_user_create_two_sign_ups_drawing_the_same_code_both_succeed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = [sign_up_two_drawing_the_same_code(monkeypatch, tag) for tag in ROUNDS]

    assert [type(result) for pair in results for result in pair] == [User] * 2 * len(ROUNDS)
    codes = list(User.objects.values_list("invite_code", flat=True))
    assert len(set(codes)) == len(codes) == 2 * len(ROUNDS)
    assert {f"SAME{tag:02d}" for tag in ROUNDS} <= set(codes)


# ---------------------------------------------------------------- first logins


def first_logins(phones: list[str], outbox: list[SmsMessage], invite: str) -> list[Any]:
    """Codes requested one by one, then every phone verified at the same moment; every second
    login carries `invite`. Returns (status, body) per phone."""
    login_codes = []
    for phone in phones:
        response = APIClient().post(reverse("users:auth-request-code"), {"phone": phone})
        assert response.status_code == 200
        login_codes.append(outbox[-1].text.split()[-1])

    def verify(index: int) -> tuple[int, dict[str, Any]]:
        payload = {"phone": phones[index], "code": login_codes[index]}
        if index % 2:
            payload["invite_code"] = invite
        response = APIClient().post(reverse("users:auth-verify-code"), payload, format="json")
        return response.status_code, response.json()

    return run_concurrently(len(phones), verify)


def test_verify_code_fifty_first_logins_at_once_all_get_distinct_codes(
    settings: Any, outbox: list[SmsMessage], owner: User
) -> None:
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1000
    phones = [f"+79995550{index:03d}" for index in range(50)]

    results = first_logins(phones, outbox, owner.invite_code)

    assert [(status, body.get("is_new_user")) for status, body in results] == [(200, True)] * 50
    created = User.objects.filter(phone__in=phones)
    assert created.count() == 50
    assert len(set(created.values_list("invite_code", flat=True))) == 50
    # Every second login carried the owner's code: 25 increments of one counter at once.
    assert load(owner.pk).referrals_count == 25
    invited = created.filter(referred_by=owner).values_list("phone", flat=True)
    assert sorted(invited) == phones[1::2]
    assert_referral_graph_is_sound()


def test_verify_code_same_phone_twice_at_once_creates_one_user(
    settings: Any, outbox: list[SmsMessage]
) -> None:
    phone = "+79995559999"
    APIClient().post(reverse("users:auth-request-code"), {"phone": phone})
    code = outbox[-1].text.split()[-1]

    results = run_concurrently(
        2,
        lambda _: (
            APIClient()
            .post(reverse("users:auth-verify-code"), {"phone": phone, "code": code}, format="json")
            .status_code
        ),
    )

    assert sorted(results) == [200, 400]
    assert User.objects.filter(phone=phone).count() == 1

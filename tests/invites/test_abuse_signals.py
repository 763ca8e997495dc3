"""Referral abuse signals (API.md › Abuse signals): soft flags that hold a referral's rewards."""

import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from invites.services import invite_activate
from rewards.models import RewardEntry
from rewards.services import credit_due_rewards
from tests.concurrency import run_concurrently
from tests.factories import create_user, make_rule
from tests.invites.conftest import fresh
from tests.login import request_code, sent_code
from users.models import Sighting, User
from users.sightings import client_marks, sighting_record, sightings_prune

pytestmark = pytest.mark.django_db

OWNER_IP = "203.0.113.5"
OWNER_DEVICE = "owner-device-0001"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _rule() -> None:
    # Created before NOW: a referral takes the rule active at its own instant, and the wall
    # clock is past NOW from the day NOW was written.
    make_rule(
        referrer_amount=100, referee_amount=50, auto_credit_days=7, at=NOW - timedelta(days=1)
    )


@pytest.fixture
def seen_owner(make_user: Callable[..., User]) -> User:
    """A code owner who signed in from OWNER_IP with OWNER_DEVICE just now."""
    owner = make_user()
    sighting_record(user=owner, marks=client_marks(ip=OWNER_IP, device_id=OWNER_DEVICE), at=NOW)
    return owner


def activate(user: User, owner: User, **headers: Any) -> Any:
    client = APIClient()
    client.force_authenticate(user=fresh(user))
    return client.post(
        reverse("invites:profile-activate-invite"), {"invite_code": owner.invite_code}, **headers
    )


def verify_code(
    client: APIClient, phone: str, code: str, invite_code: str | None = None, **headers
):
    body = {"phone": phone, "code": code}
    if invite_code is not None:
        body["invite_code"] = invite_code
    return client.post(reverse("users:auth-verify-code"), body, **headers)


def signals_of(user: User) -> list[list[str]]:
    """The risk signals of the entries written for `user`'s referral (referrer, referee)."""
    entries = RewardEntry.objects.filter(referral=user).order_by("kind")
    return [entry.risk_signals for entry in entries]


def states_of(user: User) -> set[str]:
    return set(RewardEntry.objects.filter(referral=user).values_list("state", flat=True))


# ---------------------------------------------------------------- sightings


def test_verify_code_records_hmacs_of_the_ip_and_device(api_client, outbox):
    request_code(api_client, "+79990001111")

    response = verify_code(
        api_client,
        "+79990001111",
        sent_code(outbox, "+79990001111"),
        REMOTE_ADDR="198.51.100.23",
        HTTP_X_DEVICE_ID="phone-abc-123",
    )

    user = User.objects.get(phone="+79990001111")
    marks = client_marks(ip="198.51.100.23", device_id="phone-abc-123")
    assert response.status_code == 200
    assert set(Sighting.objects.filter(user=user).values_list("kind", "digest")) == {
        ("ip", marks.ip),
        ("device", marks.device),
    }


@pytest.mark.parametrize(
    "device_id",
    ["short", "seven77", "has space in it", "x" * 129, "ünïcode-device", "semi;colon1", ""],
)
def test_activate_invalid_device_id_is_ignored(seen_owner, make_user, device_id):
    user = make_user()

    with time_machine.travel(NOW, tick=False):
        response = activate(
            user, seen_owner, REMOTE_ADDR="198.51.100.1", HTTP_X_DEVICE_ID=device_id
        )

    assert response.status_code == 200
    assert signals_of(user) == [[], []]
    assert not Sighting.objects.filter(user=user, kind=Sighting.Kind.DEVICE).exists()


def test_device_id_pattern_accepts_its_edges():
    assert client_marks(ip="x", device_id="a" * 8).device is not None
    assert client_marks(ip="x", device_id="A.b_c-9" + "z" * 121).device is not None
    assert client_marks(ip="x", device_id="a" * 7).device is None


# ---------------------------------------------------------------- each signal


def test_same_device_fires_for_the_owners_device_only(seen_owner, make_user):
    flagged, clean = make_user(), make_user()

    with time_machine.travel(NOW, tick=False):
        activate(flagged, seen_owner, REMOTE_ADDR="198.51.100.1", HTTP_X_DEVICE_ID=OWNER_DEVICE)
        activate(clean, seen_owner, REMOTE_ADDR="198.51.100.2", HTTP_X_DEVICE_ID="another-dev-1")

    assert signals_of(flagged) == [["same_device"], ["same_device"]]
    assert states_of(flagged) == {"held"}
    assert signals_of(clean) == [[], []]
    assert states_of(clean) == {"pending"}


def test_same_ip_fires_for_the_owners_ip_only(seen_owner, make_user):
    flagged, clean = make_user(), make_user()

    with time_machine.travel(NOW, tick=False):
        activate(flagged, seen_owner, REMOTE_ADDR=OWNER_IP)
        activate(clean, seen_owner, REMOTE_ADDR="198.51.100.2")

    assert signals_of(flagged) == [["same_ip"], ["same_ip"]]
    assert signals_of(clean) == [[], []]


def test_same_ip_and_device_older_than_30_days_do_not_count(seen_owner, make_user):
    user = make_user()

    with time_machine.travel(NOW + timedelta(days=30, seconds=1), tick=False):
        activate(user, seen_owner, REMOTE_ADDR=OWNER_IP, HTTP_X_DEVICE_ID=OWNER_DEVICE)

    assert signals_of(user) == [[], []]


def test_same_ip_follows_the_trusted_proxy_hop(seen_owner, make_user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    behind_proxy, other_client = make_user(), make_user()

    with time_machine.travel(NOW, tick=False):
        # The proxy's own address is the same for both; the client's is the trusted hop.
        activate(behind_proxy, seen_owner, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=OWNER_IP)
        activate(
            other_client, seen_owner, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9"
        )

    assert signals_of(behind_proxy) == [["same_ip"], ["same_ip"]]
    assert signals_of(other_client) == [[], []]


def test_forwarded_for_is_ignored_without_trusted_proxies(seen_owner, make_user):
    spoofing = make_user()

    with time_machine.travel(NOW, tick=False):
        activate(spoofing, seen_owner, REMOTE_ADDR="198.51.100.3", HTTP_X_FORWARDED_FOR=OWNER_IP)

    assert signals_of(spoofing) == [[], []]


def test_velocity_fires_past_the_owners_hourly_referrals(make_user, settings):
    settings.REFERRALS_PER_OWNER_PER_HOUR = 3
    owner = make_user()
    users = [make_user() for _ in range(5)]

    with time_machine.travel(NOW, tick=False) as clock:
        for index, user in enumerate(users[:4]):
            activate(user, owner, REMOTE_ADDR=f"198.51.100.{index + 10}")
        clock.shift(3600)
        activate(users[4], owner, REMOTE_ADDR="198.51.100.20")

    # The third is at the threshold, the fourth one past it; an hour later the window is empty.
    assert [signals_of(user)[0] for user in users] == [[], [], [], ["velocity"], []]


def test_ip_burst_fires_past_the_ips_hourly_referrals(make_user, settings):
    settings.REFERRALS_PER_IP_PER_HOUR = 2
    owners = [make_user() for _ in range(3)]
    users = [make_user() for _ in range(3)]

    with time_machine.travel(NOW, tick=False):
        for owner, user in zip(owners, users, strict=True):
            activate(user, owner, REMOTE_ADDR="198.51.100.77")

    assert [signals_of(user)[0] for user in users] == [[], [], ["ip_burst"]]


def test_signals_combine(seen_owner, make_user, settings):
    settings.REFERRALS_PER_IP_PER_HOUR = 1
    settings.REFERRALS_PER_OWNER_PER_HOUR = 1
    first, second = make_user(), make_user()

    with time_machine.travel(NOW, tick=False):
        activate(first, seen_owner, REMOTE_ADDR=OWNER_IP, HTTP_X_DEVICE_ID=OWNER_DEVICE)
        activate(second, seen_owner, REMOTE_ADDR=OWNER_IP, HTTP_X_DEVICE_ID=OWNER_DEVICE)

    assert signals_of(first)[0] == ["same_device", "same_ip"]
    assert signals_of(second)[0] == ["same_device", "same_ip", "velocity", "ip_burst"]


def test_abuse_checks_off_flag_nothing_and_open_no_window(seen_owner, make_user, settings):
    settings.REFERRAL_ABUSE_CHECKS = False
    settings.REFERRALS_PER_IP_PER_HOUR = 1
    settings.REFERRALS_PER_OWNER_PER_HOUR = 1
    users = [make_user(), make_user()]

    with time_machine.travel(NOW, tick=False):
        for user in users:
            response = activate(
                user, seen_owner, REMOTE_ADDR=OWNER_IP, HTTP_X_DEVICE_ID=OWNER_DEVICE
            )
            assert response.status_code == 200, response.json()

    # Every signal would fire for the second (test_signals_combine); off, none does.
    assert [signals_of(user) for user in users] == [[[], []], [[], []]]
    assert {state for user in users for state in states_of(user)} == {"pending"}
    assert not list(get_redis_connection("default").scan_iter("referral:abuse:*"))
    # The sightings are still recorded: turned back on, the checks have their history.
    assert Sighting.objects.filter(user__in=users).count() == 4


def test_sign_up_with_invite_code_is_checked_too(api_client, outbox, seen_owner):
    with time_machine.travel(NOW + timedelta(seconds=1), tick=False):
        request_code(api_client, "+79990002222")
        response = verify_code(
            api_client,
            "+79990002222",
            sent_code(outbox, "+79990002222"),
            invite_code=seen_owner.invite_code,
            REMOTE_ADDR=OWNER_IP,
        )

    created = User.objects.get(phone="+79990002222")
    assert response.status_code == 200
    assert signals_of(created) == [["same_ip"], ["same_ip"]]


def test_flagged_referral_still_counts_everywhere(
    seen_owner, make_user, django_capture_on_commit_callbacks
):
    user = make_user()

    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        activate(user, seen_owner, REMOTE_ADDR=OWNER_IP)

    assert fresh(seen_owner).referrals_count == 1
    assert fresh(user).referred_by_id == seen_owner.pk
    call_command("check_rewards")  # raises when a counter disagrees


# ---------------------------------------------------------------- held entries


def test_held_entries_survive_credit_due_rewards_and_show_as_pending(seen_owner, make_user):
    user = make_user()
    with time_machine.travel(NOW, tick=False):
        activate(user, seen_owner, REMOTE_ADDR=OWNER_IP)
    held = RewardEntry.objects.get(referral=user, kind="referrer")

    credited = credit_due_rewards(now=NOW + timedelta(days=400))

    client = APIClient()
    client.force_authenticate(user=fresh(seen_owner))
    entries = client.get(reverse("rewards:rewards-list")).json()["results"]
    balance = client.get(reverse("rewards:rewards-balance")).json()
    assert credited == 0
    assert RewardEntry.objects.get(pk=held.pk).state == "held"
    assert held.credit_due_at is None
    assert [entry["state"] for entry in entries] == ["pending"]
    assert balance == {
        "balances": [{"unit": "points", "pending": 100, "credited": 0, "reversed": 0}]
    }


def test_staff_review_lists_credits_and_reverses_held_entries(seen_owner, make_user, staff_client):
    flagged = [make_user(), make_user()]
    with time_machine.travel(NOW, tick=False):
        for user in flagged:
            activate(user, seen_owner, REMOTE_ADDR=OWNER_IP)
    credit_id, reverse_id = (
        RewardEntry.objects.get(referral=user, kind="referrer").pk for user in flagged
    )

    queue = staff_client.get(reverse("rewards:staff-rewards-list"), {"state": "held"}).json()
    credited = staff_client.post(reverse("rewards:staff-rewards-credit", args=[credit_id]))
    reversed_ = staff_client.post(
        reverse("rewards:staff-rewards-reverse", args=[reverse_id]), {"reason": "same person"}
    )

    assert {entry["id"] for entry in queue["results"]} >= {credit_id, reverse_id}
    assert {tuple(entry["risk_signals"]) for entry in queue["results"]} == {("same_ip",)}
    assert credited.status_code == 200
    assert credited.json()["state"] == "credited"
    assert reversed_.status_code == 200
    assert reversed_.json()["state"] == "reversed"


# ---------------------------------------------------------------- nothing raw stored


def test_raw_ip_and_device_id_reach_neither_the_database_nor_the_logs(
    api_client, outbox, seen_owner, caplog, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    raw_ip, raw_device = "192.0.2.234", "raw-device-id-7f3k"
    caplog.set_level(logging.DEBUG)
    request_code(api_client, "+79990003333", HTTP_X_FORWARDED_FOR=raw_ip)
    verify_code(
        api_client,
        "+79990003333",
        sent_code(outbox, "+79990003333"),
        invite_code=seen_owner.invite_code,
        HTTP_X_FORWARDED_FOR=raw_ip,
        HTTP_X_DEVICE_ID=raw_device,
    )
    user = User.objects.get(phone="+79990003333")
    other = create_user()
    activate(other, user, HTTP_X_FORWARDED_FOR=raw_ip, HTTP_X_DEVICE_ID=raw_device)

    dump = json.dumps(json.loads(_dumpdata()), default=str)  # every row of every table, as text
    assert Sighting.objects.filter(user=user).count() == 2  # something was recorded
    assert raw_ip not in dump
    assert raw_device not in dump
    assert raw_ip not in caplog.text
    assert raw_device not in caplog.text


def _dumpdata() -> str:
    from io import StringIO

    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


# ---------------------------------------------------------------- pruning


def test_prune_sightings_deletes_only_those_older_than_30_days(make_user):
    user = make_user()
    old, recent = (
        client_marks(ip="198.51.100.1", device_id=None),
        client_marks(ip="198.51.100.2", device_id=None),
    )
    sighting_record(user=user, marks=old, at=NOW - timedelta(days=30, seconds=1))
    sighting_record(user=user, marks=recent, at=NOW - timedelta(days=29))

    first = sightings_prune(now=NOW)
    second = sightings_prune(now=NOW)

    assert (first, second) == (1, 0)
    assert list(Sighting.objects.values_list("digest", flat=True)) == [recent.ip]


def test_prune_sightings_command_says_what_it_did(make_user, capsys):
    user = make_user()
    sighting_record(
        user=user,
        marks=client_marks(ip="198.51.100.1", device_id=None),
        at=datetime.now(UTC) - timedelta(days=31),
    )

    call_command("prune_sightings")

    assert capsys.readouterr().out == "deleted 1 sightings older than 30 days\n"


# ---------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_referrals_from_one_ip_hold_exactly_those_past_the_windows(
    settings,
):
    make_rule(referrer_amount=100, referee_amount=50, auto_credit_days=7)
    settings.REFERRALS_PER_IP_PER_HOUR = 10
    settings.REFERRALS_PER_OWNER_PER_HOUR = 15
    owner = create_user()
    users = [create_user() for _ in range(20)]
    marks = client_marks(ip="198.51.100.200", device_id=None)

    results = run_concurrently(
        20,
        lambda index: invite_activate(
            user=User.objects.get(pk=users[index].pk), code=owner.invite_code, marks=marks
        ),
    )

    assert all(isinstance(result, User) for result in results), results
    referrer_entries = RewardEntry.objects.filter(user=owner, kind="referrer")
    by_signals = Counter(tuple(entry.risk_signals) for entry in referrer_entries)
    assert by_signals == {(): 10, ("ip_burst",): 5, ("velocity", "ip_burst"): 5}
    assert Counter(referrer_entries.values_list("state", flat=True)) == {"pending": 10, "held": 10}
    assert User.objects.get(pk=owner.pk).referrals_count == 20
    call_command("check_rewards")

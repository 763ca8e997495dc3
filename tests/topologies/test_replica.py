"""A streaming replica (pg_basebackup, scripts/topologies.sh start postgres) behind the database
router (referral_api.db_router): which reads it takes, which stay on the primary, and what
happens when it goes away.

Pausing the replica's replay makes it lag for as long as a test needs: a read that shows a write
made during the pause came from the primary, one that misses it came from the replica.
"""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections
from django.urls import reverse
from rest_framework.test import APIClient

from tests.login import bearer, log_in
from tests.topologies.plugin import record_figure
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

PROJECT = Path(__file__).resolve().parents[2]
CAUGHT_UP_SECONDS = 30


def _on_replica(sql: str) -> object:
    settings = connections["replica"].settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as replica:
        row = replica.execute(sql).fetchone()
    return row[0] if row else None


def _replica_caught_up() -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (written,) = cursor.fetchone()
    deadline = time.monotonic() + CAUGHT_UP_SECONDS
    while not _on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn"):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.01)


@pytest.fixture
def lagging_replica() -> Iterator[None]:
    """The replica stops replaying until the test ends: it shows the data as it is now."""
    _replica_caught_up()
    _on_replica("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        _on_replica("SELECT pg_wal_replay_resume()")
        _replica_caught_up()


@pytest.fixture
def stopped_replica() -> Iterator[None]:
    topology = os.environ["TOPOLOGY_DIR"]
    script = str(PROJECT / "scripts" / "topologies.sh")
    subprocess.run(["bash", script, "replica-stop", topology], check=True)
    try:
        yield
    finally:
        subprocess.run(["bash", script, "replica-start", topology], check=True)


def _signed_in(outbox, phone: str) -> tuple[APIClient, dict]:
    client = APIClient()
    body = log_in(client, outbox, phone)
    client.credentials(**bearer(body["access"]))
    return client, body["user"]


def _activate(client: APIClient, code: str):
    return client.post(reverse("invites:profile-activate-invite"), {"invite_code": code})


def _referral_phones(client: APIClient) -> list[str]:
    response = client.get(reverse("invites:profile-referrals"))
    assert response.status_code == 200
    return [row["phone"] for row in response.json()["results"]]


def _today_in_stats(client: APIClient) -> int:
    response = client.get(reverse("invites:profile-stats"))
    assert response.status_code == 200
    return int(response.json()["timeline"][-1]["referrals"])


def _leaderboard_phones(client: APIClient) -> list[str]:
    response = client.get(reverse("invites:leaderboard-list"), {"period": "all"})
    assert response.status_code == 200
    return [row["phone"] for row in response.json()["results"]]


def test_replica_lag_tolerant_reads_come_from_the_replica(outbox, lagging_replica):
    owner, owner_body = _signed_in(outbox, "+79990000001")
    invited, _ = _signed_in(outbox, "+79990000002")

    assert _activate(invited, owner_body["invite_code"]).status_code == 200

    # The new user signed in and authenticates (the primary) while the replica lags...
    assert User.objects.get(phone="+79990000001").referrals_count == 1
    # ...and the reads that tolerate lag do not see the referral yet.
    assert _referral_phones(owner) == []
    assert _today_in_stats(owner) == 0
    # The leaderboard is Redis's, fed after the commit with the owner's masked phone beside the
    # standing: no database read, so no lag either.
    assert _leaderboard_phones(owner) == ["+7********01"]


def test_replica_lag_tolerant_reads_see_writes_once_replayed(outbox):
    owner, owner_body = _signed_in(outbox, "+79990000001")
    invited, _ = _signed_in(outbox, "+79990000002")
    assert _activate(invited, owner_body["invite_code"]).status_code == 200

    _replica_caught_up()

    # In one of five runs the read right after the replay check still missed the referral (its
    # cause not found: the LSN compared is the primary's write position, the read is a pooled
    # standby connection). Lag-tolerant means "sees it soon", so it gets the replay's bound.
    deadline = time.monotonic() + CAUGHT_UP_SECONDS
    while not _referral_phones(owner) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _referral_phones(owner) == ["+79990000002"]
    assert _today_in_stats(owner) == 1
    assert _leaderboard_phones(owner) == ["+7********01"]


def test_replica_profile_and_activation_read_the_primary(outbox, lagging_replica):
    owner, owner_body = _signed_in(outbox, "+79990000001")
    invited, _ = _signed_in(outbox, "+79990000002")

    activated = _activate(invited, owner_body["invite_code"])
    profile = invited.get(reverse("invites:profile-detail"))
    again = _activate(owner, owner_body["invite_code"])

    assert activated.status_code == 200
    assert profile.status_code == 200
    assert profile.json()["activated_invite_code"] == owner_body["invite_code"]
    # The activation's own checks see the primary: the owner's own code, and a second try.
    assert again.status_code == 400
    assert _activate(invited, owner_body["invite_code"]).status_code == 409


def test_replica_down_lag_tolerant_reads_fall_back_to_the_primary(outbox, stopped_replica):
    owner, owner_body = _signed_in(outbox, "+79990000001")
    invited, _ = _signed_in(outbox, "+79990000002")
    assert _activate(invited, owner_body["invite_code"]).status_code == 200

    started = time.monotonic()
    phones = _referral_phones(owner)
    first_read = time.monotonic() - started

    assert phones == ["+79990000002"]  # from the primary: no lag there
    assert _today_in_stats(owner) == 1
    assert _leaderboard_phones(owner) == ["+7********01"]
    # One short wait for the replica's pool (DJANGO_DB_REPLICA_TIMEOUT), then none.
    record_figure(f"replica stopped: the first lag-tolerant read answered in {first_read:.2f} s")
    assert first_read < 5

"""The replica router (referral_api.db_router): which database a read goes to. The real replica's
tests are tests/topologies/test_replica.py; these pin the rules without one."""

import pytest
from django.db import OperationalError

from referral_api import db_router
from referral_api.db_router import ReplicaRouter, replica_reads
from users.models import User

router = ReplicaRouter()


@pytest.fixture
def replica(monkeypatch):
    monkeypatch.setattr(db_router, "replica_configured", lambda: True)
    monkeypatch.setattr(db_router, "_replica_down_until", 0.0)


def test_replica_router_without_a_replica_reads_the_primary_everywhere():
    marked = replica_reads(lambda: router.db_for_read(User))

    assert marked() is None  # Django's default: the primary
    assert router.db_for_read(User) is None


def test_replica_router_reads_the_replica_only_inside_marked_reads(replica):
    marked = replica_reads(lambda: router.db_for_read(User))

    assert marked() == "replica"
    assert router.db_for_read(User) is None


def test_replica_router_writes_always_go_to_the_primary(replica):
    marked = replica_reads(lambda: router.db_for_write(User))

    assert marked() == "default"
    assert router.allow_migrate("replica", "users") is False
    assert router.allow_migrate("default", "users") is True


def test_replica_reads_failing_replica_answer_from_the_primary_and_skip_it_for_a_while(replica):
    reads: list[str | None] = []

    @replica_reads
    def action() -> str:
        database = router.db_for_read(User)
        reads.append(database)
        if database == "replica":
            raise OperationalError("the replica is down")
        return "answered"

    assert action() == "answered"
    assert action() == "answered"
    assert reads == ["replica", None, None]

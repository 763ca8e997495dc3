"""Redis behind Sentinel (scripts/topologies.sh start sentinel): a primary, a replica, three
sentinels. The primary is killed while clients log in; the app follows the failover by itself."""

import os
import signal

import pytest
import redis
from django.conf import settings
from redis.sentinel import Sentinel, SentinelConnectionPool

from referral_api import redis_store
from tests.login import log_in
from tests.topologies.failover import run_failover
from tests.topologies.plugin import record_figure

pytestmark = pytest.mark.django_db(transaction=True)


def _sentinel() -> Sentinel:
    return Sentinel(settings.REDIS_SENTINELS, socket_timeout=1)


def _node(address: tuple[str, int]) -> redis.Redis:
    return redis.Redis(host=address[0], port=address[1], socket_timeout=1)


def test_sentinel_client_reaches_the_primary_through_the_sentinels(api_client, outbox):
    primary = _sentinel().discover_master(settings.REDIS_SENTINEL_MASTER)

    log_in(api_client, outbox)

    assert isinstance(redis_store.connection().connection_pool, SentinelConnectionPool)
    assert _node(primary).info("keyspace") != {}  # the login's keys are on the primary


def test_sentinel_primary_killed_logins_fail_over_without_a_restart(outbox):
    sentinel = _sentinel()
    old_primary = sentinel.discover_master(settings.REDIS_SENTINEL_MASTER)
    (replica_address,) = sentinel.discover_slaves(settings.REDIS_SENTINEL_MASTER)
    replica = _node(replica_address)

    def kill_primary() -> None:
        # Scripts are replicated as their effects: the replica has none of them cached.
        assert replica.info("memory")["number_of_cached_scripts"] == 0
        assert _node(old_primary).info("memory")["number_of_cached_scripts"] > 0
        os.kill(_node(old_primary).info("server")["process_id"], signal.SIGKILL)

    report = run_failover(outbox, kill_primary)

    record_figure(report.line("sentinel"))
    assert report.violations == []
    assert report.window_seconds < 30
    assert report.logins_after >= 10
    assert sentinel.discover_master(settings.REDIS_SENTINEL_MASTER) == replica_address
    # The new primary answered NOSCRIPT and the client loaded the scripts there (EVALSHA, then
    # SCRIPT LOAD and EVALSHA again).
    assert replica.info("errorstats")["errorstat_NOSCRIPT"]["count"] >= 1
    assert replica.info("memory")["number_of_cached_scripts"] >= 1

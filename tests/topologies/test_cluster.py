"""Redis Cluster (scripts/topologies.sh start cluster): three primaries, three replicas. The suites
of the limits run against it too; here, the keys spread over the primaries, and a primary is
killed while clients log in."""

import os
import signal
import time

import pytest
import redis
from redis.cluster import RedisCluster

from referral_api import redis_store
from tests.login import log_in
from tests.redis_keys import stored_keys
from tests.topologies.failover import run_failover
from tests.topologies.plugin import record_figure

pytestmark = pytest.mark.django_db(transaction=True)

# The phones of run_failover's logins start with +7990: this one's slot decides the node killed.
KILLED_FOR = "referral:otp:{+79900000000}:sends"


def _cluster() -> RedisCluster:
    client = redis_store.connection()
    assert isinstance(client, RedisCluster)
    return client


def _primary_and_replica(cluster: RedisCluster, slot: int) -> list:
    """The slot's primary and its replica as the cluster announces them. A replica shows up in
    CLUSTER SLOTS a moment after it attaches, which can be after the cluster reports ok (a CI
    run read the slot with its primary alone): ask again for up to 15 s."""
    deadline = time.monotonic() + 15
    nodes = cluster.nodes_manager.slots_cache[slot]
    while len(nodes) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        cluster.nodes_manager.initialize()
        nodes = cluster.nodes_manager.slots_cache[slot]
    return nodes


def _node(host: str, port: int) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=1)


def test_cluster_logins_spread_their_keys_over_the_primaries(api_client, outbox):
    for number in range(20):
        log_in(api_client, outbox, f"+7999000{number:04d}")

    holding = [
        node.name for node in _cluster().get_primaries() if _node(node.host, node.port).dbsize() > 0
    ]
    assert len(holding) == 3


def test_cluster_stored_keys_reads_every_primary():
    # One key in a slot of each primary: KEYS, sent to one node, misses some of them, so an
    # assertion that nothing is stored must read every primary (tests/redis_keys.py).
    cluster = _cluster()
    primaries = cluster.get_primaries()
    keys: dict[str, str] = {}
    for number in range(1000):
        key = f"referral:probe:{{{number}}}"
        owner = cluster.get_node_from_key(key)
        assert owner is not None
        keys.setdefault(owner.name, key)
        if len(keys) == len(primaries):
            break
    for key in keys.values():
        cluster.set(key, "1")

    assert stored_keys() == sorted(keys.values())
    assert len(cluster.keys("*")) < len(primaries)  # what the old assertion read


def test_cluster_primary_killed_logins_fail_over_without_a_restart(outbox):
    cluster = _cluster()
    slot = cluster.keyslot(KILLED_FOR)
    primary, replica_node = _primary_and_replica(cluster, slot)[:2]
    replica = _node(replica_node.host, replica_node.port)

    def kill_primary() -> None:
        # Scripts are replicated as their effects: the replica has none of them cached.
        assert replica.info("memory")["number_of_cached_scripts"] == 0
        old = _node(primary.host, primary.port)
        assert old.info("memory")["number_of_cached_scripts"] > 0
        os.kill(old.info("server")["process_id"], signal.SIGKILL)

    report = run_failover(outbox, kill_primary)

    record_figure(report.line("cluster"))
    assert report.violations == []
    assert report.window_seconds < 30
    assert report.logins_after >= 10
    assert replica.info("replication")["role"] == "master"
    assert cluster.get_node_from_key(KILLED_FOR).name == replica_node.name
    # The promoted replica answered NOSCRIPT and the client loaded the scripts there.
    assert replica.info("errorstats")["errorstat_NOSCRIPT"]["count"] >= 1
    assert replica.info("memory")["number_of_cached_scripts"] >= 1

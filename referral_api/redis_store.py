"""The Redis boundary: the connection, its probe, the script runner and the shared Lua pieces.

OTP storage (`users/otp.py`), the invite-activation limit (`invites/limits.py`), the abuse
windows, the leaderboards and the readiness probe reach Redis only through here, so the clock,
the script cache and the rolling-window arithmetic exist once.

Three topologies (API.md › Configuration, docs/scaling.md): one Redis (`REDIS_URL`), a primary
with replicas behind Sentinel (`REDIS_SENTINELS`: django-redis's Sentinel client follows a
failover) and Redis Cluster (`REDIS_CLUSTER`: redis-py's `RedisCluster`, which django-redis has no
client for). Every script keeps its keys in one hash slot, so each runs whole on one node.
"""

import logging
import time
from functools import cache
from typing import Any

from django.conf import settings
from django_redis import get_redis_connection
from django_redis.pool import ConnectionFactory
from redis import Redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import AskError, ConnectionError, NoScriptError, TimeoutError

logger = logging.getLogger(__name__)

# What `connection()` returns: a client of one Redis (directly or through Sentinel) or of a
# Redis Cluster. Both speak the same commands; a cluster routes each key to its slot's node.
RedisClient = Redis | RedisCluster

# Lua: milliseconds until the window holds fewer than `limit` events newer than now - window,
# when the event that frees a slot leaves it. Counts and ranks only, O(log n): a window may hold
# thousands of events (one IP address behind a NAT), and Redis runs one script at a time.
WINDOW_WAIT_LUA = """
local function wait_for(key, now, window, limit)
  local count = redis.call('ZCOUNT', key, '(' .. (now - window), '+inf')
  if count < limit then return 0 end
  local rank = redis.call('ZCOUNT', key, '-inf', now - window) + count - limit
  local freeing = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
  return tonumber(freeing[2]) + window - now
end
"""

# How long a limit's write waits for a replica to hold it (see `run_script(durable=True)`), and
# how long a primary whose replicas did not answer in time is written to without waiting.
REPLICA_ACK_TIMEOUT_MS = 100
UNREPLICATED_RECHECK_SECONDS = 5.0
_unreplicated_until: dict[str, float] = {}


class ClusterConnectionFactory(ConnectionFactory):
    """django-redis's connection factory for `REDIS_CLUSTER`: one `RedisCluster` per URL.

    The cluster client keeps a pool per node and follows slot moves and failovers itself, so
    `get_redis_connection("default")` (and `connection()`) hand out the same thread-safe client.
    """

    _clusters: dict[str, RedisCluster] = {}

    def connect(self, url: str) -> RedisCluster:
        cluster = self._clusters.get(url)
        if cluster is None:
            params = self.make_connection_params(url)
            params.pop("url")
            params.pop("parser_class", None)
            cluster = self._clusters.setdefault(url, RedisCluster.from_url(url, **params))
        return cluster

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()


def connection() -> RedisClient:
    """The shared client of the `default` cache (django-redis keeps its connection pool)."""
    client: RedisClient = get_redis_connection("default")
    return client


def now_ms() -> int:
    """The application's clock in milliseconds: scripts get the time from here, not from Redis,
    so windows and expiries follow the same clock as the rest of the code (and the tests')."""
    return int(time.time() * 1000)


@cache
def _script(source: str) -> Script:
    # The Script object only keeps the source and its SHA; the client is passed on each call.
    return connection().register_script(source)


def run_script(
    source: str, *, keys: list[str], args: list[str | int], durable: bool = False
) -> Any:
    """Run a Lua script (EVALSHA, falling back to EVAL); returns what the script returns.

    All `keys` must share one hash slot (a `{tag}`), or a cluster refuses the script.
    `durable`: the script's writes consume a limit or a code, so on a topology that fails over
    (Sentinel, Cluster) the answer waits until a replica holds them: a failover right after
    cannot lose a counted send, a counted failure or a consumed code (docs/scaling.md).
    """
    client = connection()
    if durable and settings.REDIS_FAILS_OVER:
        return _run_acknowledged(client, _script(source), keys, args)
    return _script(source)(keys=keys, args=args, client=client)


def _node_client(client: RedisClient, key: str) -> tuple[Redis, str]:
    """The client of the primary that owns `key`, and that primary's name."""
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(key)
        return client.get_redis_connection(node), node.name
    return client, "primary"


def _run_acknowledged(client: RedisClient, script: Script, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA then WAIT on the same connection: WAIT covers that connection's writes only.

    A primary whose replicas do not acknowledge within REPLICA_ACK_TIMEOUT_MS (none left after a
    failover, or all down) is written to without waiting for a few seconds, then tried again:
    there is then no replica that a failover could promote with older data.
    """
    for attempt in (1, 2):
        node, name = _node_client(client, keys[0])
        wait = time.monotonic() >= _unreplicated_until.get(name, 0.0)
        try:
            with node.pipeline(transaction=False) as pipe:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
                if wait:
                    pipe.wait(1, REPLICA_ACK_TIMEOUT_MS)
                replies = pipe.execute()
        except NoScriptError:
            # A primary that never ran the script: a new one after a failover, or a restart.
            node.script_load(script.script)
            continue
        except (AskError, ConnectionError, TimeoutError):
            # The slot moved (MOVED is an AskError) or its node is gone: learn the new layout
            # for the next request. Another node may have the slot now, so try once more.
            if isinstance(client, RedisCluster) and attempt == 1:
                client.nodes_manager.initialize()
                continue
            raise
        if wait and replies[1] < 1:
            _unreplicated_until[name] = time.monotonic() + UNREPLICATED_RECHECK_SECONDS
            logger.warning("no replica of Redis primary %s acknowledged a limit's write", name)
        return replies[0]
    # Only a second NOSCRIPT right after loading the script (a failover in between) gets here.
    return _script(script.script)(keys=keys, args=args, client=client)


def ping() -> bool:
    return bool(connection().ping())

"""What Redis holds, read from every node that holds data.

On a Redis Cluster, `KEYS` goes to one node (redis-py sends it to its default node), so an
assertion that nothing was stored would pass whatever the other primaries hold. `SCAN` goes to
every primary and `scan_iter` follows each node's cursor; on one Redis it is the plain scan.
"""

from django_redis import get_redis_connection


def stored_keys(pattern: str = "*") -> list[str]:
    """Every key matching `pattern`, from every primary, sorted."""
    client = get_redis_connection("default")
    return sorted(
        key.decode() if isinstance(key, bytes) else key for key in client.scan_iter(match=pattern)
    )

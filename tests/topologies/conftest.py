"""The tests of a real topology that `scripts/topologies.sh test` started and named in TOPOLOGY.

Each module acts on its topology (kills a Redis primary, stops the replica), so only the one
named is collected; the main suite (one Redis, one PostgreSQL) collects none of them.
"""

import os

_MODULES = ("test_sentinel.py", "test_cluster.py", "test_pgbouncer.py", "test_replica.py")
collect_ignore = [
    module for module in _MODULES if module != f"test_{os.environ.get('TOPOLOGY', '')}.py"
]

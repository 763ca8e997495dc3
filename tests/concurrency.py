"""Threads released together, for races against the real PostgreSQL and Redis."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

# The most threads a race may release: tests/conftest.py sizes the database pool to it.
CONCURRENCY_LIMIT = 50


def run_concurrently(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; returns results or exceptions."""
    if count > CONCURRENCY_LIMIT:
        raise ValueError(f"{count} threads: the database pool holds {CONCURRENCY_LIMIT}")
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results

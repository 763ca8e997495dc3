"""The race harness (tests/concurrency.py) and the database pool it relies on."""

import pytest
from django.db import connection

from tests.concurrency import CONCURRENCY_LIMIT, run_concurrently


@pytest.mark.django_db(transaction=True)
def test_the_pool_holds_a_connection_for_every_thread_a_race_may_release():
    connection.ensure_connection()

    assert connection.pool.max_size >= CONCURRENCY_LIMIT


def test_a_race_larger_than_the_pool_is_refused_up_front():
    with pytest.raises(ValueError, match="database pool"):
        run_concurrently(CONCURRENCY_LIMIT + 1, lambda index: index)

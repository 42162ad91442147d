"""Crash safety with real worker processes: a SIGKILLed worker and a restarted Redis lose nothing.

Workers are ``celery -A portal worker`` subprocesses pointed at this run's test database and at a
queue of their own; the test process plays beat by calling the reconciler until the execution ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from orchestrator.executor import control, walker
from orchestrator.flowmodel import spec
from orchestrator.state.models import TERMINAL, Execution, LogLine, State, TaskRun
from orchestrator.worker import reconciler
from portal.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

FLOW = """
id: crashy
namespace: portico.crash
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: before the nap
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the nap
"""
LEASE = timedelta(seconds=1.5)
STALE = timedelta(seconds=1)
OUTAGE = timedelta(seconds=3)


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _until(
    predicate: Callable[[], Any], timeout: float, what: str, every: Callable[[], Any] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        if every is not None:
            every()
        time.sleep(0.1)


@contextmanager
def _using_broker(url: str, queue: str) -> Iterator[None]:
    """Send this process's messages to ``url``/``queue`` (the in-process test worker never sees them)."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_default_queue, celery_app._pool, celery_app.amqp._producer_pool
    conf.broker_url, conf.task_default_queue = url, queue  # the queue is read at every send
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        conf.broker_url, conf.task_default_queue, celery_app._pool, celery_app.amqp._producer_pool = saved


class Workers:
    """``celery -A portal worker`` subprocesses (solo pool: the task runs in the process we kill)."""

    def __init__(self, broker: str, queue: str, logs: Path) -> None:
        self.broker, self.queue, self.logs = broker, queue, logs
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": self.broker,
            "PORTICO_QUEUE": self.queue,
            "PORTICO_HEARTBEAT_SECONDS": "0.3",
            "PORTICO_TASK_LEASE_SECONDS": str(LEASE.total_seconds()),
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "-Q",
            self.queue,
            "-n",
            f"{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    name = f"portico-crash-{uuid.uuid4().hex[:8]}"
    yield name


def _run(execution: Execution, task_id: str) -> TaskRun | None:
    return TaskRun.objects.filter(execution=execution, task_id=task_id).first()


def _reconcile() -> None:
    reconciler.reconcile(lease=LEASE, stale_after=STALE)


def _finished(execution: Execution) -> bool:
    execution.refresh_from_db()
    return execution.state in TERMINAL


def _assert_ran_once_each(execution: Execution) -> None:
    messages = list(
        LogLine.objects.filter(execution=execution, level="INFO").values_list("message", flat=True)
    )
    assert messages.count("before the nap") == 1
    assert messages.count("after the nap") == 1
    for run in execution.task_runs.all():
        assert [h["state"] for h in run.history].count(State.SUCCESS) == 1, run.history


def test_it_finishes_a_task_whose_worker_was_sigkilled(redis_url: str, queue: str, tmp_path: Path) -> None:
    workers = Workers(redis_url, queue, tmp_path)
    try:
        with _using_broker(redis_url, queue):
            first = workers.start("doomed")
            execution = walker.start_execution(spec.parse_flow(FLOW, file="crashy.yml"), {})
            nap = _until(
                lambda: (r := _run(execution, "nap")) is not None and r.state == State.RUNNING and r,
                30,
                "the nap to start on the first worker",
            )
            assert nap.worker.startswith("doomed-")
            workers.kill(first)
            workers.start("rescuer")
            _until(
                lambda: _finished(execution), 40, "the execution to end after the rescue", every=_reconcile
            )
        assert execution.state == State.SUCCESS
        nap.refresh_from_db()
        assert nap.attempts == 2
        states = [h["state"] for h in nap.history]
        assert states == ["CREATED", "RUNNING", "RETRYING", "QUEUED", "RUNNING", "SUCCESS"]
        assert nap.worker.startswith("rescuer-")
        _assert_ran_once_each(execution)
    finally:
        workers.stop_all()
        client = redis.Redis.from_url(redis_url.replace("redis+socket://", "unix://"))
        client.delete(queue)
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private, non-persistent redis-server on a free port, restartable on the same port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            _until(lambda: self._ping(client), 10, "redis-server to answer")
        finally:
            client.close()

    @staticmethod
    def _ping(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_it_completes_a_flow_across_a_redis_restart(queue: str, tmp_path: Path) -> None:
    server = RedisServer()
    server.start()
    workers = Workers(server.url, queue, tmp_path)
    try:
        with _using_broker(server.url, queue):
            workers.start("steady")
            execution = walker.start_execution(spec.parse_flow(FLOW, file="crashy.yml"), {})
            _until(
                lambda: (r := _run(execution, "nap")) is not None and r.state == State.RUNNING,
                30,
                "the nap to start",
            )
            server.stop()  # everything in Redis is gone: the nap's message, and no broker to dispatch to
            # The nap ends while Redis is down, so dispatching "after" fails after commit.
            after = _until(lambda: _run(execution, "after"), 15, "the nap to end during the outage")
            # Stay down until the worker has given up publishing "after" (its dispatch is lost).
            _until(lambda: timezone.now() - after.created > OUTAGE, 15, "the outage to last")
            server.start()
            # kombu sometimes gives up on a lost broker with "Unrecoverable error" and the worker process
            # exits; in production its supervisor starts it again (compose: restart: unless-stopped).
            # Do the same, so what is tested is Portico's recovery, not kombu's reconnect.
            def supervise() -> None:
                if all(proc.poll() is not None for proc in workers.procs):
                    workers.start(f"steady-restarted-{len(workers.procs)}")
                _reconcile()

            _until(lambda: _finished(execution), 90, "the execution to end after a restart", every=supervise)
        assert execution.state == State.SUCCESS
        _assert_ran_once_each(execution)
    finally:
        workers.stop_all()
        server.stop()


def _cleanup(workers: Workers, redis_url: str, queue: str) -> None:
    workers.stop_all()
    client = redis.Redis.from_url(redis_url.replace("redis+socket://", "unix://"))
    client.delete(queue)
    client.close()


RETRYING_FLOW = """
id: crashy-retrying
namespace: portico.crash
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        retry: {type: constant, interval: PT1M, maxAttempt: 2}
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT3S
"""


def test_it_rescues_a_run_of_a_retrying_execution(redis_url: str, queue: str, tmp_path: Path) -> None:
    """One branch waits for its retry (the execution is RETRYING) while the other's worker dies."""
    workers = Workers(redis_url, queue, tmp_path)
    try:
        with _using_broker(redis_url, queue):
            first = workers.start("doomed")
            execution = walker.start_execution(spec.parse_flow(RETRYING_FLOW, file="crashy.yml"), {})
            _until(
                lambda: (r := _run(execution, "nap")) is not None and r.state == State.RUNNING,
                30,
                "the nap to start while the flaky task waits for its retry",
            )
            execution.refresh_from_db()
            assert execution.state == State.RETRYING
            workers.kill(first)
            workers.start("rescuer")
            _until(
                lambda: _run(execution, "nap").state == State.SUCCESS,
                40,
                "the nap to end after the rescue",
                every=_reconcile,
            )
        nap = _run(execution, "nap")
        assert nap.attempts == 2 and nap.worker.startswith("rescuer-")
        assert [h["state"] for h in nap.history][2:4] == ["RETRYING", "QUEUED"]
    finally:
        _cleanup(workers, redis_url, queue)


def test_it_ends_killed_a_killing_execution_whose_worker_vanished(
    redis_url: str, queue: str, tmp_path: Path
) -> None:
    """The worker died before it could notice the kill, and no worker runs the grace-period timer."""
    workers = Workers(redis_url, queue, tmp_path)
    try:
        with _using_broker(redis_url, queue):
            first = workers.start("doomed")
            execution = walker.start_execution(spec.parse_flow(FLOW, file="crashy.yml"), {})
            _until(
                lambda: (r := _run(execution, "nap")) is not None and r.state == State.RUNNING,
                30,
                "the nap to start",
            )
            workers.kill(first)
            assert control.kill(execution.pk)
            assert _run(execution, "nap").state == State.KILLING
            _until(lambda: _finished(execution), 20, "the killing execution to end", every=_reconcile)
        assert execution.state == State.KILLED
        nap = _run(execution, "nap")
        assert nap.state == State.KILLED and "lost while being killed" in nap.history[-1]["reason"]
        assert _run(execution, "after") is None
    finally:
        _cleanup(workers, redis_url, queue)


AFTER_FLOW = """
id: crashy-after
namespace: portico.crash
tasks:
  - id: main
    type: io.kestra.plugin.core.log.Log
    message: main work
afterExecution:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: notify
    type: io.kestra.plugin.core.log.Log
    message: "after {{ execution.state }}"
"""


def test_it_rescues_an_after_execution_run_of_an_ended_execution(
    redis_url: str, queue: str, tmp_path: Path
) -> None:
    workers = Workers(redis_url, queue, tmp_path)
    try:
        with _using_broker(redis_url, queue):
            first = workers.start("doomed")
            execution = walker.start_execution(spec.parse_flow(AFTER_FLOW, file="crashy.yml"), {})
            _until(
                lambda: (r := _run(execution, "nap")) is not None and r.state == State.RUNNING,
                30,
                "the afterExecution nap to start",
            )
            assert _finished(execution) and execution.state == State.SUCCESS
            workers.kill(first)
            workers.start("rescuer")
            _until(
                lambda: (r := _run(execution, "notify")) is not None and r.state == State.SUCCESS,
                40,
                "the afterExecution tasks to end after the rescue",
                every=_reconcile,
            )
        nap = _run(execution, "nap")
        assert (nap.state, nap.attempts) == (State.SUCCESS, 2) and nap.worker.startswith("rescuer-")
        assert LogLine.objects.filter(execution=execution, message="after SUCCESS").count() == 1
        execution.refresh_from_db()
        assert execution.state == State.SUCCESS  # afterExecution never changes the final state
    finally:
        _cleanup(workers, redis_url, queue)

"""``workerGroup``: a task runs only on workers of its group; without a live one, Kestra's fallback.

The workers are ``celery -A portal worker`` subprocesses started as in production: one joins a group
through ``PORTICO_WORKER_GROUPS``, another consumes only its group's queue. A task run records the
worker that claimed it (``TaskRun.worker``: the Celery node name and pid), which proves who ran it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from orchestrator.executor import walker
from orchestrator.flowmodel import input_types, spec, worker_group
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.state.models import LogLine, State
from orchestrator.worker import heartbeat
from portal.celery import app
from tests.conftest import database_url, wait_for


def _start(text: str) -> Any:
    flow = spec.parse_flow(text, file="test.yml")
    return walker.start_execution(flow, input_types.resolve_inputs(flow, {}))


def _worker_of(execution: Any, task_id: str) -> str:
    return execution.task_runs.get(task_id=task_id).worker


def _until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.1)


class Workers:
    """Celery worker subprocesses on this run's test database, broker and default queue."""

    def __init__(self, broker: str, queue: str, logs: Path) -> None:
        self.broker, self.queue, self.logs = broker, queue, logs
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, queues: list[str], groups: str = "") -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(),  # this run's test database, SQLite or PostgreSQL
            "REDIS_URL": self.broker,
            "PORTICO_QUEUE": self.queue,
            "PORTICO_WORKER_GROUPS": groups,
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
            ",".join(queues),
        ]
        command += [
            "-n",
            f"{name}@portico-tests",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.procs.append(
            subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT)
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # warm shutdown: ``worker_shutdown`` leaves the groups
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    """Workers on a queue of their own: this process sends there (the session's worker never sees it)."""
    queue = f"portico-groups-{uuid.uuid4().hex[:8]}"
    conf = app.conf
    saved = conf.broker_url, conf.task_default_queue, app._pool, app.amqp._producer_pool
    conf.broker_url, conf.task_default_queue = redis_url, queue
    app._pool = app.amqp._producer_pool = None
    pool = Workers(redis_url, queue, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        conf.broker_url, conf.task_default_queue, app._pool, app.amqp._producer_pool = saved


@contextmanager
def _no_worker_in(key: str) -> Iterator[None]:
    assert not heartbeat.group_alive(key)
    yield


HAND_OFF = """
id: grouped
namespace: tests.groups
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: anywhere
  - id: heavy
    type: io.kestra.plugin.core.debug.Return
    format: on a gpu
    workerGroup:
      key: gpu
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: anywhere again
"""


@pytest.mark.django_db(transaction=True)
def test_worker_group_runs_a_task_only_on_a_worker_of_its_group(workers: Workers) -> None:
    workers.start("plain", [workers.queue])
    workers.start("gpu", [worker_group.queue_name(workers.queue, "gpu")])  # a group-only worker
    _until(lambda: heartbeat.group_alive("gpu"))

    execution = wait_for(_start(HAND_OFF), timeout=60)

    assert execution.state == State.SUCCESS
    assert _worker_of(execution, "heavy").startswith("gpu@portico-tests/")
    # Neither hand-off crosses a group: plain did not keep ``heavy``, nor gpu ``last``.
    for task_id in ("first", "last"):
        assert _worker_of(execution, task_id).startswith("plain@portico-tests/")


FLOW_LEVEL = """
id: flow-grouped
namespace: tests.groups
workerGroup:
  key: cpu
tasks:
  - id: inherits
    type: io.kestra.plugin.core.debug.Return
    format: on a cpu
  - id: overrides
    type: io.kestra.plugin.core.debug.Return
    format: on a gpu
    workerGroup:
      key: gpu
"""


@pytest.mark.django_db(transaction=True)
def test_worker_group_of_the_flow_applies_to_tasks_that_set_none(workers: Workers) -> None:
    workers.start("cpu", [workers.queue], groups="cpu")  # PORTICO_WORKER_GROUPS adds the cpu queue
    workers.start("gpu", [worker_group.queue_name(workers.queue, "gpu")])
    _until(lambda: heartbeat.group_alive("gpu") and heartbeat.group_alive("cpu"))

    execution = wait_for(_start(FLOW_LEVEL), timeout=60)

    assert execution.state == State.SUCCESS
    assert _worker_of(execution, "inherits").startswith("cpu@portico-tests/")
    assert _worker_of(execution, "overrides").startswith("gpu@portico-tests/")


def _lonely(fallback: str) -> str:
    extra = f"\n      fallback: {fallback}" if fallback else ""
    return f"""
id: lonely
namespace: tests.groups
tasks:
  - id: wants
    type: io.kestra.plugin.core.debug.Return
    format: needs a worker
    workerGroup:
      key: nobody{extra}
"""


@pytest.mark.django_db(transaction=True)
def test_worker_group_without_a_worker_waits_visibly_then_runs_when_one_joins(workers: Workers) -> None:
    with _no_worker_in("nobody"):
        execution = _start(_lonely(""))  # WAIT is the default fallback
    waiting = "No workers are available for worker group 'nobody', waiting for one to be available."
    _until(lambda: LogLine.objects.filter(execution=execution, message=waiting).exists())
    assert execution.task_runs.get(task_id="wants").state == State.CREATED

    workers.start("nobody", [workers.queue], groups="nobody")
    execution = wait_for(execution, timeout=60)
    assert execution.state == State.SUCCESS
    assert _worker_of(execution, "wants").startswith("nobody@portico-tests/")
    workers.stop_all()
    assert not heartbeat.group_alive("nobody")  # it left its group as it stopped


@pytest.mark.django_db(transaction=True)
def test_worker_group_fallback_fail_fails_the_task(celery_worker: Any) -> None:
    with _no_worker_in("nobody"):
        execution = wait_for(_start(_lonely("FAIL")))

    run = execution.task_runs.get(task_id="wants")
    assert (execution.state, run.state) == (State.FAILED, State.FAILED)
    message = "No workers are available for worker group 'nobody', failing the task."
    assert LogLine.objects.filter(taskrun=run, level="ERROR", message=message).exists()


@pytest.mark.django_db(transaction=True)
def test_worker_group_fallback_cancel_cancels_the_task(celery_worker: Any) -> None:
    with _no_worker_in("nobody"):
        execution = wait_for(_start(_lonely("CANCEL")))

    run = execution.task_runs.get(task_id="wants")
    assert run.state == State.CANCELLED
    assert execution.state in (State.FAILED, State.CANCELLED)
    message = "No workers are available for worker group 'nobody', canceling the task."
    assert LogLine.objects.filter(taskrun=run, level="INFO", message=message).exists()


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        (
            "{key: gpu, fallback: RETRY}",
            "tasks[0].workerGroup.fallback",
            "must be one of: FAIL, WAIT, CANCEL",
        ),
        ("{key: 'a b'}", "tasks[0].workerGroup.key", "'a b' must match"),
        ("{key: gpu, tags: [x]}", "tasks[0].workerGroup.tags", "unknown property"),
        ("gpu", "tasks[0].workerGroup", "must be a mapping"),
    ],
)
def test_worker_group_is_checked_at_load(block: str, path: str, message: str) -> None:
    text = (
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text + f"    workerGroup: {block}\n", file="x.yml")
    assert [(e.path, e.message[: len(message)]) for e in caught.value.errors] == [(path, message)]


def test_worker_group_of_the_flow_is_checked_at_load() -> None:
    text = "id: f\nnamespace: n\nworkerGroup: {key: gpu, fallback: NEVER}\ntasks:\n  - id: t\n"
    text += "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="x.yml")
    assert [(e.line, e.path) for e in caught.value.errors] == [(3, "workerGroup.fallback")]


def test_worker_group_inside_a_working_directory_is_refused() -> None:
    text = "id: f\nnamespace: n\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n"
    text += "    tasks:\n      - id: t\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n"
    text += "        workerGroup: {key: gpu}\n"
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="x.yml")
    assert [e.path for e in caught.value.errors] == ["tasks[0].tasks[0].workerGroup"]

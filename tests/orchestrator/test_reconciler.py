"""The periodic jobs: what celery-beat sends, and the reconciler re-sending dispatches and timers that
were lost (worker deaths are in test_crash_safety.py, with real worker processes)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings

from orchestrator.executor import walker
from orchestrator.flowmodel import spec
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from orchestrator.worker import reconciler, task_runs
from portal.celery import app as celery_app


@contextmanager
def lost_messages(redis_url: str) -> Iterator[None]:
    """Everything sent inside the block goes to a queue no worker reads (then is thrown away)."""
    conf = celery_app.conf
    saved, void = conf.task_default_queue, f"portico-void-{uuid.uuid4().hex[:8]}"
    conf.task_default_queue = void  # read at every send
    try:
        yield
    finally:
        conf.task_default_queue = saved
        client = redis.Redis.from_url(redis_url.replace("redis+socket://", "unix://"))
        client.delete(void)
        client.close()


def start(text: str) -> Execution:
    return walker.start_execution(spec.parse_flow(text, file="test.yml"), {})


def run_of(execution: Execution, task_id: str) -> TaskRun:
    return TaskRun.objects.get(execution=execution, task_id=task_id)


def until_state(run: TaskRun, state: State, timeout: float = 20.0) -> TaskRun:
    deadline = time.monotonic() + timeout
    while True:
        run.refresh_from_db()
        if run.state == state:
            return run
        assert time.monotonic() < deadline, f"{run.task_id} still {run.state}"
        time.sleep(0.05)


def test_it_schedules_only_registered_celery_tasks() -> None:
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - set(celery_app.tasks) == set()
    assert "orchestrator.reconcile" in scheduled


@pytest.mark.django_db(transaction=True)
def test_it_fires_lost_timers_from_the_beat_schedule(redis_url: str) -> None:
    """Deadline messages lost with the broker: one round of what beat sends fires them all."""
    with lost_messages(redis_url):
        timed = start(
            """
id: lost-deadline
namespace: tests.reconciler
tasks:
  - id: steps
    type: io.kestra.plugin.core.flow.Sequential
    timeout: PT0.2S
    tasks:
      - id: approve
        type: io.kestra.plugin.core.flow.Pause
"""
        )
        delayed = start(
            """
id: lost-wake
namespace: tests.reconciler
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.1S
"""
        )
    for execution in (timed, delayed):
        execution.refresh_from_db()
        assert execution.state == State.PAUSED
    time.sleep(0.5)  # past both deadlines

    celery_app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():  # one beat round, run here
        celery_app.tasks[entry["task"]].apply()

    timed.refresh_from_db()
    assert timed.state == State.FAILED
    steps = run_of(timed, "steps")
    assert (steps.state, steps.error) == (State.FAILED, "Timeout after PT0.2S")
    assert run_of(timed, "approve").state == State.KILLED
    delayed.refresh_from_db()
    assert delayed.state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_resends_a_lost_dispatch_of_an_after_execution_run(redis_url: str, celery_worker: Any) -> None:
    with lost_messages(redis_url):
        execution = start(
            """
id: lost-after
namespace: tests.reconciler
tasks:
  - id: main
    type: io.kestra.plugin.core.log.Log
    message: main work
afterExecution:
  - id: notify
    type: io.kestra.plugin.core.log.Log
    message: "after {{ execution.state }}"
"""
        )
        task_runs.execute(str(run_of(execution, "main").pk))  # as a worker would; notify's dispatch is lost
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS
    assert run_of(execution, "notify").state == State.CREATED

    reconciler.reconcile(stale_after=timedelta(0))

    until_state(run_of(execution, "notify"), State.SUCCESS)
    assert LogLine.objects.filter(execution=execution, message="after SUCCESS").count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_resends_a_lost_dispatch_of_a_paused_execution(redis_url: str, celery_worker: Any) -> None:
    """A Pause in one Parallel branch pauses the execution; the other branch must still run."""
    with lost_messages(redis_url):
        execution = start(
            """
id: lost-paused
namespace: tests.reconciler
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: approve
        type: io.kestra.plugin.core.flow.Pause
      - id: work
        type: io.kestra.plugin.core.log.Log
        message: working meanwhile
"""
        )
    execution.refresh_from_db()
    assert execution.state == State.PAUSED
    assert run_of(execution, "work").state == State.CREATED

    reconciler.reconcile(stale_after=timedelta(0))

    until_state(run_of(execution, "work"), State.SUCCESS)


@pytest.mark.django_db(transaction=True)
def test_it_wakes_a_lost_retry_of_an_after_execution_run(celery_worker: Any) -> None:
    from django.utils import timezone

    execution = start(
        """
id: lost-after-retry
namespace: tests.reconciler
tasks:
  - id: main
    type: io.kestra.plugin.core.log.Log
    message: main work
afterExecution:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount == 0 }}"
    retry: {type: constant, interval: PT1H, maxAttempt: 2}
"""
    )
    deadline = time.monotonic() + 15
    while not TaskRun.objects.filter(execution=execution, task_id="flaky", state=State.RETRYING).exists():
        assert time.monotonic() < deadline, "the afterExecution task never failed"
        time.sleep(0.02)
    # As if the hour had passed and the countdown message had been lost with the broker.
    TaskRun.objects.filter(execution=execution, task_id="flaky").update(
        wake_at=timezone.now() - timedelta(minutes=1)
    )

    assert reconciler.reconcile()["woken"] >= 1

    flaky = until_state(run_of(execution, "flaky"), State.SUCCESS)
    assert flaky.attempts == 2
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS

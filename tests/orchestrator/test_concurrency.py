"""Flow ``concurrency``: QUEUE, CANCEL and FAIL, and 20 executions racing a limit of 2."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest
from django.db import connections

from orchestrator.executor import control, walker
from orchestrator.flowmodel import spec
from orchestrator.state.models import TERMINAL, Execution, LogLine, State
from tests.conftest import wait_for

FLOW = """
id: {flow_id}
namespace: tests.concurrency
concurrency:
  limit: {limit}
  behavior: {behavior}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: {duration}
"""


def limited(flow_id: str, *, limit: int = 1, behavior: str = "QUEUE", duration: str = "PT0.3S") -> spec.Flow:
    return spec.parse_flow(FLOW.format(flow_id=flow_id, limit=limit, behavior=behavior, duration=duration))


def wait_all(executions: list[Execution], timeout: float = 30.0) -> list[Execution]:
    deadline = time.monotonic() + timeout
    for execution in executions:
        while True:
            execution.refresh_from_db()
            if execution.state in TERMINAL:
                break
            assert time.monotonic() < deadline, [(e.pk, e.state) for e in executions]
            time.sleep(0.02)
    return executions


def max_running_at_once(executions: list[Execution]) -> int:
    """From the state histories in the DB: the most executions RUNNING at the same instant."""
    events: list[tuple[datetime, int]] = []
    for execution in executions:
        dates = [(entry["state"], datetime.fromisoformat(entry["date"])) for entry in execution.history]
        start = next(date for state, date in dates if state == State.RUNNING)
        end = next(date for state, date in dates if state in TERMINAL)
        events += [(start, 1), (end, -1)]
    running = peak = 0
    for _, step in sorted(events):  # at the same instant an end (-1) sorts before a start (+1)
        running += step
        peak = max(peak, running)
    return peak


def test_it_validates_concurrency_at_load() -> None:
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(FLOW.format(flow_id="bad", limit=0, behavior="WAIT", duration="PT1S"))

    messages = {(e.path, e.message) for e in caught.value.errors}
    assert ("concurrency.limit", "must be an integer ≥ 1") in messages
    assert ("concurrency.behavior", "must be QUEUE, CANCEL or FAIL") in messages


@pytest.mark.django_db(transaction=True)
def test_it_queues_executions_beyond_the_limit_and_starts_them_in_order(celery_worker: Any) -> None:
    flow = limited("queue")

    executions = [walker.start_execution(flow, {}) for _ in range(3)]

    assert [e.state for e in executions] == [State.RUNNING, State.QUEUED, State.QUEUED]
    assert LogLine.objects.filter(execution=executions[1], message__startswith="Flow is queued").exists()
    wait_all(executions)
    assert [e.state for e in executions] == [State.SUCCESS] * 3
    assert [h["state"] for h in executions[1].history] == ["CREATED", "QUEUED", "RUNNING", "SUCCESS"]
    assert max_running_at_once(executions) == 1
    starts = [e.started for e in executions]
    assert starts == sorted(starts)  # oldest queued first


@pytest.mark.django_db(transaction=True)
def test_it_cancels_an_execution_beyond_the_limit_with_cancel(celery_worker: Any) -> None:
    flow = limited("cancel", behavior="CANCEL")

    first = walker.start_execution(flow, {})
    second = walker.start_execution(flow, {})

    assert second.state == State.CANCELLED
    assert not second.task_runs.exists()
    assert wait_for(first).state == State.SUCCESS
    third = walker.start_execution(flow, {})  # the slot is free again
    assert wait_for(third).state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_fails_an_execution_beyond_the_limit_with_fail(celery_worker: Any) -> None:
    flow = limited("fail", behavior="FAIL")

    first = walker.start_execution(flow, {})
    second = walker.start_execution(flow, {})

    assert second.state == State.FAILED
    assert LogLine.objects.get(execution=second, level="ERROR").message == (
        "Flow is FAILED due to concurrency limit exceeded"
    )
    assert wait_for(first).state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_frees_the_slot_of_a_failed_execution(celery_worker: Any) -> None:
    flow = spec.parse_flow(
        """
id: failing
namespace: tests.concurrency
concurrency: {limit: 1}
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
"""
    )

    executions = wait_all([walker.start_execution(flow, {}) for _ in range(3)])

    assert [e.state for e in executions] == [State.FAILED] * 3


@pytest.mark.django_db(transaction=True)
def test_it_never_runs_more_than_the_limit_when_20_executions_race(celery_worker: Any) -> None:
    flow = limited("race", limit=2, duration="PT0.05S")
    barrier = threading.Barrier(20)
    started: list[Execution] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            execution = walker.start_execution(flow, {})
            with lock:
                started.append(execution)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert len(started) == 20
    executions = wait_all(list(Execution.objects.filter(flow_id="race")), timeout=60)
    assert [e.state for e in executions] == [State.SUCCESS] * 20
    assert max_running_at_once(executions) == 2
    assert sum(1 for e in executions if any(h["state"] == "QUEUED" for h in e.history)) >= 1


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_slot_of_a_paused_execution_as_kestra_does(celery_worker: Any) -> None:
    from orchestrator.executor import control

    flow = spec.parse_flow(
        """
id: paused
namespace: tests.concurrency
concurrency: {limit: 1}
tasks:
  - id: approval
    type: io.kestra.plugin.core.flow.Pause
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""
    )
    first = wait_for(walker.start_execution(flow, {}))
    assert first.state == State.PAUSED

    second = walker.start_execution(flow, {})
    assert second.state == State.QUEUED  # a PAUSED execution holds its slot

    assert control.resume(first.pk)
    assert wait_for(first).state == State.SUCCESS
    second = wait_for(second)
    assert second.state == State.PAUSED  # it got the slot, and now waits at its own Pause
    assert [h["state"] for h in second.history] == ["CREATED", "QUEUED", "RUNNING", "PAUSED"]


@pytest.mark.django_db(transaction=True)
def test_it_frees_the_slot_of_a_killed_execution(celery_worker: Any) -> None:
    from orchestrator.executor import control

    flow = limited("killed", duration="PT30S")
    first = walker.start_execution(flow, {})
    second = walker.start_execution(flow, {})
    assert second.state == State.QUEUED

    assert control.kill(first.pk)
    deadline = time.monotonic() + 15
    while True:
        second.refresh_from_db()
        if second.state == State.RUNNING:
            break
        assert time.monotonic() < deadline, second.state
        time.sleep(0.02)
    first.refresh_from_db()
    assert first.state == State.KILLED
    assert control.kill(second.pk)
    assert wait_for(second).state == State.KILLED


RESTARTABLE = """
id: restartable-{behavior}
namespace: tests.concurrency
concurrency:
  limit: 1
  behavior: {behavior}
inputs:
  - id: nap
    type: STRING
    defaults: PT0.05S
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{{{ inputs.nap }}}}"
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.fail and taskrun.attemptsCount == 0 }}}}"
"""


def _failed_and_blocked(behavior: str) -> tuple[Execution, Execution]:
    """A failed execution of a limit-1 flow, and a second one now holding the only slot."""
    flow = spec.parse_flow(RESTARTABLE.format(behavior=behavior))
    failed = wait_for(walker.start_execution(flow, {"nap": "PT0.05S", "fail": True}))
    assert failed.state == State.FAILED
    blocker = walker.start_execution(flow, {"nap": "PT1.5S", "fail": False})
    assert blocker.state == State.RUNNING
    return failed, blocker


def _date_of(execution: Execution, state: State, *, last: bool = True) -> datetime:
    dates = [datetime.fromisoformat(h["date"]) for h in execution.history if h["state"] == state]
    return dates[-1] if last else dates[0]


@pytest.mark.django_db(transaction=True)
def test_it_queues_a_restart_beyond_the_limit_until_the_slot_frees(celery_worker: Any) -> None:
    failed, blocker = _failed_and_blocked("QUEUE")

    assert control.restart(failed.pk)

    failed.refresh_from_db()
    assert failed.state == State.QUEUED  # not RUNNING beside the blocker
    assert failed.task_runs.get(task_id="check").state == State.QUEUED  # reopened, not yet dispatched
    wait_all([blocker, failed])
    assert (blocker.state, failed.state) == (State.SUCCESS, State.SUCCESS)
    assert [h["state"] for h in failed.history][-4:] == ["RESTARTED", "QUEUED", "RUNNING", "SUCCESS"]
    assert _date_of(failed, State.RUNNING) >= _date_of(blocker, State.SUCCESS)


@pytest.mark.django_db(transaction=True)
def test_it_cancels_a_restart_beyond_the_limit_with_cancel(celery_worker: Any) -> None:
    failed, blocker = _failed_and_blocked("CANCEL")

    assert control.restart(failed.pk)

    failed.refresh_from_db()
    assert [h["state"] for h in failed.history][-2:] == ["RESTARTED", "CANCELLED"]
    assert failed.task_runs.get(task_id="check").state == State.FAILED  # nothing was reopened
    assert wait_for(blocker).state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_fails_a_restart_beyond_the_limit_with_fail(celery_worker: Any) -> None:
    failed, blocker = _failed_and_blocked("FAIL")

    assert control.restart(failed.pk)

    failed.refresh_from_db()
    assert [h["state"] for h in failed.history][-2:] == ["RESTARTED", "FAILED"]
    assert failed.task_runs.get(task_id="check").state == State.FAILED
    assert LogLine.objects.filter(
        execution=failed, level="ERROR", message="Flow is FAILED due to concurrency limit exceeded"
    ).exists()
    assert wait_for(blocker).state == State.SUCCESS
    assert control.restart(failed.pk)  # the slot is free again: this time it runs
    assert wait_for(failed).state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_it_queues_a_replay_beyond_the_limit(celery_worker: Any) -> None:
    failed, blocker = _failed_and_blocked("QUEUE")

    replay = control.replay(failed.pk, "check")

    assert replay.state == State.QUEUED
    wait_all([blocker, replay])
    assert replay.state == State.FAILED  # a replayed run is a first attempt again: ``check`` fails
    assert _date_of(replay, State.RUNNING, last=False) >= _date_of(blocker, State.SUCCESS)

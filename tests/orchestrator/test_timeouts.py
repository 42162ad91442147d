"""Task ``timeout``, ``runIf``, ``allowWarning`` and flow ``afterExecution``, through a real worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from orchestrator.executor import retries, walker
from orchestrator.flowmodel import input_types, spec
from orchestrator.state.models import TERMINAL, LogLine, State, TaskRun
from orchestrator.worker import reconciler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def runs_of(execution: Any) -> dict[str, TaskRun]:
    return {run.task_id: run for run in execution.task_runs.all()}


def test_it_stops_a_sleep_at_its_timeout(run_flow: Any) -> None:
    started = time.monotonic()
    execution = run_flow(
        """
id: timeout
namespace: tests.timeouts
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT20S
    timeout: PT0.5S
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
""",
        timeout=15,
    )

    assert execution.state == State.FAILED
    assert time.monotonic() - started < 10  # nowhere near the 20 s sleep
    nap = runs_of(execution)["nap"]
    assert (nap.state, nap.error) == (State.FAILED, "Timeout after PT0.5S")
    took = datetime.fromisoformat(nap.history[-1]["date"]) - datetime.fromisoformat(nap.history[1]["date"])
    assert 0.45 <= took.total_seconds() < 5
    assert "never" not in runs_of(execution)
    assert LogLine.objects.filter(taskrun=nap, level="ERROR", message="Timeout after PT0.5S").exists()


def test_it_retries_a_timed_out_attempt(run_flow: Any) -> None:
    execution = run_flow(
        """
id: timeout-retry
namespace: tests.timeouts
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ taskrun.attemptsCount == 0 ? 'PT20S' : 'PT0.01S' }}"
    timeout: PT0.5S
    retry: {type: constant, interval: PT0.1S, maxAttempt: 2}
""",
        timeout=15,
    )

    assert execution.state == State.SUCCESS
    nap = execution.task_runs.get()
    assert [a["state"] for a in retries.attempts(nap)] == ["FAILED", "SUCCESS"]
    assert retries.attempts(nap)[0]["error"].endswith("Timeout after PT0.5S")


def test_it_skips_a_task_whose_run_if_is_false(run_flow: Any) -> None:
    execution = run_flow(
        """
id: runif
namespace: tests.timeouts
inputs:
  - id: size
    type: INT
    defaults: 2
tasks:
  - id: small
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ inputs.size < 5 }}"
    format: small
  - id: large
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ inputs.size >= 5 }}"
    format: large
  - id: literal-false
    type: io.kestra.plugin.core.log.Log
    runIf: false
    message: never
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    runIf: "false"
    tasks:
      - id: inside
        type: io.kestra.plugin.core.log.Log
        message: never
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.small.value }}"
"""
    )

    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert {k: r.state for k, r in runs.items()} == {
        "small": State.SUCCESS,
        "large": State.SKIPPED,
        "literal-false": State.SKIPPED,
        "group": State.SKIPPED,
        "last": State.SUCCESS,
    }
    assert runs["large"].attempts == 0  # never sent to a worker
    assert runs["last"].outputs == {"value": "small"}


def test_it_fails_a_task_whose_run_if_cannot_be_rendered(run_flow: Any) -> None:
    execution = run_flow(
        """
id: runif-broken
namespace: tests.timeouts
tasks:
  - id: broken
    type: io.kestra.plugin.core.log.Log
    runIf: "{{ outputs.missing.value == 2 }}"
    message: never
"""
    )

    assert execution.state == State.FAILED
    run = execution.task_runs.get()
    assert run.state == State.FAILED and run.error.startswith("cannot evaluate runIf")


def test_it_turns_an_allowed_warning_into_success(run_flow: Any) -> None:
    execution = run_flow(
        """
id: allow-warning
namespace: tests.timeouts
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    allowWarning: true
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
  - id: next
    type: io.kestra.plugin.core.log.Log
    message: still running
"""
    )
    only_failure = run_flow(
        """
id: allow-failure-only
namespace: tests.timeouts
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
"""
    )

    assert execution.state == State.SUCCESS
    assert runs_of(execution)["next"].state == State.SUCCESS
    assert only_failure.state == State.WARNING


def test_it_runs_after_execution_tasks_once_the_execution_has_ended(run_flow: Any) -> None:
    flow_text = """
id: after
namespace: tests.timeouts
inputs:
  - id: fail
    type: BOOL
    defaults: false
tasks:
  - id: work
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
afterExecution:
  - id: on-success
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ execution.state == 'SUCCESS' }}"
    format: "ok"
  - id: on-failure
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ execution.state == 'FAILED' }}"
    format: "alert"
  - id: broken
    type: io.kestra.plugin.core.execution.Fail
"""

    for fail, expected_state, ran, skipped in (
        (False, State.SUCCESS, "on-success", "on-failure"),
        (True, State.FAILED, "on-failure", "on-success"),
    ):
        execution = run_flow(flow_text, {"fail": fail})
        assert execution.state == expected_state
        deadline = time.monotonic() + 15
        while execution.task_runs.filter(task_id="broken", state=State.FAILED).count() == 0:
            assert time.monotonic() < deadline, list(execution.task_runs.values_list("task_id", "state"))
            time.sleep(0.05)
        runs = runs_of(execution)
        assert runs[ran].state == State.SUCCESS and runs[skipped].state == State.SKIPPED
        execution.refresh_from_db()
        # A failing afterExecution task never changes the execution's final state.
        assert execution.state == expected_state
        assert runs[ran].started >= execution.ended


def test_it_evaluates_run_if_per_iteration_with_the_taskrun_value(run_flow: Any) -> None:
    execution = run_flow(
        """
id: runif-foreach
namespace: tests.timeouts
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: only-b
        type: io.kestra.plugin.core.debug.Return
        runIf: "{{ taskrun.value == 'b' }}"
        format: "{{ taskrun.value }}"
"""
    )

    assert execution.state == State.SUCCESS
    states = {run.value: run.state for run in execution.task_runs.filter(task_id="only-b")}
    assert states == {"a": State.SKIPPED, "b": State.SUCCESS, "c": State.SKIPPED}


def _start(text: str) -> Any:
    flow = spec.parse_flow(text, file="test.yml")
    return walker.start_execution(flow, input_types.resolve_inputs(flow, {}))


def _until_ended(execution: Any, *, every: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        execution.refresh_from_db()
        if execution.state in TERMINAL:
            return execution
        assert time.monotonic() < deadline, f"still {execution.state}"
        every()
        time.sleep(0.1)


def test_it_fails_a_parallel_at_its_timeout_and_kills_its_children(celery_worker: Any) -> None:
    """The single test worker is busy with a sleep, so its deadline message waits behind it: the
    reconciler's sweep (played here by the test, as beat would) enforces the timeout."""
    started = time.monotonic()
    execution = _start(
        """
id: flowable-timeout
namespace: tests.timeouts
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    timeout: PT1S
    tasks:
      - id: first
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT20S
      - id: second
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT20S
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
errors:
  - id: handled
    type: io.kestra.plugin.core.log.Log
    message: the parallel timed out
"""
    )
    _until_ended(execution, every=reconciler.reconcile)

    assert execution.state == State.FAILED
    assert time.monotonic() - started < 10  # nowhere near the 20 s sleeps
    runs = runs_of(execution)
    assert (runs["both"].state, runs["both"].error) == (State.FAILED, "Timeout after PT1S")
    took = datetime.fromisoformat(runs["both"].history[-1]["date"]) - datetime.fromisoformat(
        runs["both"].history[1]["date"]
    )
    assert 0.95 <= took.total_seconds() < 5
    # The sleep on the worker stops (KILLING, then KILLED once it noticed); the other never ran.
    _until_killed(runs["first"])
    assert runs["second"].state == State.KILLED
    assert time.monotonic() - started < 10
    assert runs["handled"].state == State.SUCCESS and "never" not in runs
    assert LogLine.objects.filter(taskrun=runs["both"], level="ERROR", message="Timeout after PT1S").exists()


def _until_killed(run: TaskRun, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        run.refresh_from_db()
        if run.state == State.KILLED:
            return
        assert time.monotonic() < deadline, f"{run.task_id} still {run.state}"
        time.sleep(0.05)


def test_it_times_out_a_sequential_waiting_on_a_pause(run_flow: Any) -> None:
    """Nothing holds the worker: the deadline message itself fails the Sequential."""
    execution = run_flow(
        """
id: paused-timeout
namespace: tests.timeouts
tasks:
  - id: steps
    type: io.kestra.plugin.core.flow.Sequential
    timeout: PT0.5S
    tasks:
      - id: approve
        type: io.kestra.plugin.core.flow.Pause
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
""",
    )
    assert execution.state == State.PAUSED  # run_flow returns at the pause
    deadline = time.monotonic() + 10
    while execution.state not in (State.FAILED, State.SUCCESS, State.KILLED):
        assert time.monotonic() < deadline, f"still {execution.state}"
        time.sleep(0.05)
        execution.refresh_from_db()
    runs = runs_of(execution)
    assert execution.state == State.FAILED
    assert (runs["steps"].state, runs["steps"].error) == (State.FAILED, "Timeout after PT0.5S")
    assert runs["approve"].state == State.KILLED and "never" not in runs


def test_it_times_out_a_flowable_in_after_execution(celery_worker: Any) -> None:
    """afterExecution tasks are ordinary tasks: a flowable's ``timeout`` holds there too, although the
    execution has ended (and its state stays final). The single test worker is busy with the sleep,
    so the reconciler's sweep (played here by the test) enforces the deadline."""
    execution = _start(
        """
id: after-timeout
namespace: tests.timeouts
tasks:
  - id: main
    type: io.kestra.plugin.core.log.Log
    message: main work
afterExecution:
  - id: steps
    type: io.kestra.plugin.core.flow.Sequential
    timeout: PT1S
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT20S
"""
    )
    _until_ended(execution, every=lambda: None)
    started = time.monotonic()
    deadline = started + 15
    while not TaskRun.objects.filter(execution=execution, task_id="steps", state=State.FAILED).exists():
        assert time.monotonic() < deadline, list(execution.task_runs.values_list("task_id", "state"))
        reconciler.reconcile()
        time.sleep(0.1)

    assert time.monotonic() - started < 10  # nowhere near the 20 s sleep
    runs = runs_of(execution)
    assert runs["steps"].error == "Timeout after PT1S"
    _until_killed(runs["nap"])
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS

"""Task ``timeout``, ``runIf``, ``allowWarning`` and flow ``afterExecution``, through a real worker."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from orchestrator import retries
from orchestrator.models import LogLine, State, TaskRun

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

"""Flow ``listeners`` (deprecated in Kestra, still run), following ``ExecutorService.handleListeners``,
``ConditionService.findValidListeners``, ``ListenersTest`` and its flows (``flows/tests/listeners*.yaml``)
in kestra-io/kestra."""

from __future__ import annotations

import time
from typing import Any

import pytest

from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.state.models import TERMINAL, Execution, LogLine, State, TaskRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
FAIL = "io.kestra.plugin.core.execution.Fail"


def settled(execution: Execution, task_id: str, timeout: float = 15.0) -> TaskRun:
    """The run of ``task_id`` once ended: listener tasks run after the execution has ended."""
    deadline = time.monotonic() + timeout
    while True:
        run = execution.task_runs.filter(task_id=task_id).first()
        if run is not None and run.state in TERMINAL:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run of {task_id} not ended after {timeout} s: {run and run.state}")
        time.sleep(0.05)


# Kestra's ``listeners.yaml``: one listener per final state.
LISTENERS = f"""
id: listeners
namespace: tests.listeners
inputs:
  - id: string
    type: STRING
listeners:
  - description: on failure
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - FAILED
    tasks:
      - id: execution-failed-listener
        type: {LOG}
        message: "{{{{ task.id }}}}"
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - SUCCESS
    tasks:
      - id: execution-success-listener
        type: {RETURN}
        format: "{{{{ flow.id }}}} {{{{ execution.state }}}}"
tasks:
  - id: parent-seq
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.string }}}}"
    cases:
      OK:
        - id: ok
          type: {RETURN}
          format: ok
      KO:
        - id: ko
          type: {FAIL}
"""


def test_listeners_whose_conditions_hold_run_after_a_success(run_flow: Any) -> None:
    execution = run_flow(LISTENERS, {"string": "OK"})

    assert execution.state == State.SUCCESS
    listener = settled(execution, "execution-success-listener")
    assert listener.outputs == {"value": "listeners SUCCESS"}  # it sees the ended execution
    assert not execution.task_runs.filter(task_id="execution-failed-listener").exists()
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS


def test_listeners_whose_conditions_hold_run_after_a_failure(run_flow: Any) -> None:
    execution = run_flow(LISTENERS, {"string": "KO"})

    assert execution.state == State.FAILED
    assert settled(execution, "execution-failed-listener").state == State.SUCCESS
    assert not execution.task_runs.filter(task_id="execution-success-listener").exists()
    assert LogLine.objects.filter(
        taskrun__task_id="execution-failed-listener", message="execution-failed-listener"
    )


def test_a_failing_listener_task_neither_stops_the_next_nor_changes_the_execution(run_flow: Any) -> None:
    # Kestra's ``listeners-multiple-failed.yaml``: ko fails, l2 still runs, the execution stays SUCCESS.
    execution = run_flow(
        f"""
id: listeners-multiple-failed
namespace: tests.listeners
listeners:
  - tasks:
      - id: ko
        type: {FAIL}
  - tasks:
      - id: l2
        type: {RETURN}
        format: "{{{{ task.id }}}}"
tasks:
  - id: first
    type: {RETURN}
    format: first
"""
    )
    assert settled(execution, "ko").state == State.FAILED
    assert settled(execution, "l2").state == State.SUCCESS
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS
    ko, l2 = settled(execution, "ko"), settled(execution, "l2")
    assert ko.created <= l2.created  # one sequence, in the order of the listeners


def test_listener_conditions_on_the_flow_and_an_expression(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: listeners-expression
namespace: tests.listeners
inputs:
  - id: notify
    type: BOOLEAN
listeners:
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.listeners
        flowId: listeners-expression
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{{{ inputs.notify }}}}"
    tasks:
      - id: notified
        type: {LOG}
        message: notified
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.listeners
        flowId: another-flow
    tasks:
      - id: elsewhere
        type: {LOG}
        message: never
tasks:
  - id: t
    type: {RETURN}
    format: x
""",
        {"notify": True},
    )
    assert execution.state == State.SUCCESS
    assert settled(execution, "notified").state == State.SUCCESS
    assert not execution.task_runs.filter(task_id="elsewhere").exists()


def test_it_refuses_listeners_it_cannot_run_at_load() -> None:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(
            f"""
id: listeners-bad
namespace: tests.listeners
listeners:
  - conditions:
      - type: io.kestra.plugin.core.condition.DayWeek
        dayOfWeek: MONDAY
    tasks:
      - id: l
        type: {LOG}
        message: x
  - tasks: []
  - tasks:
      - id: t
        type: {LOG}
        message: duplicate id
    when: x
tasks:
  - id: t
    type: {LOG}
    message: hi
""",
            file="flows/x.yml",
        )
    errors = [str(e) for e in caught.value.errors]
    assert (
        "flows/x.yml:6: listeners[0].conditions[0]: "
        "condition type 'io.kestra.plugin.core.condition.DayWeek' is not supported yet"
    ) in errors
    assert "flows/x.yml:12: listeners[1].tasks: must not be empty" in errors
    assert "flows/x.yml:17: listeners[2].when: unknown property" in errors
    assert any("duplicate" in e and "'t'" in e for e in errors)

"""Subflow, WaitFor, Resume, Labels, Echo, state.* and log.Fetch run by a real worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.executor import control, walker
from orchestrator.flowmodel import flow_repository, spec
from orchestrator.state.models import TERMINAL, Execution, KeyValue, State, TaskRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

CHILDREN = {
    "child": """
id: child
namespace: tests.sub
inputs:
  - id: who
    type: STRING
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
""",
    "rescued": """
id: rescued
namespace: tests.sub
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: note
    type: io.kestra.plugin.core.debug.Return
    format: "noted by {{ task.id }}"
""",
    "broken": """
id: broken
namespace: tests.sub
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: child failed
""",
    "held": """
id: held
namespace: tests.sub
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
""",
    "sleepy": """
id: sleepy
namespace: tests.sub
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
""",
}


@pytest.fixture
def children() -> Iterator[None]:
    """Child flows served by a registered lookup (as the portal catalog would register one)."""

    def lookup(namespace: str, flow_id: str) -> spec.Flow | None:
        text = CHILDREN.get(flow_id) if namespace == "tests.sub" else None
        return spec.parse_flow(text, file=f"{flow_id}.yml") if text else None

    flow_repository.register(lookup)
    yield
    flow_repository.unregister(lookup)


def runs_of(execution: Execution) -> dict[str, TaskRun]:
    return {run.task_id: run for run in execution.task_runs.all()}


def finished(execution: Execution, timeout: float = 20.0) -> Execution:
    deadline = time.monotonic() + timeout
    while True:
        execution.refresh_from_db()
        if execution.state in TERMINAL:
            return execution
        if time.monotonic() > deadline:
            pytest.fail(f"execution {execution.pk} still {execution.state}")
        time.sleep(0.02)


def parent_flow(flow_id: str, **props: Any) -> str:
    lines = "".join(f"    {key}: {value}\n" for key, value in props.items())
    return f"""
id: parent
namespace: tests.sub
labels:
  team: blue
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.sub
    flowId: {flow_id}
{lines}  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.sub.executionId }}}}"
"""


def test_it_waits_for_a_subflow_and_gets_its_outputs(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("child", inputs="{who: '{{ flow.id }}'}", inheritLabels="true"))

    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    child = Execution.objects.get(pk=runs["sub"].outputs["executionId"])
    assert runs["sub"].outputs == {
        "executionId": str(child.pk),
        "state": "SUCCESS",
        "outputs": {"greeting": "hello parent"},
    }
    assert (child.parent_id, child.parent_taskrun_id) == (execution.pk, runs["sub"].pk)
    assert child.labels["team"] == "blue"
    assert child.labels["system.correlationId"] == str(execution.pk)
    assert runs["after"].outputs == {"value": str(child.pk)}


def test_it_transmits_a_failed_subflow(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("broken"))

    assert execution.state == State.FAILED
    runs = runs_of(execution)
    assert runs["sub"].state == State.FAILED
    assert "ended FAILED" in runs["sub"].error
    assert "after" not in runs


def test_it_renders_the_task_outputs_against_a_failed_subflow(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("rescued", outputs="{extracted: '{{ outputs.note.value }}'}"))

    assert execution.state == State.FAILED
    sub = runs_of(execution)["sub"]
    assert sub.state == State.FAILED
    assert sub.outputs["state"] == "FAILED"
    assert sub.outputs["outputs"] == {"extracted": "noted by note"}


def test_it_prefers_the_subflow_declared_outputs_to_the_task_outputs(run_flow: Any, children: None) -> None:
    execution = run_flow(
        parent_flow("child", inputs="{who: ann}", outputs="{extracted: '{{ outputs.greet.value }}'}")
    )

    assert execution.state == State.SUCCESS
    assert runs_of(execution)["sub"].outputs["outputs"] == {"greeting": "hello ann"}


def test_it_ignores_a_failed_subflow_without_transmit_failed(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("broken", transmitFailed="false"))

    assert execution.state == State.SUCCESS
    assert runs_of(execution)["sub"].outputs["state"] == "FAILED"


def test_it_does_not_wait_for_a_subflow_when_told(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("held", wait="false"))

    assert execution.state == State.SUCCESS
    child = Execution.objects.get(pk=runs_of(execution)["sub"].outputs["executionId"])
    assert child.state == State.PAUSED
    assert control.kill(child.pk) is True
    assert finished(child).state == State.KILLED


def test_it_fails_a_subflow_of_an_unknown_flow(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("nowhere"))

    assert execution.state == State.FAILED
    assert runs_of(execution)["sub"].error == "flow 'tests.sub.nowhere' not found"


def test_it_kills_the_children_with_the_parent(celery_worker: Any, children: None) -> None:
    flow = spec.parse_flow(parent_flow("sleepy"))
    execution = walker.start_execution(flow, {})
    deadline = time.monotonic() + 20
    while not TaskRun.objects.filter(
        execution__parent=execution, task_id="nap", state=State.RUNNING
    ).exists():
        assert time.monotonic() < deadline, "the child never started sleeping"
        time.sleep(0.02)

    assert control.kill(execution.pk) is True

    assert finished(execution, timeout=10).state == State.KILLED
    child = finished(Execution.objects.get(parent=execution), timeout=10)
    assert child.state == State.KILLED
    assert runs_of(child)["nap"].state == State.KILLED


def test_it_repeats_wait_for_until_the_condition_holds(run_flow: Any) -> None:
    # Kestra loops *until* the condition is true, evaluated after each iteration
    # (https://kestra.io/plugins/core/flow/io.kestra.plugin.core.flow.LoopUntil; WaitFor.java
    # nextExecutionDate: a falsy condition schedules the next iteration).
    execution = run_flow(
        """
id: waiting
namespace: tests.flow
tasks:
  - id: poll
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.count.values.n == '3' }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: count
        type: io.kestra.plugin.core.output.OutputValues
        values:
          n: "{{ outputs.poll.iterationCount }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.count.values.n }}"
"""
    )

    assert execution.state == State.SUCCESS
    assert execution.task_runs.filter(task_id="count").count() == 3
    runs = runs_of(execution)
    assert runs["poll"].outputs == {"iterationCount": 3}
    assert runs["after"].outputs == {"value": "3"}


def test_it_fails_wait_for_at_max_iterations_when_told(run_flow: Any) -> None:
    # A condition that never becomes true: failOnMaxReached fails the task (WaitFor.java resolveState).
    execution = run_flow(
        """
id: waiting-too-long
namespace: tests.flow
tasks:
  - id: poll
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "false"
    failOnMaxReached: true
    checkFrequency:
      maxIterations: 2
      interval: PT0S
    tasks:
      - id: tick
        type: io.kestra.plugin.core.debug.Return
        format: tick
"""
    )

    assert execution.state == State.FAILED
    assert execution.task_runs.filter(task_id="tick").count() == 2
    assert "Max iterations reached" in runs_of(execution)["poll"].error


def test_it_updates_execution_labels(run_flow: Any) -> None:
    execution = run_flow(
        """
id: labelled
namespace: tests.flow
labels:
  team: blue
tasks:
  - id: map
    type: io.kestra.plugin.core.execution.Labels
    labels:
      stage: "{{ flow.id }}"
      "{{ 'dyn' ~ 'amic' }}": "{{ 1 == 1 }}"
  - id: list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: team
        value: red
"""
    )

    assert execution.state == State.SUCCESS
    assert execution.labels == {
        "team": "red",
        "stage": "labelled",
        "dynamic": "true",
        "system.correlationId": str(execution.pk),  # Kestra labels every execution with it
    }


def test_it_sets_gets_and_deletes_state(run_flow: Any) -> None:
    execution = run_flow(
        """
id: stateful
namespace: tests.flow
tasks:
  - id: set1
    type: io.kestra.plugin.core.state.Set
    name: counter
    data:
      a: 1
  - id: set2
    type: io.kestra.core.tasks.states.Set
    name: counter
    data:
      b: "{{ outputs.set1.count + 1 }}"
  - id: get
    type: io.kestra.plugin.core.state.Get
    name: counter
  - id: shared
    type: io.kestra.plugin.core.state.Set
    name: counter
    namespace: true
    data:
      c: 3
  - id: delete
    type: io.kestra.plugin.core.state.Delete
    name: counter
  - id: gone
    type: io.kestra.plugin.core.state.Get
    name: counter
"""
    )

    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert runs["set2"].outputs == {"count": 2, "key": "tests.flow/states/stateful/counter"}
    assert runs["get"].outputs == {"count": 2, "data": {"a": 1, "b": "2"}}
    assert runs["delete"].outputs == {"deleted": True}
    assert runs["gone"].outputs == {"count": 0, "data": {}}
    assert list(KeyValue.objects.values_list("key", "value")) == [("states/counter", {"c": 3})]


def test_it_fetches_logs_by_task_and_level(run_flow: Any) -> None:
    execution = run_flow(
        """
id: fetching
namespace: tests.flow
tasks:
  - id: one
    type: io.kestra.plugin.core.debug.Echo
    format: first
  - id: two
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: second
  - id: by-task
    type: io.kestra.plugin.core.log.Fetch
    tasksId: [one]
  - id: errors-only
    type: io.kestra.plugin.core.log.Fetch
    level: ERROR
  - id: all
    type: io.kestra.core.tasks.log.Fetch
    executionId: "{{ execution.id }}"
"""
    )

    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert runs["by-task"].outputs["size"] == 1
    assert runs["by-task"].outputs["logs"][0]["message"] == "first"
    assert [line["message"] for line in runs["errors-only"].outputs["logs"]] == ["second"]
    assert runs["all"].outputs["size"] == 2
    assert runs["all"].outputs["uri"].startswith(f"portico://executions/{execution.pk}/logs")


def test_it_fetches_the_line_sleep_logs_before_waiting(run_flow: Any) -> None:
    execution = run_flow(
        """
id: fetching-after-a-nap
namespace: tests.flow
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: quiet
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: below INFO, not fetched
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
"""
    )

    assert execution.state == State.SUCCESS
    [line] = runs_of(execution)["fetch"].outputs["logs"]
    assert (line["taskId"], line["level"], line["message"]) == ("nap", "INFO", "Waiting for PT0.2S")


def test_it_resumes_another_execution_with_the_resume_task(run_flow: Any) -> None:
    paused = run_flow(
        """
id: waiting-for-resume
namespace: tests.flow
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: note
        type: STRING
"""
    )
    assert paused.state == State.PAUSED

    resumer = run_flow(
        """
id: resumer
namespace: tests.flow
inputs:
  - id: target
    type: STRING
tasks:
  - id: resume
    type: io.kestra.plugin.core.execution.Resume
    executionId: "{{ inputs.target }}"
    inputs:
      note: from the resumer
""",
        {"target": str(paused.pk)},
    )

    assert resumer.state == State.SUCCESS
    paused = finished(paused)
    assert paused.state == State.SUCCESS
    assert runs_of(paused)["pause"].outputs == {"onResume": {"note": "from the resumer"}}


def test_it_kills_the_child_execution_of_a_subflow_at_its_timeout(run_flow: Any, children: None) -> None:
    execution = run_flow(parent_flow("held", timeout="PT0.5S"), timeout=15)

    assert execution.state == State.FAILED
    runs = runs_of(execution)
    assert (runs["sub"].state, runs["sub"].error) == (State.FAILED, "Timeout after PT0.5S")
    assert "after" not in runs
    child = Execution.objects.get(parent_taskrun=runs["sub"])
    assert finished(child).state == State.KILLED  # not left paused forever

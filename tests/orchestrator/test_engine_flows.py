"""Flows run end to end: real broker, real in-process Celery worker, real database."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.flowmodel import secrets_at_rest, spec
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from orchestrator.state.signals import execution_state_changed
from orchestrator.worker import reconciler
from orchestrator.worker.task_runs import run_task
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def runs_of(execution: Execution) -> dict[str, TaskRun]:
    return {run.task_id: run for run in execution.task_runs.all()}


def test_it_runs_hello_kestra(run_flow: Any) -> None:
    execution = run_flow(
        """
id: hello-kestra
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hallo von Kestra
"""
    )

    assert execution.state == State.SUCCESS
    run = execution.task_runs.get()
    assert (run.task_id, run.state, run.attempts) == ("hello", State.SUCCESS, 1)
    log = LogLine.objects.get(execution=execution)
    assert (log.taskrun_id, log.level, log.message) == (run.pk, "INFO", "Hallo von Kestra")
    assert execution.started <= run.started <= run.ended <= execution.ended


def test_it_passes_outputs_to_later_tasks(run_flow: Any) -> None:
    execution = run_flow(
        """
id: outputs
namespace: tests
inputs:
  - id: name
    type: STRING
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} and again"
  - id: third
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.second.value }} ({{ task.id }} of {{ flow.namespace }}.{{ flow.id }})"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.first.value }}"
""",
        {"name": "Ada"},
    )

    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert runs["first"].outputs == {"value": "hello Ada"}
    assert runs["second"].outputs == {"value": "hello Ada and again"}
    assert [line.message for line in execution.logs.all()] == ["hello Ada and again (third of tests.outputs)"]
    assert execution.outputs == {"greeting": "hello Ada"}


def test_it_fails_the_execution_and_skips_later_tasks(run_flow: Any) -> None:
    execution = run_flow(
        """
id: failing
namespace: tests
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: ok
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "disk {{ outputs.before.value }} but full"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"""
    )

    assert execution.state == State.FAILED
    runs = runs_of(execution)
    assert set(runs) == {"before", "boom"}
    assert runs["before"].state == State.SUCCESS
    assert runs["boom"].state == State.FAILED
    assert runs["boom"].error == "disk ok but full"
    error = LogLine.objects.get(execution=execution, level="ERROR")
    assert (error.taskrun_id, error.message) == (runs["boom"].pk, "disk ok but full")


def test_it_fails_a_task_whose_template_names_an_unknown_variable(run_flow: Any) -> None:
    execution = run_flow(
        """
id: undefined
namespace: tests
tasks:
  - id: oops
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.nothing.value }}"
"""
    )

    assert execution.state == State.FAILED
    run = execution.task_runs.get()
    assert run.state == State.FAILED
    assert "nothing" in run.error


def test_it_runs_sequential_children_in_order(run_flow: Any) -> None:
    execution = run_flow(
        """
id: nested
namespace: tests
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: a
        type: io.kestra.plugin.core.debug.Return
        format: A
      - id: inner
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: b
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.a.value }}B"
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.b.value }}C"
"""
    )

    assert execution.state == State.SUCCESS
    runs = runs_of(execution)
    assert {task_id: run.state for task_id, run in runs.items()} == dict.fromkeys(
        ["group", "a", "inner", "b", "last"], State.SUCCESS
    )
    assert runs["group"].parent_id is None
    assert runs["a"].parent_id == runs["inner"].parent_id == runs["group"].pk
    assert runs["b"].parent_id == runs["inner"].pk
    assert runs["last"].parent_id is None
    assert runs["group"].started <= runs["a"].started <= runs["a"].ended <= runs["b"].started
    assert runs["b"].ended <= runs["inner"].ended <= runs["group"].ended <= runs["last"].started
    assert runs["group"].attempts == 0  # flowables run in the engine, not on a worker
    assert execution.logs.get().message == "ABC"


def test_it_fails_the_sequential_parent_of_a_failing_child(run_flow: Any) -> None:
    execution = run_flow(
        """
id: nested-fail
namespace: tests
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: skipped
        type: io.kestra.plugin.core.debug.Return
        format: x
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: y
"""
    )

    assert execution.state == State.FAILED
    runs = runs_of(execution)
    assert set(runs) == {"group", "boom"}
    assert runs["group"].state == runs["boom"].state == State.FAILED


def test_it_runs_errors_after_a_failure_and_finally_always(run_flow: Any) -> None:
    execution = run_flow(
        """
id: handlers
namespace: tests
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
errors:
  - id: on-error
    type: io.kestra.plugin.core.log.Log
    message: handling failure
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: cleaning up
"""
    )

    assert execution.state == State.FAILED
    runs = runs_of(execution)
    assert runs["on-error"].state == runs["cleanup"].state == State.SUCCESS
    assert runs["boom"].ended <= runs["on-error"].started <= runs["cleanup"].started
    assert [line.message for line in execution.logs.all()] == ["broken", "handling failure", "cleaning up"]


def test_it_runs_finally_but_not_errors_after_success(run_flow: Any) -> None:
    execution = run_flow(
        """
id: handlers-ok
namespace: tests
tasks:
  - id: fine
    type: io.kestra.plugin.core.debug.Return
    format: ok
errors:
  - id: on-error
    type: io.kestra.plugin.core.log.Log
    message: handling failure
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: cleaning up
"""
    )

    assert execution.state == State.SUCCESS
    assert set(runs_of(execution)) == {"fine", "cleanup"}


def test_it_masks_secret_inputs_in_stored_logs(run_flow: Any) -> None:
    execution = run_flow(
        """
id: secrets
namespace: tests
inputs:
  - id: token
    type: SECRET
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "token is {{ inputs.token }}"
  - id: leak
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "rejected {{ inputs.token }}"
""",
        {"token": "s3cr3t-value"},
    )

    assert execution.state == State.FAILED
    messages = [line.message for line in execution.logs.all()]
    hidden = "*" * len("s3cr3t-value")  # one star per character, as Kestra masks log lines
    assert messages == [f"token is {hidden}", f"rejected {hidden}"]
    assert runs_of(execution)["leak"].error == f"rejected {hidden}"
    # Stored encrypted (FAILED keeps it for a restart until the restart window passes).
    assert secrets_at_rest.reveal(execution.inputs["token"]) == "s3cr3t-value"
    assert "s3cr3t-value" not in str(execution.inputs)


def test_it_renders_context_variables(run_flow: Any) -> None:
    execution = run_flow(
        """
id: context
namespace: tests
labels:
  team: platform
inputs:
  - id: size
    type: INT
    defaults: 3
variables:
  greeting: "size {{ inputs.size }}"
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {{ vars.greeting }}|{{ labels.team }}|{{ execution.id }}|{{ taskrun.attemptsCount }}|{{ task.type }}
"""
    )

    assert execution.state == State.SUCCESS
    value = execution.task_runs.get().outputs["value"]
    assert value == f"size 3|platform|{execution.pk}|0|io.kestra.plugin.core.debug.Return"


def test_it_signals_every_execution_state_change(run_flow: Any) -> None:
    seen: list[tuple[str | None, str]] = []
    lock = threading.Lock()

    def receiver(sender: Any, execution: Execution, old: str | None, new: str, **_: Any) -> None:
        with lock:
            seen.append((old, new))

    execution_state_changed.connect(receiver)
    try:
        execution = run_flow(
            """
id: signals
namespace: tests
tasks:
  - id: one
    type: io.kestra.plugin.core.debug.Return
    format: "1"
"""
        )
    finally:
        execution_state_changed.disconnect(receiver)

    assert execution.state == State.SUCCESS
    assert seen == [(None, "CREATED"), ("CREATED", "RUNNING"), ("RUNNING", "SUCCESS")]


def test_it_ignores_a_redelivered_message(run_flow: Any) -> None:
    text = """
id: once
namespace: tests
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: only once
"""
    first = run_flow(text)
    run = first.task_runs.get()

    run_task.delay(str(run.pk))  # what the broker redelivers after a lost ack
    second = run_flow(text)  # the worker is FIFO: by the time this ends, the duplicate was consumed

    run.refresh_from_db()
    assert (first.state, second.state) == (State.SUCCESS, State.SUCCESS)
    assert (run.state, run.attempts) == (State.SUCCESS, 1)
    assert LogLine.objects.filter(execution=first).count() == 1


def test_it_redispatches_a_task_run_whose_message_was_lost(celery_worker: Any) -> None:
    flow = spec.parse_flow(
        """
id: lost
namespace: tests
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: delivered late
"""
    )
    execution = Execution.objects.create(
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=flow.revision,
        flow_source=flow.source,
        state=State.RUNNING,
    )
    TaskRun.objects.create(execution=execution, task_id="hello")  # created, never sent

    assert reconciler.redispatch_stale(older_than=timedelta(hours=1)) == 0
    assert reconciler.redispatch_stale(older_than=timedelta(0)) == 1

    execution = wait_for(execution)
    assert execution.state == State.SUCCESS
    assert execution.logs.get().message == "delivered late"

"""Flow ``sla`` through a real worker, following Kestra: https://kestra.io/docs/workflow-components/sla,
``SLA.java``/``MaxDurationSLA.java``/``ExecutionAssertionSLA.java``, ``ExecutorService.processViolation``
and the flows of ``SLATestCase`` in kestra-io/kestra."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.executor import walker
from orchestrator.flowmodel import input_types
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.state.models import TERMINAL, Execution, LogLine, State, TaskRun
from orchestrator.worker import reconciler

SLEEP = "io.kestra.plugin.core.flow.Sleep"
PAUSE = "io.kestra.plugin.core.flow.Pause"
LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"


def runs_of(execution: Execution) -> dict[str, TaskRun]:
    return {run.task_id: run for run in execution.task_runs.all()}


def messages(execution: Execution, level: str) -> list[str]:
    return list(LogLine.objects.filter(execution=execution, level=level).values_list("message", flat=True))


def settled(execution: Execution, task_id: str, timeout: float = 15.0) -> TaskRun:
    """The run of ``task_id`` once it has ended (runs after the end of an execution finish later)."""
    deadline = time.monotonic() + timeout
    while True:
        run = execution.task_runs.filter(task_id=task_id).first()
        if run is not None and run.state in TERMINAL:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run of {task_id} not ended after {timeout} s: {run and run.state}")
        time.sleep(0.05)


def ended(execution: Execution, timeout: float = 15.0) -> Execution:
    """The execution once terminal (``wait_for`` also returns on PAUSED)."""
    deadline = time.monotonic() + timeout
    while True:
        execution.refresh_from_db()
        if execution.state in TERMINAL:
            return execution
        if time.monotonic() > deadline:
            pytest.fail(f"execution still {execution.state} after {timeout} s")
        time.sleep(0.05)


def errors_of(text: str) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="flows/x.yml")
    return [str(e) for e in caught.value.errors]


# --- MAX_DURATION ----------------------------------------------------------------------------------------

# A Pause holds no worker: the countdown message is taken on time, and what still waits is stopped.
MAX_DURATION_FAIL = f"""
id: sla-max-duration-fail
namespace: tests.sla
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: FAIL
    duration: PT0.5S
    labels:
      sla: miss
tasks:
  - id: wait
    type: {PAUSE}
    pauseDuration: PT20S
  - id: never
    type: {LOG}
    message: never
afterExecution:
  - id: after
    type: {LOG}
    message: "ended {{{{ execution.state }}}}"
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_fails_an_execution_that_outlives_its_max_duration(celery_worker: Any) -> None:
    started = time.monotonic()
    execution = walker.start_execution(parse_flow(MAX_DURATION_FAIL, file="test.yml"), {})
    execution = ended(execution)

    assert execution.state == State.FAILED
    assert time.monotonic() - started < 10  # not the 20 s pause
    assert execution.labels["sla"] == "miss"
    runs = runs_of(execution)
    assert "never" not in runs
    assert runs["wait"].state == State.KILLED  # what still waited is stopped
    warnings = messages(execution, "WARN")
    assert any(m.startswith("SLA 'maxDuration' violated: execution duration of PT0.") for m in warnings)
    assert any("exceed the maximum duration of PT0.5S." in m for m in warnings)
    errors = messages(execution, "ERROR")
    assert any(m.startswith("Execution failed due to SLA 'maxDuration' violated: ") for m in errors)
    # afterExecution still runs once the SLA has ended the execution, and sees its final state.
    assert settled(execution, "after").state == State.SUCCESS
    assert LogLine.objects.filter(taskrun__task_id="after", message="ended FAILED").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_kestras_max_duration_flow_fails_even_when_its_task_holds_the_only_worker(run_flow: Any) -> None:
    # SLATestCase.maxDurationSLAShouldFail: a 2 s Sleep under a 0.5 s MAX_DURATION. The test worker has one
    # slot, busy with the sleep: the walker applies the passed deadline before the execution can end.
    execution = run_flow(
        f"""
id: sla-max-duration-fail
namespace: tests.sla
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: FAIL
    duration: PT0.5S
tasks:
  - id: sleep
    type: {SLEEP}
    duration: PT2S
  - id: never
    type: {LOG}
    message: never
""",
        timeout=15,
    )
    assert execution.state == State.FAILED
    assert "never" not in runs_of(execution)


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_leaves_an_execution_within_its_max_duration_alone(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: sla-max-duration-ok
namespace: tests.sla
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: FAIL
    duration: PT10S
tasks:
  - id: sleep
    type: {SLEEP}
    duration: PT0.2S
"""
    )
    assert execution.state == State.SUCCESS
    assert not [m for m in messages(execution, "WARN") if "SLA" in m]


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_cancels_on_max_duration_with_cancel(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: sla-max-duration-cancel
namespace: tests.sla
sla:
  - id: tooLong
    type: MAX_DURATION
    behavior: CANCEL
    duration: PT0.3S
tasks:
  - id: wait
    type: {PAUSE}
    pauseDuration: PT20S
""",
        timeout=15,
    )
    execution = ended(execution)
    assert execution.state == State.CANCELLED
    assert settled(execution, "wait").state == State.KILLED
    # CANCEL logs the violation but no "Execution failed" error (Kestra).
    assert any(m.startswith("SLA 'tooLong' violated:") for m in messages(execution, "WARN"))
    assert not messages(execution, "ERROR")


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_only_labels_and_logs_with_none_and_the_execution_goes_on(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: sla-max-duration-none
namespace: tests.sla
sla:
  - id: slow
    type: MAX_DURATION
    behavior: NONE
    duration: PT0.2S
    labels:
      - key: sla
        value: late
tasks:
  - id: sleep
    type: {SLEEP}
    duration: PT1.5S
  - id: then
    type: {RETURN}
    format: done
""",
        timeout=15,
    )
    assert execution.state == State.SUCCESS
    assert runs_of(execution)["then"].state == State.SUCCESS
    assert execution.labels["sla"] == "late"
    reconciler.reconcile()  # the sweep does not act on it again
    violated = [m for m in messages(execution, "WARN") if m.startswith("SLA 'slow' violated:")]
    assert len(violated) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_lost_countdown_is_caught_by_the_reconciler(celery_worker: Any) -> None:
    flow = parse_flow(
        f"""
id: sla-lost-message
namespace: tests.sla
sla:
  - id: hour
    type: MAX_DURATION
    behavior: FAIL
    duration: PT1H
tasks:
  - id: sleep
    type: {SLEEP}
    duration: PT30S
""",
        file="test.yml",
    )
    execution = walker.start_execution(flow, {})
    deadline = time.monotonic() + 10
    while not execution.task_runs.filter(task_id="sleep", state=State.RUNNING).exists():
        assert time.monotonic() < deadline, "the sleep never started"
        time.sleep(0.05)
    assert reconciler.reconcile()["timed_out"] == 0  # not due yet: nothing happens
    # The countdown message would only come in an hour: move the creation back instead of waiting.
    Execution.objects.filter(pk=execution.pk).update(created=execution.created - timedelta(hours=2))

    assert reconciler.reconcile()["timed_out"] == 1
    execution.refresh_from_db()
    assert execution.state == State.FAILED
    assert settled(execution, "sleep").state == State.KILLED


# --- EXECUTION_ASSERTION ---------------------------------------------------------------------------------

# SLATestCase's flow ``sla-execution-condition`` (its two SLAs share an id there; ids are unique here).
ASSERTION_FLOW = f"""
id: sla-execution-condition
namespace: tests.sla
inputs:
  - id: string
    type: SELECT
    values: [PASS, CANCEL, LABEL]
    defaults: PASS
sla:
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: CANCEL
    assert: "{{{{ inputs.string != 'CANCEL' }}}}"
  - id: label
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{{{ inputs.string != 'LABEL' }}}}"
    labels:
      sla: violated
tasks:
  - id: return
    type: {RETURN}
    format: "true"
"""


@pytest.mark.parametrize(
    ("value", "state", "labelled"),
    [("PASS", State.SUCCESS, False), ("CANCEL", State.CANCELLED, False), ("LABEL", State.SUCCESS, True)],
    ids=["pass", "cancel", "label"],
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_applies_an_execution_assertion_on_every_change(
    run_flow: Any, value: str, state: State, labelled: bool
) -> None:
    execution = run_flow(ASSERTION_FLOW, {"string": value})

    assert execution.state == state
    assert (execution.labels.get("sla") == "violated") is labelled
    if value == "CANCEL":
        assert "return" not in runs_of(execution)  # cancelled before its first task
        assert "SLA 'condition' violated: assertion is false: {{ inputs.string != 'CANCEL' }}." in messages(
            execution, "WARN"
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_it_fails_when_an_assertion_on_outputs_turns_false(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: sla-demo
namespace: tests.sla
sla:
  - id: assert_output
    type: EXECUTION_ASSERTION
    assert: "{{{{ outputs.mytask.value == 'expected output' }}}}"
    behavior: FAIL
    labels:
      sla: miss
tasks:
  - id: mytask
    type: {RETURN}
    format: something else
  - id: next
    type: {LOG}
    message: never
"""
    )
    assert execution.state == State.FAILED
    assert execution.labels["sla"] == "miss"
    assert runs_of(execution)["mytask"].state == State.SUCCESS
    assert "next" not in runs_of(execution)
    # Before mytask has run the assertion cannot be rendered: Kestra logs it and ignores the SLA then.
    assert any(
        m.startswith("Ignoring SLA 'assert_output' because of the error:")
        for m in messages(execution, "ERROR")
    )
    assert any(
        m.startswith("Execution failed due to SLA 'assert_output'") for m in messages(execution, "ERROR")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_true_assertion_on_outputs_lets_the_execution_succeed(run_flow: Any) -> None:
    flow = f"""
id: sla-demo-ok
namespace: tests.sla
inputs:
  - id: value
    type: STRING
sla:
  - id: assert_output
    type: EXECUTION_ASSERTION
    assert: "{{{{ inputs.value == 'expected output' }}}}"
    behavior: FAIL
tasks:
  - id: mytask
    type: {RETURN}
    format: "{{{{ inputs.value }}}}"
"""
    execution = run_flow(flow, {"value": "expected output"})
    assert execution.state == State.SUCCESS
    assert not messages(execution, "WARN")


# --- refused at load ---------------------------------------------------------------------------------------


def test_it_validates_sla_items_at_load_with_file_line_and_field() -> None:
    errors = errors_of(
        """
id: sla-bad
namespace: tests.sla
sla:
  - id: a
    type: MAX_DURATION
    behavior: FAIL
    duration: soon
  - id: a
    type: EXECUTION_ASSERTION
    behavior: NONE
    duration: PT1S
  - type: MAX_DURATION
    duration: PT0S
  - id: d
    type: MAX_DURATION
    behavior: FAIL
    duration: PT1S
    labels:
      system.readOnly: "true"
  - id: e
    type: EXECUTION_ASSERTION
    behavior: FAIL
    assert: "{{ unclosed"
    colour: red
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
    )
    assert "flows/x.yml:8: sla[0].duration: must be an ISO-8601 duration like PT1M30S, got 'soon'" in errors
    assert "flows/x.yml:9: sla[1].id: duplicate SLA id 'a'" in errors
    assert "flows/x.yml:12: sla[1].duration: only a MAX_DURATION SLA has 'duration'" in errors
    assert "flows/x.yml:9: sla[1].assert: required property missing" in errors
    assert "flows/x.yml:13: sla[2].id: required property missing" in errors
    assert "flows/x.yml:13: sla[2].behavior: required property missing" in errors
    assert "flows/x.yml:14: sla[2].duration: must be a positive duration" in errors
    assert (
        "flows/x.yml:20: sla[3].labels.system.readOnly: system labels can only be set by the engine" in errors
    )
    assert any(e.startswith("flows/x.yml:24: sla[4].assert: invalid expression") for e in errors)
    assert "flows/x.yml:25: sla[4].colour: unknown property" in errors


def test_it_refuses_an_sla_type_it_cannot_honour() -> None:
    errors = errors_of(
        """
id: sla-type
namespace: tests.sla
sla:
  - id: a
    type: EXECUTION_CONDITION
    behavior: FAIL
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
    )
    assert errors == ["flows/x.yml:6: sla[0].type: SLA type 'EXECUTION_CONDITION' is not supported yet"]


def test_it_resolves_inputs_the_sla_flow_declares() -> None:
    flow = parse_flow(ASSERTION_FLOW, file="flows/x.yml")
    assert [(s.id, s.type, s.behavior) for s in flow.sla] == [
        ("condition", "EXECUTION_ASSERTION", "CANCEL"),
        ("label", "EXECUTION_ASSERTION", "NONE"),
    ]
    assert input_types.resolve_inputs(flow, {}) == {"string": "PASS"}

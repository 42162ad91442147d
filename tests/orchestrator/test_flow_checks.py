"""Flow ``checks``, following https://kestra.io/docs/workflow-components/checks, ``Check.java``,
``FlowService.getFailedChecks`` and ``ExecutionController.createExecution`` in kestra-io/kestra."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.executor import walker
from orchestrator.flowmodel import input_types
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.state.models import Execution, LogLine, State
from tests.conftest import wait_for
from tests.orchestrator.test_cli import cli_env, manage, write

__all__ = ["cli_env"]

GUARDED = """
id: simple_check
namespace: tests.checks
inputs:
  - id: name
    type: STRING
checks:
  - condition: "{{ inputs.name == 'Kestra' }}"
    message: "Sorry, this flow can only run with name Kestra"
    style: ERROR
    behavior: BEHAVIOR
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
afterExecution:
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "after {{ execution.state }}"
"""


def guarded(behavior: str = "BLOCK_EXECUTION") -> Any:
    return parse_flow(GUARDED.replace("BEHAVIOR", behavior), file="test.yml")


def start(flow: Any, raw: dict[str, Any], **kwargs: Any) -> Execution:
    return walker.start_execution(flow, input_types.resolve_inputs(flow, raw), **kwargs)


def errors_of(text: str) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="flows/x.yml")
    return [str(e) for e in caught.value.errors]


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_passing_check_lets_the_execution_run(celery_worker: Any) -> None:
    execution = wait_for(start(guarded(), {"name": "Kestra"}))
    assert execution.state == State.SUCCESS


@pytest.mark.django_db
def test_checks_block_execution_creates_nothing_and_says_why() -> None:
    with pytest.raises(walker.ChecksBlocked) as caught:
        start(guarded("BLOCK_EXECUTION"), {"name": "Ada"})
    assert str(caught.value) == (
        "Flow execution blocked: one or more condition checks evaluated to false.\n"
        "Failed checks: Sorry, this flow can only run with name Kestra"
    )
    assert not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_checks_fail_execution_creates_it_failed_with_nothing_run(celery_worker: Any) -> None:
    execution = wait_for(start(guarded("FAIL_EXECUTION"), {"name": "Ada"}))
    assert execution.state == State.FAILED
    assert not execution.task_runs.filter(task_id="hello").exists()
    warning = LogLine.objects.get(execution=execution, level="WARN").message
    assert warning.startswith(
        "Flow execution failed because one or more condition checks evaluated to false."
    )
    assert "Sorry, this flow can only run with name Kestra" in warning
    # What runs after an end still runs (Kestra creates the execution FAILED; its executor ends it).
    deadline = time.monotonic() + 15
    while not LogLine.objects.filter(execution=execution, message="after FAILED").exists():
        assert time.monotonic() < deadline, "afterExecution never ran"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_checks_create_execution_runs_it_anyway(celery_worker: Any) -> None:
    execution = wait_for(start(guarded("CREATE_EXECUTION"), {"name": "Ada"}))
    assert execution.state == State.SUCCESS
    assert execution.task_runs.get(task_id="hello").outputs == {"value": "hello Ada"}


MIXED = """
id: mixed
namespace: tests.checks
inputs:
  - id: n
    type: INT
checks:
  - condition: "{{ inputs.n > 1 }}"
    message: more than one
    behavior: CREATE_EXECUTION
  - condition: "{{ inputs.n > 2 }}"
    message: more than two
    behavior: FAIL_EXECUTION
  - condition: "{{ inputs.n > 3 }}"
    message: more than three
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_the_strictest_behavior_of_the_failed_checks_wins(celery_worker: Any) -> None:
    flow = parse_flow(MIXED, file="test.yml")
    # n=3: only the default (BLOCK_EXECUTION) check fails.
    with pytest.raises(walker.ChecksBlocked) as caught:
        start(flow, {"n": 3})
    assert caught.value.messages == ["more than three"]
    # n=0: all three fail; BLOCK_EXECUTION beats FAIL_EXECUTION and CREATE_EXECUTION.
    with pytest.raises(walker.ChecksBlocked) as caught:
        start(flow, {"n": 0})
    assert caught.value.messages == ["more than one", "more than two", "more than three"]
    # n=2 with the blocking check removed: FAIL_EXECUTION beats CREATE_EXECUTION.
    blocking = '  - condition: "{{ inputs.n > 3 }}"\n    message: more than three\n'
    lenient = parse_flow(MIXED.replace(blocking, ""), file="test.yml")
    assert wait_for(start(lenient, {"n": 2})).state == State.FAILED
    assert wait_for(start(lenient, {"n": 4})).state == State.SUCCESS


@pytest.mark.django_db
def test_a_check_that_cannot_be_evaluated_blocks() -> None:
    flow = parse_flow(
        """
id: broken
namespace: tests.checks
checks:
  - condition: "{{ inputs.missing == 1 }}"
    message: never shown
    behavior: CREATE_EXECUTION
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
""",
        file="test.yml",
    )
    with pytest.raises(walker.ChecksBlocked) as caught:
        start(flow, {})
    assert caught.value.messages[0].startswith("Failed to evaluate check condition. Cause: ")


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_checks_only_guard_executions_asked_for_not_those_a_trigger_starts(celery_worker: Any) -> None:
    # Kestra evaluates checks in its create-execution API only: a trigger's execution is not checked.
    trigger = {"id": "every_hour", "type": "io.kestra.plugin.core.trigger.Schedule"}
    execution = wait_for(start(guarded(), {"name": "Ada"}, trigger=trigger))
    assert execution.state == State.SUCCESS


def test_flow_run_exits_non_zero_with_the_check_message(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write(tmp_path, "guarded.yml", GUARDED.replace("BEHAVIOR", "BLOCK_EXECUTION"))

    blocked = manage("flow", "run", path, "-i", "name=Ada", env=cli_env)
    assert blocked.returncode == 1
    assert "Flow execution blocked: one or more condition checks evaluated to false." in blocked.stderr
    assert "Failed checks: Sorry, this flow can only run with name Kestra" in blocked.stderr

    allowed = manage("flow", "run", path, "-i", "name=Kestra", env=cli_env)
    assert allowed.returncode == 0, allowed.stderr


def test_it_validates_checks_at_load_with_file_line_and_field() -> None:
    errors = errors_of(
        """
id: bad-checks
namespace: tests.checks
checks:
  - message: no condition
  - condition: "{{ true }}"
    message: m
    style: LOUD
    behavior: IGNORE
  - condition: "{{ unclosed"
    when: "{{ true }}"
    message: m
  - condition: "{{ unclosed"
    message: m
  - condition: "{{ true }}"
    level: x
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
    )
    assert "flows/x.yml:5: checks[0].condition: required property missing" in errors
    assert (
        "flows/x.yml:8: checks[1].style: must be one of ERROR, SUCCESS, WARNING, INFO, got 'LOUD'" in errors
    )
    expected = "must be one of BLOCK_EXECUTION, FAIL_EXECUTION, CREATE_EXECUTION, got 'IGNORE'"
    assert f"flows/x.yml:9: checks[1].behavior: {expected}" in errors
    assert "flows/x.yml:11: checks[2].when: give 'when' or 'condition', not both" in errors
    assert any(e.startswith("flows/x.yml:13: checks[3].condition: invalid expression") for e in errors)
    assert "flows/x.yml:16: checks[4].level: unknown property" in errors
    assert "flows/x.yml:15: checks[4].message: required property missing" in errors


def test_it_reads_kestras_defaults_and_the_when_spelling() -> None:
    flow = parse_flow(
        """
id: defaults
namespace: tests.checks
checks:
  - when: "{{ true }}"
    message: m
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
""",
        file="flows/x.yml",
    )
    [check] = flow.checks
    assert (check.condition, check.style, check.behavior) == ("{{ true }}", "INFO", "BLOCK_EXECUTION")

"""Semantics checked against Kestra's docs and source, not against our own examples.

Each test names what it follows: a kestra.io page or a file of kestra-io/kestra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.state.models import Execution, LogLine, State, TaskRun
from tests.orchestrator.test_cli import cli_env, manage, write

__all__ = ["cli_env"]  # the CLI fixture, used by the ``flow run`` tests below

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"


def errors_of(text: str) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="flows/x.yml")
    return [str(e) for e in caught.value.errors]


def runs_of(execution: Execution) -> dict[str, TaskRun]:
    return {run.task_id: run for run in execution.task_runs.all()}


# --- LoopUntil (formerly WaitFor) ----------------------------------------------------------------------
# https://kestra.io/plugins/core/flow/io.kestra.plugin.core.flow.LoopUntil and
# https://kestra.io/docs/migration-guide/0.23.0/loop-until-defaults; WaitFor.java in kestra-io/kestra.


def test_loop_until_is_the_current_name_and_wait_for_its_alias() -> None:
    loop = task_api.lookup("io.kestra.plugin.core.flow.LoopUntil")
    assert loop is not None
    assert task_api.lookup("io.kestra.plugin.core.flow.WaitFor") is loop
    assert task_api.lookup("WaitFor") is loop


def test_loop_until_defaults_follow_kestra_0_23() -> None:
    loop = task_api.lookup("io.kestra.plugin.core.flow.LoopUntil")
    frequency = loop.props_model.model_validate({"condition": "x"}).checkFrequency
    assert (frequency.interval, frequency.maxIterations, frequency.maxDuration) == ("PT1M", None, None)


def test_loop_until_runs_once_and_stops_when_the_condition_is_true_after_it(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-once
namespace: tests.semantics
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{{{ true }}}}"
    tasks:
      - id: step
        type: {RETURN}
        format: "{{{{ outputs.loop.iterationCount }}}}"
"""
    )
    assert execution.state == State.SUCCESS
    assert execution.task_runs.filter(task_id="step").count() == 1
    assert runs_of(execution)["step"].outputs == {"value": "1"}


def test_loop_until_repeats_until_the_condition_becomes_true(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-until
namespace: tests.semantics
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{{{ outputs.step.value == '4' }}}}"
    checkFrequency:
      interval: PT0.01S
    tasks:
      - id: step
        type: {RETURN}
        format: "{{{{ outputs.loop.iterationCount }}}}"
"""
    )
    assert execution.state == State.SUCCESS
    assert execution.task_runs.filter(task_id="step").count() == 4
    assert runs_of(execution)["loop"].outputs == {"iterationCount": 4}


def test_loop_until_ends_without_failing_at_the_maximum_unless_told(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-max
namespace: tests.semantics
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{{{ false }}}}"
    checkFrequency:
      interval: PT0S
      maxIterations: 3
    tasks:
      - {{id: step, type: {RETURN}, format: x}}
"""
    )
    assert execution.state == State.SUCCESS
    assert execution.task_runs.filter(task_id="step").count() == 3
    warn = LogLine.objects.filter(execution=execution, level="WARN").values_list("message", flat=True)
    assert "Max iterations reached" in list(warn)


def test_loop_until_fails_at_the_maximum_duration_with_fail_on_max_reached(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-max-duration
namespace: tests.semantics
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{{{ false }}}}"
    failOnMaxReached: true
    checkFrequency:
      interval: PT0.1S
      maxDuration: PT0.3S
    tasks:
      - {{id: step, type: {RETURN}, format: x}}
"""
    )
    assert execution.state == State.FAILED
    assert "Max duration reached" in runs_of(execution)["loop"].error


# --- Switch: SwitchTaskValidator.java and FlowableUtils.resolveState ---------------------------------


def test_a_switch_with_neither_cases_nor_defaults_is_rejected_at_load() -> None:
    text = (
        "id: f\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n"
    )
    assert errors_of(text) == [
        "flows/x.yml:4: tasks[0]: no task defined: neither cases nor defaults have any tasks"
    ]


def test_a_switch_with_only_defaults_loads() -> None:
    text = (
        "id: f\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n"
        f"    value: x\n    defaults:\n      - {{id: d, type: {RETURN}, format: x}}\n"
    )
    assert parse_flow(text).tasks[0].branches["defaults"][0].id == "d"


# --- ForEach over null values: FlowableUtils.resolveEachTasks ----------------------------------------


def test_a_foreach_over_values_containing_null_fails_with_kestras_message(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-null
namespace: tests.semantics
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", null, "b"]
    tasks:
      - {{id: step, type: {RETURN}, format: x}}
"""
    )
    assert execution.state == State.FAILED
    assert (
        runs_of(execution)["each"].error == "ForEach: Found '1' null values on Each, with values=[a, null, b]"
    )
    assert not execution.task_runs.filter(task_id="step").exists()


# --- logLevel: RunContextLogger drops lines below the task's logLevel (default TRACE) -----------------


def test_log_level_filters_what_a_task_logs(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: log-levels
namespace: tests.semantics
tasks:
  - {{id: quiet, type: {LOG}, message: hidden, level: TRACE, logLevel: INFO}}
  - {{id: loud, type: {LOG}, message: shown, level: WARN, logLevel: INFO}}
  - {{id: unset, type: {LOG}, message: traced, level: TRACE}}
"""
    )
    assert execution.state == State.SUCCESS
    lines = dict(LogLine.objects.filter(execution=execution).values_list("message", "level"))
    assert "hidden" not in lines
    assert lines["shown"] == "WARN"
    assert lines["traced"] == "TRACE"


# --- pluginDefaults / taskDefaults: PluginDefaultService.java --------------------------------------


def test_plugin_defaults_fill_unset_values_and_forced_ones_override() -> None:
    flow = parse_flow(
        f"""
id: defaults
namespace: tests.semantics
pluginDefaults:
  - type: io.kestra.plugin.core.log
    forced: true
    values:
      level: ERROR
  - type: {LOG}
    values:
      message: from defaults
      level: DEBUG
tasks:
  - {{id: a, type: {LOG}, level: TRACE}}
  - {{id: b, type: {LOG}, message: own}}
  - {{id: c, type: {RETURN}, format: untouched}}
"""
    )
    assert flow.find_task("a").props == {"message": "from defaults", "level": "ERROR"}
    assert flow.find_task("b").props == {"message": "own", "level": "ERROR"}
    assert flow.find_task("c").props == {"format": "untouched"}


def test_the_first_matching_default_wins_forced_or_not() -> None:
    flow = parse_flow(
        f"""
id: defaults-order
namespace: tests.semantics
pluginDefaults:
  - {{type: {RETURN}, values: {{format: first}}}}
  - {{type: {RETURN}, values: {{format: second}}}}
  - {{type: {LOG}, forced: true, values: {{message: first}}}}
  - {{type: {LOG}, forced: true, values: {{message: second}}}}
tasks:
  - {{id: r, type: {RETURN}}}
  - {{id: l, type: {LOG}, message: own}}
"""
    )
    assert flow.find_task("r").props == {"format": "first"}
    assert flow.find_task("l").props["message"] == "first"


def test_task_defaults_is_the_older_name_and_applies_to_nested_tasks_and_old_names() -> None:
    flow = parse_flow(
        f"""
id: task-defaults
namespace: tests.semantics
taskDefaults:
  - type: io.kestra.core.tasks.log.Log
    values:
      message: third
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - {{id: inner, type: {LOG}}}
"""
    )
    assert flow.find_task("inner").props == {"message": "third"}
    assert "taskDefaults" not in flow.extra


def test_a_plugin_default_naming_an_unknown_property_is_refused() -> None:
    text = f"""\
id: bad-defaults
namespace: n
pluginDefaults:
  - type: {RETURN}
    values:
      nope: 1
tasks:
  - {{id: r, type: {LOG}, message: x}}
"""
    assert errors_of(text) == [
        f"flows/x.yml:6: pluginDefaults[0].values.nope: No property 'nope' exists in plugin '{RETURN}'"
    ]


# --- flow run waits through timed pauses and retries (issue 11, Pause.java pauseDuration) -------------

TIMED_PAUSE = """\
id: timed-pause
namespace: tests.semantics
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: resumed
outputs:
  - id: said
    type: STRING
    value: "{{ outputs.after.value }}"
"""

NEW_EXECUTION_RETRY = """\
id: retried
namespace: tests.semantics
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: nope
    retry:
      type: constant
      interval: PT0.5S
      maxAttempt: 2
      behavior: CREATE_NEW_EXECUTION
"""


@pytest.mark.django_db(transaction=True)
def test_flow_run_waits_through_a_timed_pause(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = manage("flow", "run", write(tmp_path, "pause.yml", TIMED_PAUSE), "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["state"] == "SUCCESS"
    assert report["outputs"] == {"said": "resumed"}


@pytest.mark.django_db(transaction=True)
def test_flow_run_follows_a_retried_execution_to_its_end(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = manage("flow", "run", write(tmp_path, "retry.yml", NEW_EXECUTION_RETRY), "--json", env=cli_env)
    assert result.stdout, result.stderr
    # The first execution ends RETRIED (terminal); before, flow run stopped there and printed RETRIED.
    assert json.loads(result.stdout)["state"] == "FAILED"

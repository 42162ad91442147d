"""The compatibility report, run on the project's own test flows laid out like the Kestra corpus."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.compat import report as compat
from tests.compat import runner as compat_run
from tests.compat.expectations import (
    EXPECTATIONS,
    Contains,
    ExecutionId,
    Expectation,
    Keys,
    Listeners,
    Log,
    StoredFile,
    Subflows,
    TaskRunId,
)

FLOWS = Path(__file__).parent.parent / "flows"


def corpus(tmp_path: Path, valid: list[str], invalid: list[str]) -> Path:
    for folder, names in (("valid", valid), ("invalid", invalid)):
        (tmp_path / folder).mkdir()
        for name in names:
            shutil.copy(FLOWS / folder / name, tmp_path / folder / name)
    return tmp_path


def test_it_passes_when_valid_flows_load_and_invalid_ones_are_rejected(tmp_path: Path, capsys) -> None:
    root = corpus(
        tmp_path, ["hello.yml", "outputs-chain.yml"], ["unknown-task-type.yml", "unsupported-task-type.yml"]
    )
    assert compat.main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "loaded OK:          2" in out
    assert "rejected:                          1" in out
    assert "rejected only as not supported:    1" in out
    assert f"{root / 'invalid' / 'unknown-task-type.yml'}:9: tasks[1].type: unknown task type" in out


def test_it_counts_unsupported_types_in_valid_flows_without_failing(tmp_path: Path) -> None:
    root = corpus(tmp_path, [], [])
    shutil.copy(FLOWS / "invalid" / "unsupported-task-type.yml", root / "valid" / "template.yml")
    report = compat.check(root)
    assert report.ok
    assert list(report.unsupported.values()) == [["io.kestra.plugin.core.flow.Template"]]


def test_it_fails_when_a_valid_flow_breaks_or_an_invalid_one_loads(tmp_path: Path, capsys) -> None:
    root = corpus(tmp_path, [], [])
    shutil.copy(FLOWS / "invalid" / "bad-log-level.yml", root / "valid" / "bad.yml")
    shutil.copy(FLOWS / "valid" / "hello.yml", root / "invalid" / "hello.yml")
    assert compat.main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "BUG bad.yml:" in out
    assert "ACCEPTED (bug) hello.yml" in out


def test_it_explains_a_missing_corpus(tmp_path: Path, capsys) -> None:
    assert compat.main([str(tmp_path / "absent")]) == 2
    assert "no such directory" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_it_runs_flows_kestra_tests_execute_and_reports_mismatches(
    tmp_path: Path, celery_worker: object
) -> None:
    """Our own small flows, saved under names the expectation table knows, go through ``flow run``."""
    (tmp_path / "valid").mkdir()
    (tmp_path / "valid" / "minimal.yaml").write_text(
        "id: minimal\nnamespace: tests\ntasks:\n  - {id: hi, type: Log, message: hi}\n"
    )
    (tmp_path / "valid" / "return.yaml").write_text(
        "id: return\nnamespace: tests\ntasks:\n  - {id: boom, type: io.kestra.plugin.core.execution.Fail}\n"
    )
    loaded = compat.check(tmp_path).loaded

    report = compat_run.run_all(loaded, tmp_path, worker=False)

    assert (report.selected, report.executed, report.matching) == (2, 2, 1)
    [mismatch] = report.mismatches
    assert mismatch.file == "return.yaml"
    assert "state FAILED != SUCCESS" in mismatch.problems
    out = io.StringIO()
    compat.print_executions(report, len(loaded), out)
    assert "loaded: 2; runnable with an expectation: 2; executed: 2; matching: 1" in out.getvalue()
    assert "return.yaml  state FAILED != SUCCESS; task runs 1 != 3" in out.getvalue()
    checked = compat.check(tmp_path)
    assert compat.exit_status(checked, report) == 1  # a mismatch fails `make compat`
    matching_only = compat_run.RunReport(selected=1, outcomes=[o for o in report.outcomes if o.matches])
    assert compat.exit_status(checked, matching_only) == 0
    assert compat.exit_status(checked, compat_run.RunReport(selected=2, outcomes=matching_only.outcomes)) == 1


REQUIRED_BUT_UNCHECKED = """
id: asks
namespace: tests
inputs:
  - id: crash
    type: STRING
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.crash is defined }}"
"""


@pytest.mark.django_db(transaction=True)
def test_it_hands_raw_inputs_to_the_execution_without_validating_them(
    tmp_path: Path, celery_worker: object
) -> None:
    """Kestra's test runner gives an execution no inputs at all unless the test passes some: a required
    input is then simply undefined. The CLI (like Kestra's API) refuses the same run."""
    path = tmp_path / "asks.yaml"
    path.write_text(REQUIRED_BUT_UNCHECKED)
    case = Expectation(state="SUCCESS", task_runs=1)

    assert compat_run.run_one(path, case)["state"] == "NOT RUN"
    result = compat_run.run_one(path, replace(case, needs="raw-inputs"))
    assert compat_run.compare(case, result) == []


SELF_TOGGLING = """
id: wakes-up
namespace: tests
tasks:
  - id: on
    type: io.kestra.plugin.core.trigger.Toggle
    trigger: nightly
    enabled: true
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"""


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_disabled_trigger_first_and_reports_it_after_the_run(
    tmp_path: Path, celery_worker: object
) -> None:
    path = tmp_path / "wakes-up.yaml"
    path.write_text(SELF_TOGGLING)
    case = Expectation(state="SUCCESS", task_runs=1, outputs={"@triggers.nightly": True})

    result = compat_run.run_one(path, replace(case, needs="trigger-disabled:nightly"))

    assert result["triggers"] == {"nightly": True}
    assert compat_run.compare(case, result) == []
    assert "output @triggers.nightly = None" in compat_run.compare(case, {**result, "triggers": {}})[0]


def test_it_skips_a_flow_whose_subflow_is_not_in_the_corpus(tmp_path: Path) -> None:
    """task-flow.yaml launches io.kestra.tests.switch in its Kestra test: without it, nothing to compare."""
    (tmp_path / "valid").mkdir()
    (tmp_path / "valid" / "task-flow.yaml").write_text(
        "id: task-flow\nnamespace: io.kestra.tests\ntasks:\n  - {id: hi, type: Log, message: hi}\n"
    )
    loaded = compat.check(tmp_path).loaded
    skipped: dict[str, str] = {}

    assert compat_run.selected(loaded, skipped) == []
    assert skipped == {"task-flow.yaml": "needs subflow io.kestra.tests.switch, not in the corpus"}

    (tmp_path / "valid" / "switch.yaml").write_text(
        "id: switch\nnamespace: io.kestra.tests\ntasks:\n  - {id: hi, type: Log, message: hi}\n"
    )
    assert [path.name for path, _ in compat_run.selected(compat.check(tmp_path).loaded)] == ["task-flow.yaml"]


# --- the checks beyond the final state: each one can fail ------------------------------------------

WRONG_LOGS = """
id: logs
namespace: io.kestra.tests
tasks:
  - {id: t1, type: io.kestra.plugin.core.log.Log, message: "first t1", level: INFO}
  - {id: t2, type: io.kestra.plugin.core.log.Log, message: "second, but not Kestra's", level: WARN}
  - {id: t3, type: io.kestra.plugin.core.log.Log, message: "third logs", level: ERROR}
  - {id: t4, type: io.kestra.plugin.core.log.Log, message: "fourth t4", level: ERROR}
  - {id: t5, type: io.kestra.plugin.core.log.Log, message: "five"}
"""


@pytest.mark.django_db(transaction=True)
def test_a_wrong_log_line_fails_the_run(tmp_path: Path, celery_worker: object) -> None:
    """Saved as logs.yaml, the table's expectation applies: t1 must log at TRACE, t2 a given message,
    t4 nothing at all; t3 logs what Kestra's test asserts."""
    (tmp_path / "valid").mkdir()
    (tmp_path / "valid" / "logs.yaml").write_text(WRONG_LOGS)

    report = compat_run.run_all(compat.check(tmp_path).loaded, tmp_path, worker=False)

    [mismatch] = report.mismatches
    problems = "; ".join(mismatch.problems)
    assert "state" not in problems and "task runs" not in problems
    assert "no log message 'first t1' of t1 at TRACE (logged: INFO 'first t1')" in problems
    assert "no log message 'second io.kestra.plugin.core.log.Log' of t2 at WARN" in problems
    assert "1 log(s) any message of t4 != 0 (ERROR 'fourth t4')" in problems
    assert "third logs" not in problems


LABELS = """
id: labelled
namespace: tests
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.Labels
    labels:
      taskRunId: "{{ execution.id }}"
      fixed: "one"
"""


@pytest.mark.django_db(transaction=True)
def test_a_wrong_label_fails_and_start_labels_reach_the_execution(
    tmp_path: Path, celery_worker: object
) -> None:
    path = tmp_path / "labelled.yaml"
    path.write_text(LABELS)
    case = Expectation(
        state="SUCCESS",
        start_labels={"existing": "someValue"},
        labels={"existing": "someValue", "fixed": "one", "taskRunId": TaskRunId("set")},
    )

    result = compat_run.run_one(path, case)

    assert result["labels"]["existing"] == "someValue"
    [problem] = compat_run.compare(case, result)
    assert problem == f"label taskRunId = {result['id']!r}, expected {result['taskRuns'][0]['id']!r}"
    wrong = replace(case, labels={"fixed": "two"}, outputs={"@labels": Keys(("existing", "fixed"))})
    problems = compat_run.compare(wrong, result)
    assert "label fixed = 'one', expected 'two'" in problems
    assert "output @labels: unexpected system.correlationId, taskRunId" in problems


RETRIED = """
id: retried
namespace: tests
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    retry: {type: constant, maxAttempt: 2, interval: PT0.1S}
outputs:
  - {id: out, type: STRING, value: "flow output"}
"""


@pytest.mark.django_db(transaction=True)
def test_a_wrong_attempt_count_or_output_fails(tmp_path: Path, celery_worker: object) -> None:
    path = tmp_path / "retried.yaml"
    path.write_text(RETRIED)
    case = Expectation(state="FAILED", task_runs=1, attempts={"fail": 2, "@last": 2})

    result = compat_run.run_one(path, case)

    assert compat_run.compare(case, result) == []
    wrong = replace(case, attempts={"fail": 3, "@last": 1}, task_states={"fail": "FAILED", "other": None})
    assert compat_run.compare(wrong, result) == ["attempts of fail 2 != 3", "attempts of @last 2 != 1"]
    assert compat_run.compare(replace(case, task_states={"fail": None}), result) == [
        "task fail FAILED != None"
    ]


def test_wrong_outputs_histories_logs_and_started_executions_fail() -> None:
    """``compare`` on a hand-made result: every kind of check reports its own difference."""
    result = {
        "id": "exec-1",
        "state": "SUCCESS",
        "outputs": {"key": "v", "extra": 1},
        "labels": {"system.correlationId": "exec-1"},
        "history": ["CREATED", "RUNNING", "SUCCESS"],
        "taskRuns": [
            {
                "id": "tr-1",
                "taskId": "pause",
                "state": "SUCCESS",
                "attempts": 1,
                "outputs": {"value": "x"},
                "history": ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"],
            },
        ],
        "logs": [{"taskRunId": "tr-1", "level": "INFO", "message": "This is my secret: ******"}],
        "subflows": [
            {
                "id": f"child-{n}",
                "flowId": "child",
                "state": "FAILED",
                "taskRuns": [],
                "inputs": {"items": "a"},
                "labels": {"system.correlationId": "exec-1"},
            }
            for n in range(3)
        ],
    }
    case = Expectation(
        state="SUCCESS",
        outputs={"@outputs": Keys(("key",)), "pause.value": "y"},
        logs=(
            Log("This is my secret: ********", task="pause"),
            Log(Contains("secret"), level="WARN", count=1),
        ),
        labels={"system.correlationId": ExecutionId()},
        history=("PAUSED", "SUCCESS"),
        task_history={"pause": {"PAUSED": 1, "RUNNING": 1}},
        subflows=Subflows(
            count=2, flow_id="child", state="SUCCESS", labels={"system.correlationId": ExecutionId()}
        ),
    )

    problems = compat_run.compare(case, result)

    assert problems == [
        "output @outputs: unexpected extra",
        "output pause.value = 'x', expected 'y'",
        "no log message 'This is my secret: ********' of pause (logged: INFO 'This is my secret: ******')",
        "0 log(s) message Contains(text='secret') at WARN != 1",
        "states CREATED -> RUNNING -> SUCCESS do not pass through PAUSED -> SUCCESS",
        "pause was RUNNING 2 time(s), expected 1",
        "subflow executions 3 != 2",
        "subflow child state FAILED != SUCCESS (and 2 more of 3)",
    ]
    fixed = {**result, "outputs": {"key": "v"}, "history": ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]}
    fixed["taskRuns"] = [
        {**result["taskRuns"][0], "outputs": {"value": "y"}, "history": ["PAUSED", "RUNNING"]}
    ]
    fixed["logs"] = [
        {"taskRunId": "tr-1", "level": "INFO", "message": "This is my secret: ********"},
        {"taskRunId": None, "level": "WARN", "message": "a secret"},
    ]
    fixed["subflows"] = [{**child, "state": "SUCCESS"} for child in result["subflows"][:2]]
    assert compat_run.compare(case, fixed) == []
    wrong_root = [
        {**child, "labels": {"system.correlationId": "someone-else"}} for child in fixed["subflows"]
    ]
    assert compat_run.compare(case, {**fixed, "subflows": wrong_root}) == [
        "subflow child label system.correlationId = 'someone-else', expected 'exec-1' (and 1 more of 2)"
    ]


def test_the_table_cites_a_kestra_test_for_every_case_and_says_why_a_state_is_unasserted() -> None:
    cited = re.compile(r"^[a-z]+/src/test/java/io/kestra/[\w/]+Test(Case)?\.java#[\w.]+$")
    for name, expectation in EXPECTATIONS.items():
        for case in (expectation, *expectation.variants):
            for citation in re.split(r"; | -> ", case.source):
                assert cited.match(citation), (name, citation)
            assert case.state_asserted or case.unasserted, name
    figures = compat.table_figures()
    assert figures["beyond_state"] > 90 and figures["logs"] >= 4
    assert 0 < figures["no_kestra_assertion"] < figures["unasserted"]


def test_listener_runs_are_counted_and_read_in_the_order_they_end() -> None:
    case = Expectation(
        state="SUCCESS",
        listeners=Listeners("listener.yaml", count=3, path="@outputs.status", values=("RUNNING", "SUCCESS")),
    )
    runs = [{"outputs": {"status": "RUNNING"}}, {"outputs": {"status": "PAUSED"}}]

    assert compat_run.compare(case, {"state": "SUCCESS", "listeners": runs}) == [
        "listener ran 2 time(s), expected 3",
        "listener @outputs.status in order ['RUNNING', 'PAUSED'], expected ['RUNNING', 'SUCCESS']",
    ]
    matching = replace(case, listeners=replace(case.listeners, count=2, values=("RUNNING", "PAUSED")))
    assert compat_run.compare(matching, {"state": "SUCCESS", "listeners": runs}) == []


def test_a_stored_file_check_reads_the_storage() -> None:
    from orchestrator.flowmodel import storage

    uri = storage.put("tests/compat", "lines.txt", b"a\nb\n")

    assert StoredFile(lines=2).test(uri) and StoredFile(text="a\nb\n").test(uri)
    assert not StoredFile(lines=3).test(uri)
    assert not StoredFile(text="Hello World").test(uri)
    assert not StoredFile(lines=0).test(uri + ".absent") and not StoredFile().test("not a uri")

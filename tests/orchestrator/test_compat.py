"""The compatibility report, run on the project's own test flows laid out like the Kestra corpus."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.compat import report as compat
from tests.compat import runner as compat_run
from tests.compat.expectations import Expectation

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

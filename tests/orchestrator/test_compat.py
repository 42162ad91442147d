"""The compatibility report, run on the project's own test flows laid out like the Kestra corpus."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from orchestrator import compat, compat_run

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

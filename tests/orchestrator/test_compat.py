"""The compatibility report, run on the project's own test flows laid out like the Kestra corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator import compat

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
    shutil.copy(FLOWS / "invalid" / "unsupported-task-type.yml", root / "valid" / "parallel.yml")
    report = compat.check(root)
    assert report.ok
    assert list(report.unsupported.values()) == [["io.kestra.plugin.core.flow.Parallel"]]


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

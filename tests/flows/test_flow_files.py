"""Every flow under tests/flows/valid loads; every one under tests/flows/invalid fails with exactly the
error its first line announces (``# expect: LINE: PATH: MESSAGE``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.flowmodel.spec import FlowValidationError, load_flow, validate_files

HERE = Path(__file__).parent
REPO = HERE.parent.parent
VALID = sorted((HERE / "valid").glob("*.yml"))
INVALID = sorted((HERE / "invalid").glob("*.yml"))
SHIPPED = sorted((REPO / "flows").glob("*.y*ml"))


def expected_error(path: Path) -> str:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("# expect: "), f"{path.name} must start with '# expect: LINE: PATH: MESSAGE'"
    return f"{path}:{first_line.removeprefix('# expect: ')}"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_it_loads_every_valid_flow(path: Path) -> None:
    flow = load_flow(path)
    assert flow.id and flow.namespace and flow.tasks


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_it_rejects_every_invalid_flow_with_the_announced_error(path: Path) -> None:
    with pytest.raises(FlowValidationError) as caught:
        load_flow(path)
    assert [str(error) for error in caught.value.errors] == [expected_error(path)]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_it_loads_every_flow_shipped_in_flows_dir(path: Path) -> None:
    load_flow(path)


def test_it_finds_the_shipped_example_flows() -> None:
    names = {p.name for p in SHIPPED}
    assert {"hello-kestra.yml", "pass-outputs.yml"} <= names


def test_it_reports_all_invalid_files_at_once() -> None:
    errors = validate_files(INVALID)
    assert {e.file for e in errors} == {str(p) for p in INVALID}


def test_it_rejects_two_files_declaring_the_same_flow(tmp_path: Path) -> None:
    source = (HERE / "valid" / "hello.yml").read_text(encoding="utf-8")
    (tmp_path / "a.yml").write_text(source, encoding="utf-8")
    (tmp_path / "b.yml").write_text(source, encoding="utf-8")
    errors = validate_files([tmp_path / "a.yml", tmp_path / "b.yml"])
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.yml'}:1: id: flow portico.tests.hello is already defined in {tmp_path / 'a.yml'}"
    ]


TEMPLATE_WARNING = HERE / "template-syntax-warning.yml"


def test_it_loads_a_flow_with_a_template_syntax_error_and_warns_with_its_line() -> None:
    # Kestra loads such a flow and fails the task when it renders; we do the same, but say so early.
    flow = load_flow(TEMPLATE_WARNING)
    announced = TEMPLATE_WARNING.read_text(encoding="utf-8").splitlines()[0].removeprefix("# warning: ")
    assert [str(w) for w in flow.warnings] == [f"{TEMPLATE_WARNING}:{announced}"]
    warnings: list = []
    assert validate_files([TEMPLATE_WARNING], warnings) == []
    assert [str(w) for w in warnings] == [f"{TEMPLATE_WARNING}:{announced}"]


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_task_whose_template_does_not_compile(run_flow) -> None:
    execution = run_flow(TEMPLATE_WARNING.read_text(encoding="utf-8"))
    assert execution.state == "FAILED"
    run = execution.task_runs.get(task_id="hello")
    assert run.state == "FAILED" and "template syntax error" in run.error

"""Flow parsing: the model the rest of Portico reads, and error locations."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.spec import FlowError, FlowValidationError, load_flow, parse_flow, parse_inputs

FLOWS = Path(__file__).parent.parent / "flows" / "valid"


def errors_of(text: str) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, "flows/x.yml")
    return [str(e) for e in caught.value.errors]


def test_it_formats_errors_as_file_line_path_message() -> None:
    error = FlowError(
        "flows/vm.yml", 14, "tasks[2].type", "unknown task type 'io.kestra.plugin.core.log.Lgo'"
    )
    assert str(error) == "flows/vm.yml:14: tasks[2].type: unknown task type 'io.kestra.plugin.core.log.Lgo'"


def test_it_builds_the_flow_model() -> None:
    flow = load_flow(FLOWS / "outputs-chain.yml")
    assert (flow.id, flow.namespace) == ("outputs-chain", "portico.tests")
    assert [t.id for t in flow.tasks] == ["first", "collect", "report"]
    report = flow.tasks[2]
    assert report.type == "io.kestra.plugin.core.log.Log"
    assert report.props == {
        "level": "DEBUG",
        "message": ["first: {{ outputs.first.value }}", "collected: {{ outputs.collect.values.previous }}"],
    }
    assert (report.line, report.path) == (12, "tasks[2]")
    assert flow.outputs == [{"id": "result", "type": "STRING", "value": "{{ outputs.first.value }}"}]


def test_it_computes_the_revision_from_the_source_text() -> None:
    path = FLOWS / "hello.yml"
    text = path.read_text(encoding="utf-8")
    flow = load_flow(path)
    assert flow.source == text
    assert flow.revision == hashlib.sha256(text.encode()).hexdigest()
    assert flow.file == str(path)


def test_it_separates_props_common_keys_and_branches() -> None:
    flow = load_flow(FLOWS / "common-task-keys.yml")
    careful = flow.find_task("careful")
    assert careful.props == {"format": "ok"}
    assert careful.common["timeout"] == "PT30S"
    assert careful.common["retry"]["type"] == "exponential"
    assert careful.common["allowFailure"] is True
    assert careful.common["logLevel"] == "WARN"
    assert flow.extra["concurrency"] == {"limit": 1}


def test_it_parses_nested_branches_and_walks_every_task() -> None:
    flow = load_flow(FLOWS / "sequential-branches.yml")
    group = flow.tasks[0]
    assert group.type == "io.kestra.plugin.core.flow.Sequential"
    assert group.props == {}
    assert set(group.branches) == {"tasks", "errors", "finally"}
    assert group.branches["tasks"][1].branches["tasks"][0].path == "tasks[0].tasks[1].tasks[0]"
    assert [t.id for t in flow.walk_tasks()] == [
        "group",
        "step_one",
        "inner",
        "step_two",
        "local_error",
        "local_cleanup",
        "global_error",
        "cleanup",
    ]
    assert flow.find_task("step_two").props == {"message": "two"}
    assert flow.find_task("missing") is None
    assert [t.id for t in flow.errors] == ["global_error"]
    assert [t.id for t in flow.finally_] == ["cleanup"]


def test_it_canonicalises_old_names_and_short_aliases() -> None:
    flow = load_flow(FLOWS / "names-and-aliases.yml")
    assert [t.type for t in flow.tasks] == [
        "io.kestra.plugin.core.log.Log",
        "io.kestra.plugin.core.debug.Return",
        "io.kestra.plugin.core.execution.Fail",
    ]


def test_it_accepts_labels_as_a_list_and_reads_approval() -> None:
    flow = load_flow(FLOWS / "labels-as-list.yml")
    assert flow.labels == {"team": "platform", "portico.approval": "none", "replicas": "3"}
    assert flow.label("team") == "platform"
    assert flow.label("absent", "x") == "x"
    assert flow.needs_approval is False
    assert load_flow(FLOWS / "hello.yml").needs_approval is True


def test_it_keeps_label_map_values_as_text() -> None:
    flow = load_flow(FLOWS / "names-and-aliases.yml")
    assert flow.labels == {"team": "platform", "system.readOnly": "true"}


def test_it_parses_input_specs() -> None:
    flow = load_flow(FLOWS / "all-input-types.yml")
    by_id = flow.input_map
    name = by_id["name"]
    assert (name.type, name.required, name.defaults, name.validator) == ("STRING", True, "world", "^[a-z]+$")
    assert (name.display_name, name.description, name.line) == ("Name", "Lower-case letters only", 4)
    assert (by_id["count"].min, by_id["count"].max) == (1, 10)
    assert by_id["legacy_flag"].type == "BOOL"
    assert by_id["legacy_flag"].required is False
    assert by_id["flavour"].type == "SELECT"
    assert by_id["regions"].values == ["fsn1", "nbg1", "hel1"]
    assert by_id["ports"].extra == {"itemType": "INT"}
    # Dates stay the text the author wrote (YAML would otherwise turn them into date objects).
    assert by_id["start_on"].defaults == "2026-01-31"


def test_it_treats_yes_and_on_as_strings_like_kestra() -> None:
    flow = parse_flow(
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n"
        "    format: yes\n"
    )
    assert flow.tasks[0].props == {"format": "yes"}


def test_it_reports_every_problem_of_a_file_at_once() -> None:
    text = """\
id: bad id
namespace: Bad
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Lgo
  - id: a
    type: io.kestra.plugin.core.debug.Return
"""
    assert errors_of(text) == [
        "flows/x.yml:1: id: 'bad id' must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$",
        "flows/x.yml:2: namespace: 'Bad' must match ^[a-z0-9][a-z0-9._-]*$",
        "flows/x.yml:5: tasks[0].type: unknown task type 'io.kestra.plugin.core.log.Lgo'",
        "flows/x.yml:6: tasks[1].id: duplicate task id 'a' (first defined at line 4)",
    ]


def test_it_skips_type_checks_for_templated_values_but_not_unknown_keys() -> None:
    text = """\
id: f
namespace: n
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    level: "{{ inputs.level }}"
    message: hi
    levle: INFO
"""
    assert errors_of(text) == ["flows/x.yml:8: tasks[0].levle: unknown property"]


def test_it_distinguishes_unsupported_from_unknown_types() -> None:
    text = """\
id: f
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.core.flow.Template
    tasks:
      - id: b
        type: io.kestra.plugin.core.log.Log
        message: hi
"""
    [error] = errors_of(text)
    template = "io.kestra.plugin.core.flow.Template"
    assert error == f"flows/x.yml:5: tasks[0].type: task type '{template}' is not supported yet"
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text)
    assert caught.value.errors[0].not_supported


def test_it_still_finds_duplicate_ids_inside_unsupported_flowables() -> None:
    text = """\
id: f
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.core.flow.LoopUntil
    tasks:
      - id: a
        type: io.kestra.plugin.core.log.Log
        message: hi
"""
    assert (
        errors_of(text)[1]
        == "flows/x.yml:7: tasks[0].tasks[0].id: duplicate task id 'a' (first defined at line 4)"
    )


def test_it_rejects_input_dependency_cycles() -> None:
    text = """\
id: f
namespace: n
inputs:
  - id: a
    type: STRING
    dependsOn:
      inputs: [b]
  - id: b
    type: STRING
    dependsOn:
      inputs: [a]
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
    assert errors_of(text) == [
        "flows/x.yml:7: inputs[0].dependsOn: cyclic dependency between inputs: a -> b -> a"
    ]


def test_it_rejects_bounds_that_are_not_values_of_the_type() -> None:
    text = """\
id: f
namespace: n
inputs:
  - id: when
    type: DATE
    after: tomorrow
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
    assert errors_of(text) == ["flows/x.yml:6: inputs[0].after: must be a date like 2024-01-31"]


def test_it_reports_a_missing_file_as_a_flow_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(FlowValidationError) as caught:
        load_flow(missing)
    [error] = caught.value.errors
    assert (error.file, error.line, error.path) == (str(missing), 1, "flow")
    assert error.message.startswith("cannot read file:")


def test_it_rejects_a_document_that_is_not_a_mapping() -> None:
    assert errors_of("- just\n- a list\n") == ["flows/x.yml:1: flow: must be a mapping, got a list"]


def test_it_parses_input_definitions_outside_a_flow() -> None:
    [approve] = parse_inputs([{"id": "approved", "type": "BOOLEAN", "defaults": False}], path="onResume")
    assert (approve.id, approve.type, approve.defaults) == ("approved", "BOOL", False)
    with pytest.raises(FlowValidationError) as caught:
        parse_inputs([{"id": "size", "type": "SELECT", "values": ["s"], "defaults": "m"}], path="onResume")
    assert [str(e) for e in caught.value.errors] == ["<string>:0: onResume[0].defaults: must be one of: s"]


def test_it_checks_task_properties_that_hold_input_definitions() -> None:
    class FormProps(BaseModel):
        model_config = ConfigDict(extra="forbid")
        form: list[dict] = []

    task_api.register("tests.spec.Form", props=FormProps, input_props=("form",))(lambda props, ctx: {})
    try:
        text = """\
id: f
namespace: n
tasks:
  - id: ask
    type: tests.spec.Form
    form:
      - id: count
        type: INT
        defaults: many
"""
        assert errors_of(text) == ["flows/x.yml:9: tasks[0].form[0].defaults: must be an integer"]
    finally:
        task_api.unregister("tests.spec.Form")


def test_it_keeps_accepted_kestra_keys_and_after_execution_tasks() -> None:
    flow = load_flow(FLOWS / "kestra-extras.yml")
    # pluginDefaults are merged into the tasks at load (Kestra's PluginDefaultService), not kept.
    assert set(flow.extra) == {"revision", "concurrency"}
    assert flow.find_task("announce").props["level"] == "DEBUG"
    assert [t.id for t in flow.after_execution] == ["announce"]
    assert [t.id for t in flow.walk_tasks()] == ["pick", "announce"]
    assert flow.input_map["zone"].required is False


@pytest.mark.parametrize("kind", ["[a, b]", "{x: 1}"])
def test_it_refuses_a_retry_type_that_is_not_a_name(kind: str) -> None:
    text = "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: Log\n    message: hi\n"
    text += f"    retry: {{type: {kind}}}\n"
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="f.yml")
    assert "tasks[0].retry.type: unknown retry type" in str(caught.value)

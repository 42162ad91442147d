"""Flow outputs keep the type they declare (Kestra's FlowInputOutput.typedOutputs): an INT output is a
number, JSON an object, BOOLEAN a boolean, SECRET stored sealed; a value that does not convert fails the
execution with Kestra's words; ``required: false`` lets an output be empty."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.flowmodel import output_types, secrets_at_rest
from orchestrator.state.models import State

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TYPED = """\
id: typed-outputs
namespace: tests.outputs
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "42"
outputs:
  - {id: number, type: INT, value: "{{ outputs.r.value }}"}
  - {id: ratio, type: FLOAT, value: "2.5"}
  - {id: flag, type: BOOLEAN, value: "{{ outputs.r.value == '42' }}"}
  - {id: doc, type: JSON, value: '{"a": [1, 2]}'}
  - {id: list, type: ARRAY, value: '["x", "y"]'}
  - {id: when, type: DATE, value: "2026-12-03"}
  - {id: text, type: STRING, value: "{{ outputs.r.value }}"}
  - {id: untyped, value: "{{ outputs.r.value }}"}
  - {id: token, type: SECRET, value: "s3cr3t-{{ outputs.r.value }}"}
  - {id: maybe, type: INT, value: "", required: false}
"""


def test_each_output_is_kept_as_its_declared_type(run_flow: Any) -> None:
    execution = run_flow(TYPED)
    assert execution.state == State.SUCCESS
    out = execution.outputs
    assert out["number"] == 42 and out["ratio"] == 2.5 and out["flag"] is True
    assert out["doc"] == {"a": [1, 2]} and out["list"] == ["x", "y"] and out["when"] == "2026-12-03"
    assert out["text"] == "42" and out["untyped"] == "42" and out["maybe"] is None
    assert secrets_at_rest.is_sealed(out["token"])  # encrypted at rest (and dropped once ended)


def test_an_output_that_does_not_convert_fails_the_execution_with_kestras_words(run_flow: Any) -> None:
    execution = run_flow(TYPED.replace('format: "42"', 'format: "forty-two"'))
    assert execution.state == State.FAILED
    messages = list(execution.logs.values_list("message", flat=True))
    assert any(
        m.startswith(
            "Failed to render output values: Invalid output for `number`, Expected `INT` but "
            "received `forty-two`"
        )
        for m in messages
    ), messages


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("INT", "7", 7),
        ("BOOL", "TRUE", True),
        ("BOOL", "yes", False),  # Java's Boolean.valueOf
        ("FLOAT", "1e3", 1000.0),
        ("YAML", "a: 1", {"a": 1}),
        ("DURATION", "PT5M", "PT5M"),
        ("URI", "https://example.com/x", "https://example.com/x"),
    ],
)
def test_conversions(kind: str, raw: str, expected: Any) -> None:
    assert output_types.typed({"id": "o", "type": kind}, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("INT", "9" * 30),
        ("FLOAT", "NaN"),
        ("DATE", "tomorrow"),
        ("URI", "not a uri"),
        ("FILE", "/etc/passwd"),
        ("JSON", "{"),
        ("INT", ""),
    ],
)
def test_refusals(kind: str, raw: str) -> None:
    with pytest.raises(output_types.OutputInvalid, match=f"Expected `{kind}`"):
        output_types.typed({"id": "o", "type": kind}, raw)

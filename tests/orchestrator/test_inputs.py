"""Input types: coercion of CLI/form/JSON values and the messages users see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel.input_types import (
    InputError,
    InputsInvalid,
    mask_inputs,
    nested,
    parse_value,
    resolve_inputs,
    secret_ids,
)
from orchestrator.flowmodel.masking import MASK
from orchestrator.flowmodel.spec import InputSpec, load_flow, parse_flow

FLOWS = Path(__file__).parent.parent / "flows" / "valid"


def spec(kind: str, **kwargs: Any) -> InputSpec:
    return InputSpec(id="x", type=kind, **kwargs)


def message(kind: str, raw: Any, **kwargs: Any) -> str:
    with pytest.raises(InputError) as caught:
        parse_value(spec(kind, **kwargs), raw)
    assert caught.value.input_id == "x"
    return caught.value.message


@pytest.mark.parametrize(
    ("kind", "kwargs", "raw", "expected"),
    [
        ("STRING", {}, "hello", "hello"),
        ("STRING", {}, 42, "42"),
        ("STRING", {"validator": "^[a-z]+$"}, "abc", "abc"),
        ("INT", {}, "42", 42),
        ("INT", {}, " -7 ", -7),
        ("INT", {}, 5, 5),
        ("INT", {}, 5.0, 5),
        ("INT", {"min": 1, "max": 10}, "10", 10),
        ("FLOAT", {}, "0.25", 0.25),
        ("FLOAT", {}, 3, 3.0),
        ("BOOL", {}, "true", True),
        ("BOOL", {}, "False", False),
        ("BOOL", {}, True, True),
        ("BOOL", {}, "0", False),
        ("SELECT", {"values": ["a", "b"]}, "b", "b"),
        ("SELECT", {"values": ["a", "b"], "extra": {"allowCustomValue": True}}, "c", "c"),
        ("MULTISELECT", {"values": ["a", "b", "c"]}, ["a", "c"], ["a", "c"]),
        ("MULTISELECT", {"values": ["a", "b", "c"]}, '["b"]', ["b"]),
        ("MULTISELECT", {"values": ["a", "b", "c"]}, "a, b", ["a", "b"]),
        ("DATE", {}, "2026-01-31", "2026-01-31"),
        ("DATE", {"min": "2026-01-01"}, "2026-01-31", "2026-01-31"),
        ("DATETIME", {}, "2026-01-31T12:00:00Z", "2026-01-31T12:00:00Z"),
        ("DATETIME", {}, "2026-01-31T12:00:00+02:00", "2026-01-31T12:00:00+02:00"),
        ("TIME", {}, "13:45", "13:45:00"),
        ("DURATION", {}, "PT90S", "PT1M30S"),
        ("DURATION", {"min": "PT1M"}, "PT1H", "PT1H"),
        ("EMAIL", {}, "ops@example.com", "ops@example.com"),
        ("SECRET", {}, "s3cr3t", "s3cr3t"),
        ("JSON", {}, '{"a": [1, 2]}', {"a": [1, 2]}),
        ("JSON", {}, {"a": 1}, {"a": 1}),
        ("URI", {}, "https://example.com/a?b=c", "https://example.com/a?b=c"),
        ("YAML", {}, "a: 1\nb: [x]", {"a": 1, "b": ["x"]}),
        ("ARRAY", {"extra": {"itemType": "INT"}}, '["1", 2]', [1, 2]),
        ("ARRAY", {"extra": {"itemType": "STRING"}}, "a,b", ["a", "b"]),
    ],
)
def test_it_coerces_good_values(kind: str, kwargs: dict, raw: Any, expected: Any) -> None:
    assert parse_value(spec(kind, **kwargs), raw) == expected


@pytest.mark.parametrize(
    ("kind", "kwargs", "raw", "expected"),
    [
        ("STRING", {"validator": "^[a-z]+$"}, "Abc", "is not in the expected format"),
        # a full match, not a search:
        ("STRING", {"validator": "[a-z]+"}, "abc1", "is not in the expected format"),
        ("STRING", {"extra": {"minLength": 3}}, "ab", "must be at least 3 characters long"),
        ("STRING", {"extra": {"maxLength": 2}}, "abc", "must be at most 2 characters long"),
        ("STRING", {}, {"a": 1}, "must be a string"),
        ("INT", {}, "4.5", "must be an integer"),
        ("INT", {}, "forty", "must be an integer"),
        ("INT", {}, True, "must be an integer"),
        ("INT", {"min": 1}, "0", "must be at least 1"),
        ("INT", {"max": 10}, 11, "must be at most 10"),
        ("FLOAT", {}, "abc", "must be a number"),
        ("FLOAT", {}, "nan", "must be a finite number"),
        ("FLOAT", {"max": 1}, "1.5", "must be at most 1"),
        ("BOOL", {}, "maybe", "must be true or false"),
        ("SELECT", {"values": ["a", "b"]}, "c", "must be one of: a, b"),
        ("MULTISELECT", {"values": ["a", "b"]}, ["a", "z"], "must be among: a, b (got z)"),
        ("MULTISELECT", {"values": ["a", "b"]}, 5, "must be a list"),
        ("DATE", {}, "31.01.2026", "must be a date like 2024-01-31"),
        ("DATE", {"extra": {"after": "2026-02-01"}}, "2026-01-31", "must be on or after 2026-02-01"),
        ("DATE", {"max": "2026-01-01"}, "2026-01-31", "must be on or before 2026-01-01"),
        ("DATETIME", {}, "2026-01-31 noon", "must be a date-time like 2024-01-31T12:00:00Z"),
        (
            "DATETIME",
            {},
            "2026-01-31T12:00:00",
            "must be a date-time with a time zone, like 2024-01-31T12:00:00Z",
        ),
        ("TIME", {}, "25:00", "must be a time like 13:45:00"),
        ("DURATION", {}, "5 minutes", "must be an ISO-8601 duration like PT1M30S, got '5 minutes'"),
        ("DURATION", {"max": "PT1M"}, "PT2M", "must be at most PT1M"),
        ("EMAIL", {}, "not-an-email", "must be an email address"),
        (
            "JSON",
            {},
            "{bad",
            "must be valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)",
        ),
        ("URI", {}, "example.com", "must be a URI like https://example.com/path"),
        ("ARRAY", {"extra": {"itemType": "INT"}}, '[1, "x"]', "item 1: must be an integer"),
        ("FILE", {}, "nsfile:///a.txt", "must be a file upload or an internal storage URI (kestra:///...)"),
        (
            "FILE",
            {},
            "kestra:///a/../../etc/passwd",
            "must be a file upload or an internal storage URI (kestra:///...)",
        ),
    ],
)
def test_it_rejects_bad_values_with_clear_messages(kind: str, kwargs: dict, raw: Any, expected: str) -> None:
    assert message(kind, raw, **kwargs) == expected


def test_it_resolves_defaults_and_submitted_values() -> None:
    flow = load_flow(FLOWS / "all-input-types.yml")
    values = resolve_inputs(flow, {"count": "7", "dry_run": "false", "regions": ["nbg1", "hel1"]})
    assert values["name"] == "world"
    assert values["count"] == 7
    assert values["dry_run"] is False
    assert values["regions"] == ["nbg1", "hel1"]
    assert values["settings"] == {"replicas": 2}
    assert values["ports"] == [80, 443]
    assert values["legacy_flag"] is None  # optional, no default
    assert values["wait"] == "PT5M"


FORM = """\
id: form
namespace: tests
inputs:
  - id: name
    type: STRING
  - id: size
    type: SELECT
    values: [small, large]
  - id: replicas
    type: INT
    min: 1
    required: false
  - id: token
    type: SECRET
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_it_reports_every_bad_input_at_once() -> None:
    flow = parse_flow(FORM)
    with pytest.raises(InputsInvalid) as caught:
        resolve_inputs(flow, {"size": "medium", "replicas": "0", "colour": "red"})
    assert caught.value.errors == {
        "colour": "unknown input",
        "name": "is required",
        "size": "must be one of: small, large",
        "replicas": "must be at least 1",
        "token": "is required",
    }


def test_it_treats_an_empty_form_field_as_missing() -> None:
    flow = parse_flow(FORM)
    values = resolve_inputs(flow, {"name": "a", "size": "small", "replicas": "", "token": "s3cr3t"})
    assert values == {"name": "a", "size": "small", "replicas": None, "token": "s3cr3t"}


def test_it_masks_secret_inputs() -> None:
    flow = parse_flow(FORM)
    assert secret_ids(flow) == {"token"}
    masked = mask_inputs(flow, {"name": "a", "token": "s3cr3t"})
    assert masked == {"name": "a", "token": MASK}


def test_it_renders_expression_defaults_when_resolving() -> None:
    flow = parse_flow(
        """\
id: f
namespace: n
inputs:
  - id: region
    type: STRING
  - id: zone
    type: STRING
    defaults: "{{ inputs.region }}-dc1"
  - id: when
    type: DATETIME
    defaults: "{{ now() }}"
  - id: broken
    type: STRING
    required: false
    defaults: "{{ inputs.nope }}"
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
    )
    with pytest.raises(InputsInvalid) as caught:
        resolve_inputs(flow, {"region": "fsn1"})
    assert caught.value.errors == {
        "broken": "cannot compute the default: undefined variable: 'inputs' has no attribute 'nope'"
    }
    values = resolve_inputs(flow, {"region": "fsn1", "broken": "given"})
    assert values["zone"] == "fsn1-dc1"
    assert values["when"].endswith("Z")


def test_it_accepts_an_empty_default_for_a_required_string() -> None:
    flow = parse_flow(
        "id: f\nnamespace: n\ninputs:\n  - id: empty\n    type: STRING\n    defaults: ''\n"
        "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    assert resolve_inputs(flow, {}) == {"empty": ""}
    assert resolve_inputs(flow, {"empty": ""}) == {"empty": ""}


def test_it_nests_dotted_input_ids_for_templates() -> None:
    values = nested({"nested.string": "s", "nested.more.int": 3, "plain": 1})
    assert values["nested"] == {"string": "s", "more": {"int": 3}}
    assert values["nested.string"] == "s"
    assert values["plain"] == 1
    assert nested({"a": 1, "a.b": 2}) == {"a": 1, "a.b": 2}

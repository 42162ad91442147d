"""Hostile input costs little: every input limit at its boundary (just under passes, just over gets the
message), values the database cannot store refused with a plain message, and the template sandbox's
limits on range, repetition, output size and time."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.input_types import (
    ALL_INPUTS,
    INT_MAX,
    INT_MIN,
    MAX_EMAIL_CHARS,
    MAX_FILE_NAME_BYTES,
    FileUpload,
    InputError,
    InputsInvalid,
    parse_value,
    resolve_inputs,
)
from orchestrator.flowmodel.spec import InputSpec, parse_flow
from orchestrator.flowmodel.templating import TemplateError, render_string

# 9 levels of 9 aliases: under 700 bytes, 9**9 (387 million) strings once expanded.
YAML_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def spec(kind: str, **kwargs: Any) -> InputSpec:
    return InputSpec(id="x", type=kind, **kwargs)


def accepted(kind: str, raw: Any, **kwargs: Any) -> Any:
    return parse_value(spec(kind, **kwargs), raw)


def refused(kind: str, raw: Any, **kwargs: Any) -> str:
    with pytest.raises(InputError) as caught:
        parse_value(spec(kind, **kwargs), raw)
    return caught.value.message


@pytest.fixture
def small_limits(settings: Any) -> Any:
    settings.PORTICO_MAX_INPUT_TEXT_BYTES = 10
    settings.PORTICO_MAX_INPUT_DOCUMENT_BYTES = 20
    settings.PORTICO_MAX_INPUTS_BYTES = 30
    settings.PORTICO_MAX_JSON_DEPTH = 3
    return settings


# ------------------------------------------------------------------------------------- text sizes


@pytest.mark.parametrize(
    ("kind", "under", "over", "kwargs"),
    [
        ("STRING", "a" * 10, "a" * 11, {}),
        ("STRING", "é" * 5, "é" * 5 + "a", {}),  # bytes, not characters: é is two
        ("SECRET", "s" * 10, "s" * 11, {}),
        ("SELECT", "c" * 10, "c" * 11, {"extra": {"allowCustomValue": True}}),
        ("URI", "http://a/" + "b", "http://a/" + "bb", {}),
    ],
)
def test_it_limits_the_text_of_a_value(
    small_limits: Any, kind: str, under: str, over: str, kwargs: dict
) -> None:
    assert accepted(kind, under, **kwargs) == under
    assert refused(kind, over, **kwargs) == "is too long (at most 10 bytes)"


def test_it_limits_each_item_of_a_list(small_limits: Any) -> None:
    assert accepted("ARRAY", ["a" * 10]) == ["a" * 10]
    assert refused("ARRAY", ["a" * 11]) == "item 0: is too long (at most 10 bytes)"
    custom = {"extra": {"allowCustomValue": True}}
    assert accepted("MULTISELECT", ["m" * 10], **custom) == ["m" * 10]
    assert refused("MULTISELECT", ["m" * 11], **custom) == "is too long (at most 10 bytes)"


def test_it_limits_an_email_address_to_what_smtp_allows() -> None:
    local = "a" * 64
    domain = "b" * (MAX_EMAIL_CHARS - len(local) - len("@.io")) + ".io"
    address = f"{local}@{domain}"
    assert len(address) == MAX_EMAIL_CHARS
    assert accepted("EMAIL", address) == address
    assert refused("EMAIL", "a" + address) == "is too long for an email address (at most 254 characters)"


# --------------------------------------------------------------------------------- documents


@pytest.mark.parametrize("kind", ["JSON", "YAML"])
def test_it_limits_the_size_of_a_document(small_limits: Any, kind: str) -> None:
    under = json.dumps(["a" * 14])  # ["aaaaaaaaaaaaaa"]: 18 bytes stored
    over = json.dumps(["a" * 17])  # 21 bytes
    assert accepted(kind, under) == ["a" * 14]
    assert refused(kind, over) == "is too large (at most 20 bytes)"
    assert refused(kind, " " * 21) == "is too large (at most 20 bytes)"  # the text, before it is parsed
    assert accepted(kind, ["a" * 14]) == ["a" * 14]  # a value already parsed (a webhook's JSON)
    assert refused(kind, ["a" * 17]) == "is too large (at most 20 bytes)"


@pytest.mark.parametrize("kind", ["ARRAY", "MULTISELECT"])
def test_it_limits_the_size_of_a_list(small_limits: Any, kind: str) -> None:
    custom = {"extra": {"allowCustomValue": True}}
    under = ["a", "b", "c", "d"]  # ["a", "b", "c", "d"]: 20 bytes stored
    assert accepted(kind, under, **custom) == under
    assert refused(kind, [*under, "e"], **custom) == "is too large (at most 20 bytes)"
    assert refused(kind, "a," * 11, **custom) == "is too large (at most 20 bytes)"


@pytest.mark.parametrize(
    ("kind", "kwargs"), [("JSON", {}), ("YAML", {}), ("ARRAY", {"extra": {"itemType": "JSON"}})]
)
def test_it_limits_nesting(small_limits: Any, kind: str, kwargs: dict) -> None:
    assert accepted(kind, "[[[1]]]", **kwargs) == [[[1]]]
    assert refused(kind, "[[[[1]]]]", **kwargs) == "is nested too deeply (at most 3 levels)"


def test_it_refuses_a_deep_document_cheaply_instead_of_recursing() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    started = time.monotonic()
    assert refused("JSON", deep) == "is nested too deeply (at most 32 levels)"
    assert refused("JSON", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]).startswith(
        "is nested too deeply"
    )
    assert time.monotonic() - started < 1


def test_it_refuses_yaml_aliases_before_expanding_them() -> None:
    assert len(YAML_BOMB) < 700
    started = time.monotonic()
    assert refused("YAML", YAML_BOMB) == "must not use YAML aliases (*name); write the value out instead"
    assert time.monotonic() - started < 0.5
    assert accepted("YAML", "a: &anchor 1\nb: 2") == {"a": 1, "b": 2}  # an anchor alone copies nothing
    assert refused("YAML", "base: &b {x: 1}\nother:\n  <<: *b").startswith("must not use YAML aliases")


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("JSON", "NaN", "must be valid JSON (NaN is not a number JSON allows)"),
        ("JSON", '{"a": Infinity}', "must be valid JSON (Infinity is not a number JSON allows)"),
        ("JSON", "[-Infinity]", "must be valid JSON (-Infinity is not a number JSON allows)"),
        ("JSON", "1e999", "must be valid JSON (1e999 is too large a number)"),
        ("JSON", {"a": float("nan")}, "must not contain NaN or Infinity"),
        ("YAML", ".nan", "must not contain NaN or Infinity"),
        ("YAML", "x: .inf", "must not contain NaN or Infinity"),
        ("YAML", "[-.inf]", "must not contain NaN or Infinity"),
        ("FLOAT", "NaN", "must be a finite number"),
        ("FLOAT", "Infinity", "must be a finite number"),
        ("FLOAT", "1e999", "must be a finite number"),
        ("FLOAT", 10**400, "must be a finite number"),
        ("STRING", "a\x00b", "must not contain NUL characters"),
        ("JSON", '{"k": "a\\u0000b"}', "must not contain NUL characters"),
        ("JSON", '["\\ud800"]', "must be valid Unicode text"),
    ],
)
def test_it_refuses_what_the_database_cannot_store(kind: str, raw: Any, expected: str) -> None:
    assert refused(kind, raw) == expected


def test_it_accepts_the_largest_finite_float() -> None:
    assert accepted("FLOAT", "1.7976931348623157e308") == 1.7976931348623157e308
    assert accepted("JSON", "[1.5e308]") == [1.5e308]


# ------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [INT_MAX, INT_MIN, str(INT_MAX), f" {INT_MIN} "])
def test_it_accepts_every_64_bit_integer(value: Any) -> None:
    assert accepted("INT", value) == int(value)


@pytest.mark.parametrize("value", [INT_MAX + 1, INT_MIN - 1, str(INT_MAX + 1), "9" * 30, "9" * 5000, 1e300])
def test_it_refuses_integers_beyond_64_bits(value: Any) -> None:
    assert refused("INT", value) == f"must be between {INT_MIN} and {INT_MAX}"


# ------------------------------------------------------------------------------- durations, dates


def test_it_bounds_durations_to_a_century() -> None:
    assert accepted("DURATION", "P36525D") == "PT876600H"
    assert accepted("DURATION", "-P36525D") == "-PT876600H"
    assert refused("DURATION", "P36526D") == "must be at most 100 years (P36525D), got 'P36526D'"
    assert refused("DURATION", "PT99999999999999999999S").startswith("must be at most 100 years")
    assert refused("DURATION", "P999999999999D").startswith("must be at most 100 years")
    assert refused("DURATION", "PT" + "9" * 70 + "S").endswith("of at most 64 characters")
    with pytest.raises(ValueError, match="at most 100 years"):
        parse_duration("PT3155760001S")


def test_it_bounds_date_times_to_instants_that_exist() -> None:
    assert accepted("DATETIME", "0001-01-01T00:00:00Z") == "0001-01-01T00:00:00Z"
    assert accepted("DATETIME", "9999-12-31T23:59:59Z") == "9999-12-31T23:59:59Z"
    assert refused("DATETIME", "0001-01-01T00:00:00+01:00") == "must be between the years 1 and 9999 in UTC"
    assert refused("DATETIME", "9999-12-31T23:59:59-01:00") == "must be between the years 1 and 9999 in UTC"
    assert refused("DATETIME", "2024-01-01T00:00:00." + "0" * 60 + "Z") == (
        "must be a date-time like 2024-01-31T12:00:00Z"
    )
    assert refused("DATE", "2024-01-01" * 10) == "must be a date like 2024-01-31"
    assert refused("TIME", "1" * 100) == "must be a time like 13:45:00"


# ---------------------------------------------------------------------------------- file names

FILE_FLOW = """
id: files
namespace: portico.limits
inputs:
  - id: doc
    type: FILE
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


@pytest.fixture
def storage_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    return settings.PORTICO_STORAGE_DIR


@pytest.mark.parametrize("name", ["a" * MAX_FILE_NAME_BYTES, "é" * (MAX_FILE_NAME_BYTES // 2)])
def test_it_stores_a_file_whose_name_is_at_the_limit(storage_dir: Path, name: str) -> None:
    flow = parse_flow(FILE_FLOW)
    resolved = resolve_inputs(flow, {"doc": FileUpload(name, b"x")}, files_prefix="executions/e1")
    assert resolved["doc"].endswith(name)
    assert (storage_dir / "executions" / "e1" / "inputs" / "doc" / name).read_bytes() == b"x"


@pytest.mark.parametrize("name", ["a" * (MAX_FILE_NAME_BYTES + 1), "é" * 101, "b" * 300])
def test_it_refuses_a_longer_file_name_with_a_field_error(storage_dir: Path, name: str) -> None:
    flow = parse_flow(FILE_FLOW)
    expected = "has too long a file name (at most 200 bytes, fewer with accents): rename the file"
    for prefix in (None, "executions/e1"):  # checking the form, and storing at submission
        with pytest.raises(InputsInvalid) as caught:
            resolve_inputs(flow, {"doc": FileUpload(name, b"x")}, files_prefix=prefix)
        assert caught.value.errors == {"doc": expected}


# ---------------------------------------------------------------------------------- the whole set

TWO_STRINGS = """
id: two
namespace: portico.limits
inputs:
  - id: a
    type: STRING
  - id: b
    type: STRING
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_it_limits_all_the_inputs_together(small_limits: Any) -> None:
    flow = parse_flow(TWO_STRINGS)
    small_limits.PORTICO_MAX_INPUTS_BYTES = 23
    assert resolve_inputs(flow, {"a": "a" * 10, "b": "b" * 9}) == {"a": "a" * 10, "b": "b" * 9}
    with pytest.raises(InputsInvalid) as caught:
        resolve_inputs(flow, {"a": "a" * 10, "b": "b" * 10})
    assert caught.value.errors == {
        ALL_INPUTS: "the inputs together are too large (at most 23 bytes; 'a' is the largest)"
    }


def test_it_names_a_few_unknown_inputs_not_thousands() -> None:
    flow = parse_flow(TWO_STRINGS)
    with pytest.raises(InputsInvalid) as caught:
        resolve_inputs(flow, {"a": "x", "b": "y", **{f"k{i}" + "z" * 200: 1 for i in range(5000)}})
    errors = caught.value.errors
    assert len(errors) == 21
    assert errors[ALL_INPUTS] == "5000 unknown inputs in all"
    assert all(len(key) <= 100 for key in errors)


# ------------------------------------------------------------------------------ template sandbox


def render(text: str) -> str:
    return render_string(text, {})


def render_error(text: str) -> str:
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(text)
    assert time.monotonic() - started < 2, "a refused template must fail fast"
    return str(caught.value)


def test_it_caps_range() -> None:
    assert render("{{ range(10000) | length }}") == "10000"
    assert render("{{ range(3) | list }} {{ range(3) }} {{ 2 in range(3) }}") == "[0,1,2] range(0, 3) true"
    assert (
        render_error("{{ range(10001) | length }}") == "template limit: range() may have at most 10000 items"
    )
    assert render_error("{{ range(10**7) | length }}").startswith("template limit: range()")
    assert render_error("{{ range(10**30) | length }}").startswith("template limit: range()")


def test_it_refuses_a_huge_repetition_before_allocating_it(settings: Any) -> None:
    assert render_error("{{ ('a' * 10**8) | length }}") == (
        "template limit: a repetition would be 100000000 characters or items (at most 16777216)"
    )
    settings.PORTICO_MAX_TEMPLATE_OUTPUT_CHARS = 1000
    assert render("{{ ('a' * 1000) | length }}") == "1000"
    assert render_error("{{ ('a' * 1001) | length }}").startswith("template limit: a repetition")
    assert render_error("{{ ([1, 2] * 501) | length }}").startswith("template limit: a repetition")
    assert render("{{ 6 * 7 }} {{ 2 ** 10 }} {{ 'a' + 'b' }} {{ 7 % 3 }}") == "42 1024 ab 1"


def test_it_caps_the_output_as_it_streams(settings: Any) -> None:
    settings.PORTICO_MAX_TEMPLATE_OUTPUT_CHARS = 1000
    assert len(render("{% for i in range(100) %}aaaaaaaaaa{% endfor %}")) == 1000
    assert render_error("{% for i in range(100) %}aaaaaaaaaa{% endfor %}!").startswith(
        "template limit: the output would be 1001"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{{ 10 ** (10 ** 10) }}",
        "{{ '%99999999d' % 1 }}",
        "{{ '%*d' % (99999999, 1) }}",
        "{{ '{:>99999999}'.format(1) }}",
        "{{ '{:{}}'.format(1, 99999999) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ 'a'.zfill(10**9) }}",
        "{{ 'a' | center(10**9) }}",
        "{{ 'a\\nb' | indent(10**8) }}",
        "{{ '%99999999s' | format('a') }}",
        "{{ ('a' * 10**6) | replace('a', 'aaaaaaaaaaaaaaaaaaaa') }}",
        "{{ ('a' * 10**6).replace('a', 'a' * 20) }}",
        "{{ range(10000) | join('x' * 10000) }}",
        "{{ ('x' * 10000).join(range(10000) | map('string')) }}",
        "{{ ('a' * 10**7) + ('a' * 10**7) }}",
    ],
)
def test_it_refuses_amplifying_expressions_before_they_allocate(text: str) -> None:
    assert render_error(text).startswith("template limit:")


def test_it_keeps_ordinary_formatting_and_large_numbers() -> None:
    assert render("{{ '%d items' % 100000000 }}") == "100000000 items"
    assert render("{{ '{}-{:>5}'.format(10**9, 'a') }}") == "1000000000-    a"
    assert render("{{ 'a b' | replace('a', 'xyz') }} {{ 'ab' | center(6) }}") == "xyz b   ab  "
    assert render("{{ '2024-01-01T00:00:00Z' | dateAdd(-100000000, 'SECONDS') }}") == "2020-10-30T14:13:20Z"


def test_it_bounds_the_render_time(settings: Any) -> None:
    settings.PORTICO_MAX_TEMPLATE_SECONDS = 0.2
    started = time.monotonic()
    message = render_error("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    assert message == "template limit: rendering took longer than 0.2 seconds"
    assert time.monotonic() - started < 1.5

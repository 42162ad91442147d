"""Templating: Kestra expressions in one sandboxed Jinja2 environment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from orchestrator.flowmodel.templating import TemplateError, render, render_string

CONTEXT: dict[str, Any] = {
    "inputs": {"name": "world", "count": 3, "my-key": "dashed", "tags": ["a", "b"]},
    "outputs": {"first": {"value": "v1"}, "vals": {"values": {"k": "x"}}},
    "execution": {"id": "exec-1"},
    "flow": {"id": "hello", "namespace": "demo"},
    "vars": {"env": "prod"},
}


def fails(template: str, context: dict[str, Any] | None = None) -> str:
    with pytest.raises(TemplateError) as caught:
        render_string(template, CONTEXT if context is None else context)
    return str(caught.value)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ inputs.name }}", "world"),
        ("{{ outputs.first.value }}", "v1"),
        ("{{ execution.id }}/{{ flow.namespace }}.{{ flow.id }}", "exec-1/demo.hello"),
        ("{{ vars.env }}", "prod"),
        ("{{ inputs['my-key'] }}", "dashed"),
        ("{{ outputs.vals.values.k }}", "x"),
        ("{{ inputs.name | upper }}", "WORLD"),
        ("{{ inputs.missing | default('d') }}", "d"),
        ("{{ inputs.missing ?? 'fallback' }}", "fallback"),
        ("{{ outputs.nope.value ?? outputs.first.value }}", "v1"),
        ("{{ (inputs.missing ?? 'NONE') == 'NONE' ? 'yes' : undefined_name }}", "yes"),
        ("{{ inputs.count > 2 ? 'many' : 'few' }}", "many"),
        ("{{ inputs.count == 2 }}", "false"),
        ("{{ inputs.tags }}", '["a","b"]'),
        ("{{ inputs.tags | join('-') }}", "a-b"),
        ("{{ inputs.tags | length }}", "2"),
        ("{{ inputs | keys | first }}", "name"),
        ("{{ inputs.tags | toJson }}", '["a","b"]'),
        ("{{ json('{\"a\": 5}').a }}", "5"),
        ("{{ '12' | number + 1 }}", "13"),
        ("{{ 'Hello World!' | slugify }}", "hello-world"),
        ("{{ '2026-01-31T12:34:56Z' | date('yyyy-MM-dd HH:mm') }}", "2026-01-31 12:34"),
        ("{{ '2026-01-31T12:34:56.789Z' | date('HH:mm:ss.SSS') }}", "12:34:56.789"),
        ("{{ '2026-01-31T12:00:00Z' | date('HH:mm', timeZone='Europe/Berlin') }}", "13:00"),
        ("{{ '2026-01-31T12:00:00Z' | date(\"d MMM yyyy 'at' H\") }}", "31 Jan 2026 at 12"),
        ("{{ '  x ' | trim }}", "x"),
        ("{{ 'a.b' | replace('.', '_') }}", "a_b"),
        ("{{ -3 | abs }}", "3"),
        ("{% if inputs.name is defined %}yes{% endif %}", "yes"),
        ("{% for t in inputs.tags %}{{ t }}{% endfor %}", "ab"),
        ("{{ none ?? 'n' }}", "n"),
        ("{{ inputs.name equals 'world' }}", "true"),
        ("{{ 'a equals b' }}", "a equals b"),
        ("{{ '{\"k\": [1, 2]}' is json }}", "true"),
        ("{{ 'nope' is json }}", "false"),
        ("{{ '{\"k\": [1, 2]}' | jq('.k[1]') | first }}", "2"),
        ("{{ outputs | jq('.first.value') }}", '["v1"]'),
        ("{{ inputs.tags | jq('.[]') | join }}", "ab"),
        ("{{ '2026-01-31T00:00:00Z' | dateAdd(-1, 'DAYS') }}", "2026-01-30T00:00:00Z"),
        ("{{ '2026-01-31T00:00:00Z' | dateAdd(1, 'MONTHS') | date('yyyy-MM-dd') }}", "2026-02-28"),
        ("{{ 'abcdef' | slice(1, 3) }}", "bc"),
        ("{{ inputs.tags | slice(1) }}", '["b"]'),
        ("{{ 'a.b.c' | split('.') | last }}", "c"),
        ("{{ 'a.b.c' | substringBefore('.') }}|{{ 'a.b.c' | substringAfterLast('.') }}", "a|c"),
        ("{{ 'hi' | base64encode }}|{{ 'aGk=' | base64decode }}", "aGk=|hi"),
    ],
)
def test_it_renders_kestra_expressions(template: str, expected: str) -> None:
    assert render_string(template, CONTEXT) == expected


def test_it_renders_now_as_an_iso_instant() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", render_string("{{ now() }}", {}))


def test_it_renders_nested_structures_and_leaves_other_values_alone() -> None:
    value = {"a": ["{{ inputs.name }}", 3, None], "b": {"c": "{{ inputs.count }}"}, "d": True}
    assert render(value, CONTEXT) == {"a": ["world", 3, None], "b": {"c": "3"}, "d": True}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.nme }}", "undefined variable: 'inputs' has no attribute 'nme'"),
        ("{{ outputs.second.value }}", "undefined variable: 'outputs' has no attribute 'second'"),
        ("{{ outputs.first.vlue }}", "undefined variable: 'outputs.first' has no attribute 'vlue'"),
        ("{{ nothing }}", "Unable to find `nothing` used in the expression `{{ nothing }}` at line 1"),
        ("Hello {{ inputs.nme }}!", "undefined variable: 'inputs' has no attribute 'nme'"),
        ("{% if inputs.nme %}x{% endif %}", "undefined variable: 'inputs' has no attribute 'nme'"),
    ],
)
def test_it_fails_on_undefined_names_instead_of_rendering_blanks(template: str, expected: str) -> None:
    assert fails(template) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ range.__init__.__globals__ }}",
        "{{ inputs.__class__.__init__.__globals__ }}",
        "{{ inputs.tags.__class__.__base__.__subclasses__() }}",
        "{{ now.__globals__ }}",
        "{{ inputs.name.format.__globals__ }}",
        "{% set x = ''.__class__ %}{{ x }}",
        "{{ ()|attr('__class__') }}",
        "{{ inputs.tags.append('x') }}",
    ],
)
def test_it_blocks_sandbox_escapes(template: str) -> None:
    fails(template)


def test_it_does_not_let_templates_mutate_the_context() -> None:
    context = {"items": [1]}
    with pytest.raises(TemplateError):
        render_string("{{ items.append(2) }}", context)
    assert context == {"items": [1]}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{{ inputs.name ",
            "template syntax error at line 1: unexpected end of template, expected 'end of print statement'.",
        ),
        (
            "{% if x %}",
            "template syntax error at line 1: Unexpected end of template. Jinja was looking for the "
            "following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed "
            "is 'if'.",
        ),
    ],
)
def test_it_reports_syntax_errors(template: str, expected: str) -> None:
    assert fails(template) == expected


def test_it_reports_runtime_errors_as_template_errors() -> None:
    assert fails("{{ 1 / 0 }}") == "ZeroDivisionError: division by zero"
    assert fails("{{ 'x' | number }}") == "number: 'x' is not a number"


def test_it_reads_lazy_mappings_without_evaluating_them_all() -> None:
    class Lazy(Mapping[str, Any]):
        def __init__(self) -> None:
            self.read: list[str] = []

        def __getitem__(self, key: str) -> Any:
            if key not in ("a", "b"):
                raise KeyError(key)
            self.read.append(key)
            return key.upper()

        def __iter__(self) -> Iterator[str]:
            return iter(("a", "b"))

        def __len__(self) -> int:
            return 2

    lazy = Lazy()
    assert render_string("{{ vars.a }}", {"vars": lazy}) == "A"
    assert lazy.read == ["a"]
    assert fails("{{ vars.c }}", {"vars": lazy}) == "undefined variable: 'vars' has no attribute 'c'"


def test_it_serialises_maps_like_kestra() -> None:
    assert json.loads(render_string("{{ outputs.vals }}", CONTEXT)) == {"values": {"k": "x"}}


def test_it_supports_only_path_expressions_in_jq() -> None:
    assert fails("{{ inputs | jq('.tags | length') }}").startswith("jq: only path expressions")


def test_it_prints_the_context_for_debugging() -> None:
    assert json.loads(render_string("{{ printContext() }}", {"inputs": {"a": 1}})) == {"inputs": {"a": 1}}

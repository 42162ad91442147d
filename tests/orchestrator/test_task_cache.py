"""``taskCache``: a runnable task's outputs are reused for the same rendered task within the ``ttl``."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from orchestrator.executor import task_cache
from orchestrator.flowmodel import task_api
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.state.models import KeyValue, LogLine, State

_calls = itertools.count(1)


class CounterProps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = ""


@task_api.register("tests.cache.Counter", props=CounterProps)
def _counter(props: CounterProps, ctx: Any) -> dict[str, Any]:
    """A task whose output changes at every real run, so a reused output is visible."""
    ctx.log("INFO", "counting")
    return {"n": next(_calls), "label": props.label}


def _flow(ttl: str) -> str:
    return f"""
id: cached
namespace: tests.cache
inputs:
  - id: label
    type: STRING
    defaults: a
tasks:
  - id: count
    type: tests.cache.Counter
    label: "{{{{ inputs.label }}}}"
    taskCache:
      enabled: true
      ttl: {ttl}
"""


def _count(execution: Any) -> tuple[str, dict[str, Any], list[str]]:
    run = execution.task_runs.get(task_id="count")
    lines = list(LogLine.objects.filter(taskrun=run).order_by("id").values_list("message", flat=True))
    return run.state, run.outputs, lines


@pytest.mark.django_db(transaction=True)
def test_task_cache_reuses_the_outputs_of_the_same_rendered_task(run_flow: Any) -> None:
    first = run_flow(_flow("PT1H"), {"label": "a"})
    second = run_flow(_flow("PT1H"), {"label": "a"})

    state, outputs, lines = _count(first)
    assert (state, lines) == (State.SUCCESS, ["counting"])
    hit_state, hit_outputs, hit_lines = _count(second)
    assert hit_state == State.SUCCESS
    assert hit_outputs == outputs  # the same ``n``: the plugin did not run again
    assert hit_lines == [task_cache.HIT.format(task="count")]
    assert second.state == State.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_task_cache_misses_when_a_rendered_property_changes(run_flow: Any) -> None:
    first = run_flow(_flow("PT1H"), {"label": "a"})
    other = run_flow(_flow("PT1H"), {"label": "b"})

    assert _count(other)[1]["n"] != _count(first)[1]["n"]
    assert _count(other)[2] == ["counting"]
    assert KeyValue.objects.filter(namespace=task_cache.NAMESPACE).count() == 2


@pytest.mark.django_db(transaction=True)
def test_task_cache_misses_once_its_ttl_has_passed(run_flow: Any) -> None:
    first = run_flow(_flow("PT1S"), {"label": "a"})
    time.sleep(1.2)  # the entry was written when ``first`` ended; its ttl is one second
    later = run_flow(_flow("PT1S"), {"label": "a"})

    assert _count(later)[1]["n"] != _count(first)[1]["n"]
    assert _count(later)[2] == ["counting"]
    again = run_flow(_flow("PT1S"), {"label": "a"})  # the fresh entry is used again
    assert _count(again)[1] == _count(later)[1]


@pytest.mark.django_db(transaction=True)
def test_task_cache_disabled_runs_every_time(run_flow: Any) -> None:
    text = _flow("PT1H").replace("enabled: true", "enabled: false")
    first, second = run_flow(text), run_flow(text)

    assert _count(first)[1]["n"] != _count(second)[1]["n"]
    assert not KeyValue.objects.filter(namespace=task_cache.NAMESPACE).exists()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{ttl: PT1H}", "tasks[0].taskCache.enabled: required property missing"),
        ("{enabled: yes-please}", "tasks[0].taskCache.enabled: must be a boolean"),
        ("{enabled: true, ttl: soon}", "tasks[0].taskCache.ttl: must be an ISO-8601 duration"),
        ("{enabled: true, key: x}", "tasks[0].taskCache.key: unknown property"),
    ],
)
def test_task_cache_is_checked_at_load(block: str, message: str) -> None:
    text = f"id: f\nnamespace: n\ntasks:\n  - id: t\n    type: tests.cache.Counter\n    taskCache: {block}\n"
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="x.yml")
    assert any(str(e).split(": ", 2)[-1].startswith(message.split(": ", 1)[1]) for e in caught.value.errors)
    assert any(e.path == message.split(": ", 1)[0] for e in caught.value.errors)

"""Kestra's KV tasks (io.kestra.plugin.core.kv.*) through a real worker and database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from orchestrator.flowmodel import spec
from orchestrator.flowmodel.spec import FlowValidationError
from orchestrator.state.models import KeyValue, State

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def flow(tasks: str, namespace: str = "team.a") -> str:
    return f"id: kv\nnamespace: {namespace}\ntasks:\n{tasks}"


def test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: region\n    value: fsn1\n"
            "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: region\n"
            "  - id: delete\n    type: io.kestra.plugin.core.kv.Delete\n    key: region\n"
            "  - id: again\n    type: io.kestra.plugin.core.kv.Delete\n    key: region\n"
            "  - id: missing\n    type: io.kestra.plugin.core.kv.Get\n    key: region\n"
        )
    )

    assert execution.state == State.SUCCESS
    out = {run.task_id: run.outputs for run in execution.task_runs.all()}
    assert out["get"] == {"value": "fsn1"}
    assert out["delete"] == {"deleted": True}
    assert (out["again"], out["missing"]) == ({"deleted": False}, {"value": None})
    assert not KeyValue.objects.filter(namespace="team.a", key="region").exists()


@pytest.mark.parametrize(
    "kv_type, raw, stored",
    [
        ("NUMBER", "42", 42),
        ("NUMBER", "4.5", 4.5),
        ("BOOLEAN", "TRUE", True),
        ("BOOLEAN", "yes", False),  # Java's Boolean.parseBoolean: only "true" is true
        ("JSON", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("DURATION", "PT90M", "PT1H30M"),
        ("DATE", "2026-12-03", "2026-12-03"),
        ("STRING", "42", "42"),
    ],
)
def test_it_converts_the_value_to_kv_type(run_flow: Any, kv_type: str, raw: str, stored: Any) -> None:
    execution = run_flow(
        flow(f"  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: '{raw}'\n"
             f"    kvType: {kv_type}\n")
    )

    assert execution.state == State.SUCCESS
    assert KeyValue.objects.get(namespace="team.a", key="k").value == stored


def test_it_refuses_to_overwrite_when_told_not_to(run_flow: Any) -> None:
    KeyValue.objects.create(namespace="team.a", key="k", value="old")
    execution = run_flow(
        flow(
            "  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: new\n"
            "    overwrite: false\n"
        )
    )

    assert execution.state == State.FAILED
    assert "Key already exists and `overwrite` is set to `false`" in execution.task_runs.get().error
    assert KeyValue.objects.get(namespace="team.a", key="k").value == "old"


def test_it_fails_on_an_expired_value_and_drops_it(run_flow: Any) -> None:
    KeyValue.objects.create(
        namespace="team.a", key="k", value="stale", expires=timezone.now() - timedelta(seconds=1)
    )
    execution = run_flow(flow("  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n"))

    assert execution.state == State.FAILED
    assert "The requested value has expired" in execution.task_runs.get().error
    assert not KeyValue.objects.filter(key="k").exists()


def test_delete_fails_on_a_missing_key_when_asked(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "  - id: drop\n    type: io.kestra.plugin.core.kv.Delete\n    key: nothing\n"
            "    errorOnMissing: true\n"
        )
    )

    assert execution.state == State.FAILED
    assert "No value found for key 'nothing' in namespace 'team.a'" in execution.task_runs.get().error


def test_it_sets_a_ttl_and_fails_on_missing_when_asked(run_flow: Any) -> None:
    execution = run_flow(
        flow(
            "  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: v\n    ttl: PT1H\n"
            "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: other\n    errorOnMissing: true\n"
        )
    )

    row = KeyValue.objects.get(namespace="team.a", key="k")
    assert timedelta(minutes=59) < row.expires - timezone.now() <= timedelta(hours=1)
    assert execution.state == State.FAILED
    error = execution.task_runs.get(task_id="get").error
    assert "No value found for key 'other' in namespace 'team.a'" in error


def test_it_reaches_another_namespace_only_when_allowed(run_flow: Any, settings: Any) -> None:
    settings.PORTICO_ALLOWED_NAMESPACES = {"team.b": ["team.c"]}
    KeyValue.objects.create(namespace="team.b", key="k", value="b's")
    task = "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n    namespace: team.b\n"

    refused = run_flow(flow(task, namespace="team.a"))
    allowed = run_flow(flow(task, namespace="team.c"))

    assert refused.state == State.FAILED
    assert "not allowed" in refused.task_runs.get().error
    assert allowed.task_runs.get().outputs == {"value": "b's"}


def test_it_refuses_a_bad_key_at_load_and_once_rendered(run_flow: Any) -> None:
    with pytest.raises(FlowValidationError) as caught:
        spec.parse_flow(
            flow("  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: a/b\n    value: v\n")
        )
    assert "Key must start with an alphanumeric character" in str(caught.value)

    execution = run_flow(
        flow("  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: \"{{ '../x' }}\"\n    value: v\n")
    )
    assert execution.state == State.FAILED
    assert "Key must start with an alphanumeric character" in execution.task_runs.get().error

"""Kestra's integer flow revisions: recorded per new source, shown as ``flow.revision``, and started by
a Subflow's or a ForEachItem's ``revision``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.executor import walker
from orchestrator.flowmodel import flow_repository, input_types, spec, storage
from orchestrator.state import flow_snapshots
from orchestrator.state.models import Execution, FlowRevision, State
from tests.conftest import wait_for

CHILD = """\
id: child
namespace: tests.revisions
inputs:
  - id: items
    type: STRING
    defaults: none
tasks:
  - id: say
    type: io.kestra.plugin.core.debug.Return
    format: "{word} r{{{{ flow.revision }}}}"
outputs:
  - id: said
    type: STRING
    value: "{{{{ outputs.say.value }}}}"
"""

PARENT = """\
id: parent-{suffix}
namespace: tests.revisions
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.revisions
    flowId: child
{revision}
"""

FAN_OUT = """\
id: fan-out
namespace: tests.revisions
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    namespace: tests.revisions
    flowId: child
    revision: 1
    inputs:
      items: "{{ taskrun.items }}"
"""


@pytest.fixture
def child_files() -> Iterator[dict[str, str]]:
    """The child flow's current definition (what a flow file would hold), editable by the test."""
    current = {"text": CHILD.format(word="one")}
    flow_snapshots.forget_numbers()  # earlier tests' rows are gone with their database

    def lookup(namespace: str, flow_id: str) -> spec.Flow | None:
        if (namespace, flow_id) == ("tests.revisions", "child"):
            return spec.parse_flow(current["text"], file="child.yml")
        return None

    flow_repository.register(lookup)
    yield current
    flow_repository.unregister(lookup)


def _run(text: str, raw: dict[str, Any] | None = None) -> Execution:
    flow = spec.parse_flow(text, file="test.yml")
    execution_id = uuid.uuid4()
    prefix = storage.execution_prefix(flow.namespace, flow.id, execution_id)
    values = input_types.resolve_inputs(flow, raw or {}, files_prefix=prefix)
    return wait_for(walker.start_execution(flow, values, execution_id=execution_id), 60)


@pytest.mark.django_db
def test_each_new_source_is_the_next_revision_and_an_old_source_keeps_its_number() -> None:
    flow_snapshots.forget_numbers()
    one, two = (spec.parse_flow(CHILD.format(word=w), file="child.yml") for w in ("one", "two"))
    assert [flow_snapshots.record_revision(f) for f in (one, two, one, two)] == [1, 2, 1, 2]
    rows = FlowRevision.objects.filter(namespace="tests.revisions", flow_id="child")
    assert [(r.number, r.source, r.source_hash) for r in rows] == [
        (1, one.source, one.revision),
        (2, two.source, two.revision),
    ]
    assert flow_snapshots.flow_at_revision("tests.revisions", "child", 1).source == one.source
    with pytest.raises(flow_snapshots.RevisionNotFound, match="with revision '3'"):
        flow_snapshots.flow_at_revision("tests.revisions", "child", 3)


@pytest.mark.django_db(transaction=True)
def test_a_subflow_starts_the_revision_it_names(celery_worker: Any, child_files: dict[str, str]) -> None:
    first = _run(PARENT.format(suffix="latest", revision=""))  # starts (and records) revision 1
    assert first.state == State.SUCCESS
    assert first.task_runs.get(task_id="call").outputs["outputs"] == {"said": "one r1"}
    child_files["text"] = CHILD.format(word="two")  # the file is edited: revision 2

    latest = _run(PARENT.format(suffix="latest", revision=""))
    assert latest.task_runs.get(task_id="call").outputs["outputs"] == {"said": "two r2"}
    pinned = _run(PARENT.format(suffix="pinned", revision="    revision: 1"))
    call = pinned.task_runs.get(task_id="call")
    assert pinned.state == State.SUCCESS and call.outputs["outputs"] == {"said": "one r1"}
    child = Execution.objects.get(pk=call.outputs["executionId"])
    assert child.flow_source == CHILD.format(word="one")
    assert child.trigger["flowRevision"] == 1  # the parent's own revision, as Kestra passes it

    missing = _run(PARENT.format(suffix="missing", revision="    revision: 3"))
    run = missing.task_runs.get(task_id="call")
    assert missing.state == State.FAILED
    assert run.error == "Unable to find flow 'tests.revisions'.'child' with revision '3'"


@pytest.mark.django_db(transaction=True)
def test_for_each_item_starts_the_revision_it_names(celery_worker: Any, child_files: dict[str, str]) -> None:
    flow_snapshots.record_revision(spec.parse_flow(child_files["text"], file="child.yml"))
    child_files["text"] = CHILD.format(word="two")
    execution = _run(FAN_OUT, {"file": input_types.FileUpload("items.txt", b"a\nb\n")})
    assert execution.state == State.SUCCESS
    items = execution.task_runs.get(task_id="each_items")
    subs = Execution.objects.filter(parent_taskrun=items)
    assert sorted(s.outputs["said"] for s in subs) == ["one r1", "one r1"]


def test_a_revision_below_one_is_refused_at_load() -> None:
    with pytest.raises(spec.FlowValidationError) as caught:
        spec.parse_flow(PARENT.format(suffix="zero", revision="    revision: 0"), file="p.yml")
    assert "revision" in str(caught.value)

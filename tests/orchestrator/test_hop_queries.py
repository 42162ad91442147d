"""A step of a flow costs the same few queries wherever it is in the flow (bench/ measures the time)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestrator.executor import handoff, walker
from orchestrator.flowmodel import spec
from orchestrator.state.models import State, TaskRun
from orchestrator.worker import task_runs

LENGTH = 40
_TRANSACTION = re.compile(r"^(BEGIN|COMMIT|ROLLBACK)\b")


def _flow(reads_outputs_at: int | None = None) -> spec.Flow:
    tasks = []
    for i in range(LENGTH):
        value = "{{ outputs.t0.value }}" if i == reads_outputs_at else str(i)
        tasks.append(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: '{value}'\n")
    return spec.parse_flow("id: long\nnamespace: portico.test\ntasks:\n" + "".join(tasks), file="long.yml")


def _queries_per_step(flow: spec.Flow) -> list[int]:
    """Run every step in this thread, one ``execute`` each (as if every step came from the broker)."""
    execution = walker.start_execution(flow, {})
    counts = []
    for _ in range(LENGTH):
        run = TaskRun.objects.get(execution=execution, state=State.CREATED)
        with CaptureQueriesContext(connection) as captured:
            assert task_runs.execute(str(run.pk))
        # Statements only: BEGIN/COMMIT are two transactions either way (claim, then finish + advance).
        counts.append(sum(1 for q in captured.captured_queries if not _TRANSACTION.match(q["sql"])))
    execution.refresh_from_db()
    assert execution.state == State.SUCCESS
    return counts


@pytest.mark.django_db(transaction=True)
def test_a_step_late_in_a_long_flow_costs_the_same_queries_as_an_early_one(unconsumed_queue: str) -> None:
    counts = _queries_per_step(_flow())

    assert counts[2] == counts[LENGTH - 2]
    assert counts[2] == 6  # claim 2; finish 1; the execution and its runs 2; the next run 1


@pytest.mark.django_db(transaction=True)
def test_a_step_loads_the_other_runs_only_when_its_templates_read_them(
    settings: Any, unconsumed_queue: str
) -> None:
    settings.PORTICO_HANDOFF_SECONDS = 0
    plain = _queries_per_step(_flow())
    reading = _queries_per_step(_flow(reads_outputs_at=20))

    assert reading[20] == plain[20] + 1
    assert reading[19] == plain[19] and reading[21] == plain[21]


@pytest.mark.django_db(transaction=True)
def test_a_handed_off_step_is_claimed_where_it_is_created(settings: Any, unconsumed_queue: str) -> None:
    """Inside a delivery the next run is claimed in the transaction that creates it: no claim of its own."""
    settings.PORTICO_HANDOFF_SECONDS = 60
    execution = walker.start_execution(_flow(), {})
    first = TaskRun.objects.get(execution=execution, state=State.CREATED)
    statements: list[int] = []
    for item in handoff.runs(str(first.pk), claim={"worker_task_id": "delivery-1", "worker": "w/1"}):
        with CaptureQueriesContext(connection) as captured:
            if isinstance(item, TaskRun):
                task_runs.run_claimed(item)
            else:
                assert task_runs.execute(item)
        sql = [q["sql"] for q in captured.captured_queries]
        statements.append(sum(1 for text in sql if not _TRANSACTION.match(text)))

    execution.refresh_from_db()
    assert execution.state == State.SUCCESS and len(statements) == LENGTH  # all in this one delivery
    # The first step: its own claim (2) + finish (1) + walk (2) + the next run created (1) and claimed (1).
    # A handed-off step has no claim of its own: 2 statements and a transaction fewer.
    assert statements[0] == 7 and statements[LENGTH // 2] == 5
    runs = TaskRun.objects.filter(execution=execution)
    handed_off = {(r.attempts, r.worker_task_id, r.worker) for r in runs if r.pk != first.pk}
    assert handed_off == {(1, "delivery-1", "w/1")}  # claimed with this delivery's fields, once each
    assert all([h["state"] for h in r.history] == ["CREATED", "RUNNING", "SUCCESS"] for r in runs)

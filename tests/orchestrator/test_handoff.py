"""Hand-off: a worker runs the next task itself, no broker round trip (orchestrator/handoff.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_prerun

from orchestrator.executor import handoff
from orchestrator.state.models import State, TaskRun

SEQUENTIAL = """
id: five-steps
namespace: portico.test
tasks:
""" + "".join(
    f"""  - id: step{i}
    type: io.kestra.plugin.core.debug.Return
    format: "{i}"
"""
    for i in range(5)
)

FAN_OUT = """
id: fan-out
namespace: portico.test
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "0"
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.debug.Return
        format: a
      - id: b
        type: io.kestra.plugin.core.debug.Return
        format: b
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: c
"""


@pytest.fixture
def deliveries() -> Iterator[list[str]]:
    """The ``orchestrator.run_task`` messages the worker received (one per broker delivery)."""
    seen: list[str] = []

    def count(sender: Any = None, args: Any = (), **_: Any) -> None:
        if getattr(sender, "name", "") == "orchestrator.run_task":
            seen.append(args[0])

    task_prerun.connect(count, weak=False)
    try:
        yield seen
    finally:
        task_prerun.disconnect(count)


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_sequential_flow_in_one_delivery(run_flow: Any, deliveries: list[str]) -> None:
    execution = run_flow(SEQUENTIAL)

    assert execution.state == State.SUCCESS
    assert TaskRun.objects.filter(execution=execution, state=State.SUCCESS).count() == 5
    assert len(deliveries) == 1  # step0 came from the broker; step1..4 were handed off


@pytest.mark.django_db(transaction=True)
def test_it_sends_every_run_through_the_broker_when_off(
    run_flow: Any, deliveries: list[str], settings: Any
) -> None:
    settings.PORTICO_HANDOFF_SECONDS = 0

    execution = run_flow(SEQUENTIAL)

    assert execution.state == State.SUCCESS
    assert len(deliveries) == 5


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_run_and_sends_the_other_branches_to_the_broker(
    run_flow: Any, deliveries: list[str]
) -> None:
    execution = run_flow(FAN_OUT)

    assert execution.state == State.SUCCESS
    outputs = {r.task_id: r.outputs.get("value") for r in TaskRun.objects.filter(execution=execution)}
    assert outputs == {"first": "0", "fan": None, "a": "a", "b": "b", "c": "c"}
    # "first" from the broker; of a, b, c one is handed off and two go to the broker (other workers).
    assert len(deliveries) == 3


def test_it_takes_only_the_first_offer_per_step(settings: Any) -> None:
    settings.PORTICO_HANDOFF_SECONDS = 60
    assert handoff.offer("outside") is False  # not inside a delivery: always the broker

    steps = handoff.runs("first")
    assert next(steps) == "first"
    assert handoff.offer("second") is True
    assert handoff.offer("third") is False
    assert next(steps) == "second"
    assert list(steps) == []
    assert handoff.offer("after") is False


def test_it_stops_taking_runs_when_the_budget_is_spent(settings: Any) -> None:
    settings.PORTICO_HANDOFF_SECONDS = 1e-9

    steps = handoff.runs("first")
    assert next(steps) == "first"
    assert handoff.offer("second") is False
    assert list(steps) == []


@pytest.mark.django_db(transaction=True)
def test_a_held_run_goes_to_the_broker_when_the_delivery_fails(
    celery_worker: Any, deliveries: list[str], settings: Any
) -> None:
    settings.PORTICO_HANDOFF_SECONDS = 60
    held = str(uuid.uuid4())
    steps = handoff.runs("first")
    next(steps)
    assert handoff.offer(held) is True

    steps.close()  # what an exception in the worker's loop does to the generator

    deadline = time.monotonic() + 10
    while held not in deliveries:
        assert time.monotonic() < deadline, "the held run never reached the broker"
        time.sleep(0.02)

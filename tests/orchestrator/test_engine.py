"""The state machine without a broker: transitions, signals and the idempotent claim."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from orchestrator.executor import walker
from orchestrator.flowmodel import spec
from orchestrator.state import transitions
from orchestrator.state.models import TERMINAL, Execution, LogLine, State, TaskRun
from orchestrator.state.signals import execution_state_changed, taskrun_state_changed
from orchestrator.worker import task_runs

pytestmark = pytest.mark.django_db

HELLO = """
id: hello
namespace: tests.engine
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: Hallo {{ flow.id }}
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: "42"
"""

ALL_PAIRS = [(old, new) for old in State for new in State]
ALLOWED_PAIRS = [(old, new) for old, new in ALL_PAIRS if new in transitions.ALLOWED[old]]
REFUSED_PAIRS = [(old, new) for old, new in ALL_PAIRS if new not in transitions.ALLOWED[old]]


def make_execution(state: State = State.CREATED) -> Execution:
    flow = spec.parse_flow(HELLO)
    return Execution.objects.create(
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=flow.revision,
        flow_source=flow.source,
        state=state,
    )


@pytest.mark.parametrize(("old", "new"), ALLOWED_PAIRS, ids=[f"{o}->{n}" for o, n in ALLOWED_PAIRS])
def test_it_allows_kestra_transitions(old: State, new: State) -> None:
    execution = make_execution(old)

    assert transitions.transition(execution, new) is True

    execution.refresh_from_db()
    assert execution.state == new
    assert execution.history[-1]["state"] == new


@pytest.mark.parametrize(("old", "new"), REFUSED_PAIRS, ids=[f"{o}->{n}" for o, n in REFUSED_PAIRS])
def test_it_refuses_other_transitions(old: State, new: State) -> None:
    execution = make_execution(old)

    assert transitions.transition(execution, new) is False

    execution.refresh_from_db()
    assert execution.state == old
    assert execution.history == []


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS, ids=[f"{o}->{n}" for o, n in ALL_PAIRS])
def test_it_applies_the_same_table_to_task_runs(old: State, new: State) -> None:
    run = TaskRun.objects.create(execution=make_execution(State.RUNNING), task_id="greet", state=old)
    allowed = new in transitions.ALLOWED[old]

    assert transitions.transition(run, new) is allowed

    run.refresh_from_db()
    assert run.state == (new if allowed else old)
    assert [h["state"] for h in run.history] == ([new] if allowed else [])
    assert (run.ended is not None) == (allowed and new in TERMINAL)


def test_it_covers_every_state_in_the_table() -> None:
    assert set(transitions.ALLOWED) == set(State)
    for targets in transitions.ALLOWED.values():
        assert targets <= set(State)


def test_it_lets_terminal_states_leave_only_by_restart() -> None:
    assert transitions.ALLOWED[State.SUCCESS] == frozenset()
    assert transitions.ALLOWED[State.CANCELLED] == frozenset()
    for state in (State.FAILED, State.WARNING, State.KILLED):
        assert transitions.ALLOWED[state] == {State.RESTARTED}


def test_it_sets_started_ended_and_reason() -> None:
    execution = make_execution()

    transitions.transition(execution, State.RUNNING)
    transitions.transition(execution, State.FAILED, reason="boom")

    execution.refresh_from_db()
    assert execution.started is not None and execution.ended is not None
    assert execution.started <= execution.ended
    assert [h["state"] for h in execution.history] == ["RUNNING", "FAILED"]
    assert execution.history[-1]["reason"] == "boom"


def test_it_sends_the_signal_inside_the_transaction() -> None:
    execution = make_execution()
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append({"sender": sender, "atomic": transaction.get_connection().in_atomic_block, **kwargs})

    execution_state_changed.connect(receiver)
    try:
        transitions.transition(execution, State.RUNNING)
        transitions.transition(execution, State.RUNNING)  # refused: no signal
    finally:
        execution_state_changed.disconnect(receiver)

    assert len(seen) == 1
    assert seen[0]["sender"] is Execution
    assert seen[0]["execution"].pk == execution.pk
    assert (seen[0]["old"], seen[0]["new"]) == ("CREATED", "RUNNING")
    assert seen[0]["atomic"] is True


def test_it_creates_the_first_task_run_when_starting() -> None:
    events: list[tuple[str | None, str]] = []

    def receiver(sender: Any, taskrun: TaskRun, old: str | None, new: str, **_: Any) -> None:
        events.append((old, new))

    taskrun_state_changed.connect(receiver)
    try:
        execution = walker.start_execution(spec.parse_flow(HELLO), {}, labels={"team": "a"})
    finally:
        taskrun_state_changed.disconnect(receiver)

    execution.refresh_from_db()
    assert execution.state == State.RUNNING
    assert execution.labels == {"team": "a", "system.correlationId": str(execution.pk)}
    assert [(r.task_id, r.state) for r in execution.task_runs.all()] == [("greet", "CREATED")]
    assert events == [(None, "CREATED")]


def test_it_claims_a_task_run_only_once() -> None:
    execution = walker.start_execution(spec.parse_flow(HELLO), {})
    run = execution.task_runs.get()

    assert task_runs.execute(str(run.pk)) is True
    assert task_runs.execute(str(run.pk)) is False  # a redelivered message

    run.refresh_from_db()
    assert run.state == State.SUCCESS
    assert run.attempts == 1
    assert list(LogLine.objects.filter(taskrun=run).values_list("message", flat=True)) == ["Hallo hello"]
    assert execution.task_runs.filter(task_id="answer").count() == 1


def test_it_ignores_a_message_for_a_running_task_run() -> None:
    execution = walker.start_execution(spec.parse_flow(HELLO), {})
    run = execution.task_runs.get()
    assert transitions.transition(run, State.RUNNING)

    assert task_runs.execute(str(run.pk)) is False

    run.refresh_from_db()
    assert run.state == State.RUNNING
    assert run.attempts == 0
    assert not LogLine.objects.exists()


def test_it_runs_a_flow_to_the_end_without_a_broker() -> None:
    execution = walker.start_execution(spec.parse_flow(HELLO), {})

    while (pending := execution.task_runs.filter(state=State.CREATED).first()) is not None:
        task_runs.execute(str(pending.pk))

    execution.refresh_from_db()
    assert execution.state == State.SUCCESS
    assert execution.task_runs.get(task_id="answer").outputs == {"value": "42"}


def test_it_ignores_an_unknown_task_run_id() -> None:
    assert task_runs.execute("00000000-0000-0000-0000-000000000000") is False


def drive(execution: Execution) -> Execution:
    """Run every pending task run in this thread, in order (the worker's code path, minus the broker)."""
    while (pending := execution.task_runs.filter(state=State.CREATED).first()) is not None:
        task_runs.execute(str(pending.pk))
    execution.refresh_from_db()
    return execution


def test_it_skips_disabled_tasks() -> None:
    flow = spec.parse_flow(
        """
id: skip
namespace: tests.engine
tasks:
  - id: off
    type: io.kestra.plugin.core.execution.Fail
    disabled: true
  - id: on
    type: io.kestra.plugin.core.debug.Return
    format: ran
"""
    )

    execution = drive(walker.start_execution(flow, {}))

    assert execution.state == State.SUCCESS
    assert [run.task_id for run in execution.task_runs.all()] == ["on"]


def test_it_ends_in_warning_when_an_allowed_failure_happens() -> None:
    flow = spec.parse_flow(
        """
id: allowed
namespace: tests.engine
tasks:
  - id: shaky
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: next
    type: io.kestra.plugin.core.debug.Return
    format: still ran
"""
    )

    execution = drive(walker.start_execution(flow, {}))

    assert execution.state == State.WARNING
    states = {run.task_id: run.state for run in execution.task_runs.all()}
    assert states == {"shaky": State.FAILED, "next": State.SUCCESS}


def test_it_refuses_to_start_a_disabled_flow() -> None:
    flow = spec.parse_flow(HELLO + "disabled: true\n")

    with pytest.raises(walker.FlowDisabled, match="tests.engine.hello is disabled"):
        walker.start_execution(flow, {})

    assert not Execution.objects.exists()


def test_it_fails_a_task_whose_rendered_properties_are_invalid() -> None:
    flow = spec.parse_flow(
        """
id: invalid-props
namespace: tests.engine
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ 'soon' }}"
"""
    )

    execution = drive(walker.start_execution(flow, {}))

    assert execution.state == State.FAILED
    run = execution.task_runs.get()
    assert run.error.startswith("invalid properties for Sleep: duration")
    assert LogLine.objects.get(taskrun=run, level="ERROR").message == run.error

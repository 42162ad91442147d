"""The flow's deprecated ``listeners``: tasks run once the execution has ended (Kestra's
``ExecutorService.handleListeners`` and ``ConditionService.findValidListeners``).

When the execution is terminal, the tasks of every listener whose ``conditions`` all hold for it (the
ended execution is the subject: its flow, namespace, state and template context) run as one sequence,
in the order of the listeners and of their tasks. A failing listener task does not stop the next one,
and nothing they end in changes the execution's state (Kestra's ``ListenersTest``). Like
``afterExecution`` they are walked on every ``advance`` of the ended execution, under its row lock, so
each starts once and the next starts when it ends.
"""

from __future__ import annotations

from typing import Any

from orchestrator.flowmodel import conditions
from orchestrator.flowmodel.spec import Flow, TaskSpec
from orchestrator.state import flow_snapshots, template_context
from orchestrator.state.models import Execution, State

S = State


def matching_tasks(execution: Execution, flow: Flow) -> list[TaskSpec]:
    """The tasks of the listeners whose conditions hold for the ended ``execution``."""
    if not flow.listeners:
        return []
    context: dict[str, Any] | None = None
    tasks: list[TaskSpec] = []
    for listener in flow.listeners:
        if listener.conditions and context is None:
            context = template_context.build(execution, flow, execution.task_runs.all())
        subject = conditions.Subject(execution.namespace, execution.flow_id, execution.state, context or {})
        if conditions.holds(listener.conditions, subject):
            tasks.extend(listener.tasks)
    return tasks


def run(execution: Execution, walker_cls: Any) -> None:
    """Walk the matching listener tasks of the ended ``execution`` (under its row lock)."""
    if execution.state == S.RETRIED:
        return  # replaced by a new execution, which runs them when it ends
    flow = flow_snapshots.flow_for(execution)
    tasks = matching_tasks(execution, flow)
    if not tasks:
        return
    walker = walker_cls(execution, flow)
    for task in tasks:
        if walker.sequence(None, [task]) is None:  # a one-task sequence: skips a disabled one
            return  # still running: the next starts when it ends

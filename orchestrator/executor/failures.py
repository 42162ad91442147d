"""Failure handling around a task run: ``timeout``, ``runIf``, the attempt fence and ``afterExecution``.

Timeouts are enforced by a watchdog thread next to the plugin, not by Celery's ``soft_time_limit``:
Celery time limits exist only in the prefork pool (they are signals), while Portico also runs plugins
in solo/thread workers (``flow run`` without a worker, the tests). When the timeout expires the
watchdog fails the attempt at once ("Timeout after PT1S", retried under the task's policy like any
failure) and sets the context's ``interrupted`` event, which makes ``ctx.sleep`` and ``ctx.log`` raise
``TaskInterrupted`` so a cooperative plugin stops promptly. A plugin stuck in foreign code keeps its
worker slot until it returns, but its late result is ignored: every result names the attempt it
belongs to, and only the current, still-running attempt may finish the run (``is_current_attempt``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction

from orchestrator.executor import handoff
from orchestrator.flowmodel import task_api, templating
from orchestrator.flowmodel.spec import TaskSpec
from orchestrator.flowmodel.templating import is_truthy
from orchestrator.state import flow_snapshots, logs, template_context, transitions
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun

if TYPE_CHECKING:
    from orchestrator.flowmodel.spec import Flow

logger = logging.getLogger(__name__)

S = State


class TaskInterrupted(Exception):  # noqa: N818 (reads as what happened to the task)
    """Raised inside a plugin (by ``ctx.sleep``/``ctx.log``) once its attempt has been ended for it."""


def is_current_attempt(taskrun: TaskRun, attempt: int) -> bool:
    """True while attempt ``attempt`` of the run is still the one running (locks the row)."""
    return (
        TaskRun.objects.select_for_update()
        .filter(pk=taskrun.pk, attempts=attempt, state__in=[S.RUNNING, S.KILLING])
        .exists()
    )


# --- timeout -----------------------------------------------------------------------------------------


# --- runIf --------------------------------------------------------------------------------------------


def skip_unless(
    walker: Any, parent: TaskRun | None, task: TaskSpec, value: str | None = None
) -> TaskRun | None:
    """Evaluate ``runIf`` when the walker first reaches ``task`` (Kestra does it in the executor).

    The run is created first (not dispatched), so the condition sees ``taskrun`` and ``parent`` like the
    task itself would (e.g. ``{{ taskrun.value }}`` inside a ForEach). Returns the run: dispatched when
    the condition holds, SKIPPED when it is false, FAILED when it cannot be rendered.
    """

    task_type = task_api.lookup(task.type)
    # flowable=True: not dispatched yet; ``value``: the iteration the run belongs to (ForEach)
    run = walker.create_run(parent, task, flowable=True, value=value)

    def context() -> dict[str, Any]:
        runs = list(walker.runs.values())
        return template_context.build(walker.execution, walker.flow, runs, taskrun=run, task=task)

    verdict, message = run_if_verdict(task, context)
    if verdict is None:
        if not (task_type and task_type.flowable):
            run_id = str(run.pk)
            transaction.on_commit(lambda: handoff.dispatch(run_id), robust=True)
        return run
    if verdict == S.SKIPPED:
        transitions.transition(run, S.SKIPPED, reason=message)
        return run
    transitions.transition(run, S.RUNNING)
    transitions.transition(run, S.FAILED, error=message)
    logs.log(walker.execution, run, "ERROR", message)
    return run


def run_if_verdict(task: TaskSpec, context: Callable[[], dict[str, Any]]) -> tuple[State | None, str]:
    """``task``'s ``runIf``: (None, "") when it holds, (SKIPPED, why) when false, (FAILED, error) when it
    cannot be rendered. ``context`` is only built when the condition is a template."""

    condition = task.common.get("runIf")
    try:
        if isinstance(condition, str):
            condition = templating.render_string(condition, context())
    except templating.TemplateError as exc:
        return S.FAILED, f"cannot evaluate runIf: {exc}"
    if is_truthy(condition):
        return None, ""
    return S.SKIPPED, f"runIf is false: {task.common.get('runIf')}"


# --- afterExecution -----------------------------------------------------------------------------------


def run_after_execution(execution: Execution, walker_cls: Any) -> None:
    """Walk the flow's ``afterExecution`` tasks once the execution is terminal (under its row lock).

    They see the final ``execution.state``; whatever they end in never changes it (Kestra).
    """

    if execution.state == S.RETRIED:
        return  # replaced by a new execution, which runs them when it ends
    flow = flow_snapshots.flow_for(execution)
    after = getattr(flow, "after_execution", None)
    if not after:
        return
    walker_cls(execution, flow).sequence(None, after)


def after_execution_ids(flow: Flow) -> set[str]:
    """Ids of the flow's ``afterExecution`` and listener tasks, nested ones included: both run after the
    execution has ended."""
    tops = [*(getattr(flow, "after_execution", None) or []), *flow.listener_tasks]
    return {task.id for top in tops for task in top.walk()}


def is_after_execution_run(execution: Execution, run: TaskRun) -> bool:
    """True for a run of an ``afterExecution`` task once its execution has ended: it still runs, retries
    and times out although the execution's own state is final (and stays so)."""

    if execution.state not in TERMINAL or execution.state == S.RETRIED:
        return False
    return run.task_id in after_execution_ids(flow_snapshots.flow_for(execution))

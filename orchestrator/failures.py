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
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task
from django.db import connections, transaction
from django.dispatch import receiver
from django.utils import timezone

from . import templating
from .durations import format_duration, parse_duration
from .models import TERMINAL, Execution, State, TaskRun
from .signals import taskrun_state_changed
from .spec import TaskSpec

if TYPE_CHECKING:
    from .spec import Flow

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


def task_timeout(task: TaskSpec, context: dict[str, Any]) -> timedelta | None:
    """The task's ``timeout`` (rendered: Kestra allows an expression), or None."""
    raw = task.common.get("timeout")
    if raw in (None, ""):
        return None
    if isinstance(raw, str) and "{{" in raw:
        raw = templating.render_string(raw, context)
    value = parse_duration(raw)
    return value if value > timedelta(0) else None


class Watchdog:
    """Fails attempt ``attempt`` of a run once ``timeout`` has passed, unless cancelled first."""

    def __init__(
        self,
        taskrun: TaskRun,
        attempt: int,
        timeout: timedelta,
        interrupt: Any,
        secrets: list[str],
        *,
        record: bool = True,
    ) -> None:
        self.taskrun_id = taskrun.pk
        self.attempt = attempt
        self.timeout = timeout
        self.interrupt = interrupt  # callable(reason) on the plugin's context
        self.secrets = secrets
        # False inside a WorkingDirectory: the directory's thread records the failure (and retries inline)
        # once the interrupted child returns; a retry through the broker would leave the directory.
        self.record = record
        self.message = f"Timeout after {format_duration(timeout)}"
        self._timer = threading.Timer(timeout.total_seconds(), self._fire)
        self._timer.daemon = True

    def start(self) -> Watchdog:
        self._timer.start()
        return self

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        from . import engine

        try:
            self.interrupt(self.message)
            if not self.record:
                return
            run = TaskRun.objects.select_related("execution").filter(pk=self.taskrun_id).first()
            if run is not None:
                engine.task_failed(run, self.message, self.secrets, attempt=self.attempt)
        except Exception:  # a watchdog must never take the worker down
            logger.exception("timeout of task run %s could not be recorded", self.taskrun_id)
        finally:
            connections.close_all()  # this thread's own connections only


# --- flowable timeout ---------------------------------------------------------------------------------
#
# A flowable (Parallel, Sequential, ForEach, Subflow...) holds no worker, so no watchdog thread can time
# it. When it starts RUNNING a countdown message (``orchestrator.flowable_timeout``) is sent for its
# deadline; ``expire_flowables`` (run by the reconciler) catches a lost one. On expiry the flowable ends
# FAILED ("Timeout after PT1S") and whatever still runs below it is killed (``control.kill_descendants``),
# as in Kestra; the execution then goes on as after any failure (``errors``, ``finally``, allowFailure).

_PAUSE = "io.kestra.plugin.core.flow.Pause"  # its ``timeout`` is how long it may stay paused (flowcontrol)
_LIVE = (S.RUNNING, S.RETRYING, S.PAUSED)  # executions whose flowables may still time out
_EARLY_TOLERANCE = timedelta(milliseconds=50)


def flowable_timeout(execution: Execution, flow: Flow, run: TaskRun) -> timedelta | None:
    """The ``timeout`` of the flowable task behind ``run``; None for a worker task, a Pause, or none set."""
    from . import context as template_context
    from . import registry

    task = flow.find_task(run.task_id)
    if task is None or task.common.get("timeout") in (None, ""):
        return None
    task_type = registry.lookup(task.type)
    if task_type is None or not task_type.flowable or task_type.name == _PAUSE:
        return None
    raw = task.common["timeout"]
    context: dict[str, Any] = {}
    if isinstance(raw, str) and "{{" in raw:
        runs = execution.task_runs.all()
        context = template_context.build(execution, flow, runs, taskrun=run, task=task)
    try:
        return task_timeout(task, context)
    except (templating.TemplateError, ValueError) as exc:
        logger.warning("timeout of task run %s ignored: %s", run.pk, exc)
        return None


def running_since(run: TaskRun) -> datetime:
    """When the run last went RUNNING: a restarted flowable's clock starts again."""
    for entry in reversed(run.history or []):
        if entry.get("state") == S.RUNNING and entry.get("date"):
            return datetime.fromisoformat(str(entry["date"]).replace("Z", "+00:00"))
    return run.started or run.created


@receiver(taskrun_state_changed, dispatch_uid="orchestrator.failures.flowable_timeout")
def _arm_flowable_timeout(sender: Any, taskrun: TaskRun, old: str | None, new: str, **_: Any) -> None:
    if new != S.RUNNING or old not in (S.CREATED, S.RESTARTED) or taskrun.worker:
        return  # only a flowable starting (a worker's claim sets ``worker``)
    from . import engine

    execution = taskrun.execution
    timeout = flowable_timeout(execution, engine.flow_for(execution), taskrun)
    if timeout is None:
        return
    run_id, seconds = str(taskrun.pk), timeout.total_seconds()
    transaction.on_commit(lambda: expire_flowable.apply_async((run_id,), countdown=seconds), robust=True)


def _may_time_out(execution: Execution, run: TaskRun) -> bool:
    """A flowable of a live execution, or an ``afterExecution`` one of an ended execution (they are
    ordinary tasks in Kestra: their ``timeout`` holds even though the execution's state is final)."""
    return execution.state in _LIVE or is_after_execution_run(execution, run)


@shared_task(name="orchestrator.flowable_timeout")
def expire_flowable(taskrun_id: str) -> bool:
    """The flowable's deadline passed: fail it, kill what runs below it, move on (idempotent)."""
    from . import control, engine

    execution_id = TaskRun.objects.filter(pk=taskrun_id).values_list("execution_id", flat=True).first()
    if execution_id is None:
        return False
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        run = TaskRun.objects.filter(pk=taskrun_id).first()
        if run is None or run.state != S.RUNNING or run.worker:
            return False
        flow = engine.flow_for(execution)
        if not _may_time_out(execution, run):
            return False
        timeout = flowable_timeout(execution, flow, run)
        if timeout is None:
            return False
        left = (running_since(run) + timeout - timezone.now()).total_seconds()
        if left > _EARLY_TOLERANCE.total_seconds():
            transaction.on_commit(
                lambda: expire_flowable.apply_async((taskrun_id,), countdown=left), robust=True
            )
            return False
        message = f"Timeout after {format_duration(timeout)}"
        if not engine.transition(run, S.FAILED, error=message, wake_at=None):
            return False
        engine.log(execution, run, "ERROR", message)
        control.kill_descendants(execution, run, reason=message)
        # A Pause or a retry below it may have been all the execution waited for.
        for waiting in (S.PAUSED, S.RETRYING):
            if execution.state == waiting and not execution.task_runs.filter(state=waiting).exists():
                engine.transition(execution, S.RUNNING, reason=f"task '{run.task_id}' timed out")
        engine.advance(execution.pk)
    return True


def expire_flowables() -> int:
    """Periodic safety net (the reconciler): flowables past their deadline whose timer message was lost."""
    from . import engine

    now = timezone.now()
    expired = 0
    # Ended executions too: their afterExecution flowables still run (and time out).
    states = [*_LIVE, *TERMINAL]
    candidates = TaskRun.objects.filter(state=S.RUNNING, worker="", execution__state__in=states)
    for run in candidates.select_related("execution"):
        flow = engine.flow_for(run.execution)
        if not _may_time_out(run.execution, run):
            continue
        timeout = flowable_timeout(run.execution, flow, run)
        if timeout is not None and running_since(run) + timeout <= now:
            expired += expire_flowable(str(run.pk))
    return expired


# --- runIf --------------------------------------------------------------------------------------------


def skip_unless(
    walker: Any, parent: TaskRun | None, task: TaskSpec, value: str | None = None
) -> TaskRun | None:
    """Evaluate ``runIf`` when the walker first reaches ``task`` (Kestra does it in the executor).

    The run is created first (not dispatched), so the condition sees ``taskrun`` and ``parent`` like the
    task itself would (e.g. ``{{ taskrun.value }}`` inside a ForEach). Returns the run: dispatched when
    the condition holds, SKIPPED when it is false, FAILED when it cannot be rendered.
    """
    from . import context as template_context
    from . import engine, registry

    task_type = registry.lookup(task.type)
    # flowable=True: not dispatched yet; ``value``: the iteration the run belongs to (ForEach)
    run = walker._create(parent, task, flowable=True, value=value)

    def context() -> dict[str, Any]:
        runs = list(walker.runs.values())
        return template_context.build(walker.execution, walker.flow, runs, taskrun=run, task=task)

    verdict, message = run_if_verdict(task, context)
    if verdict is None:
        if not (task_type and task_type.flowable):
            run_id = str(run.pk)
            transaction.on_commit(lambda: engine._dispatch(run_id), robust=True)
        return run
    if verdict == S.SKIPPED:
        engine.transition(run, S.SKIPPED, reason=message)
        return run
    engine.transition(run, S.RUNNING)
    engine.transition(run, S.FAILED, error=message)
    engine.log(walker.execution, run, "ERROR", message)
    return run


def run_if_verdict(task: TaskSpec, context: Callable[[], dict[str, Any]]) -> tuple[State | None, str]:
    """``task``'s ``runIf``: (None, "") when it holds, (SKIPPED, why) when false, (FAILED, error) when it
    cannot be rendered. ``context`` is only built when the condition is a template."""
    from .plugins.core import is_truthy

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
    from . import engine

    if execution.state == S.RETRIED:
        return  # replaced by a new execution, which runs them when it ends
    flow = engine.flow_for(execution)
    after = getattr(flow, "after_execution", None)
    if not after:
        return
    walker_cls(execution, flow).sequence(None, after)


def after_execution_ids(flow: Flow) -> set[str]:
    """Ids of the flow's ``afterExecution`` tasks, nested ones included."""
    return {task.id for top in getattr(flow, "after_execution", None) or [] for task in top.walk()}


def is_after_execution_run(execution: Execution, run: TaskRun) -> bool:
    """True for a run of an ``afterExecution`` task once its execution has ended: it still runs, retries
    and times out although the execution's own state is final (and stays so)."""
    from . import engine

    if execution.state not in TERMINAL or execution.state == S.RETRIED:
        return False
    return run.task_id in after_execution_ids(engine.flow_for(execution))

"""Timeouts: a task's ``timeout`` (a watchdog thread next to the plugin) and a flowable's (a timer).

Timeouts are enforced by a watchdog thread next to the plugin, not by Celery's ``soft_time_limit``:
Celery time limits exist only in the prefork pool (they are signals), while Portico also runs plugins in
threads (the in-process worker of ``flow run`` and tests). A flowable holds no worker, so its timeout is
a countdown message instead. Either way the attempt ends FAILED ("Timeout after PT1S") and the walker
moves on as after any failure.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.db import connections, transaction
from django.utils import timezone

from orchestrator.executor import control, walker
from orchestrator.executor.failures import is_after_execution_run
from orchestrator.flowmodel import task_api, templating
from orchestrator.flowmodel.durations import format_duration, parse_duration
from orchestrator.flowmodel.spec import Flow, TaskSpec
from orchestrator.state import flow_snapshots, logs, template_context, transitions
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun
from orchestrator.state.signals import taskrun_state_changed

logger = logging.getLogger(__name__)

S = State


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

        try:
            self.interrupt(self.message)
            if not self.record:
                return
            run = TaskRun.objects.select_related("execution").filter(pk=self.taskrun_id).first()
            if run is not None:
                with transaction.atomic():
                    # A WorkingDirectory's children run inline in this attempt: they end with it, in the
                    # same transaction, so the execution never ends while one still shows RUNNING (the
                    # interrupted child's own late transition is then refused as a no-op).
                    unfinished = TaskRun.objects.filter(parent_id=run.pk).exclude(
                        state__in=[s.value for s in TERMINAL]
                    )
                    for child in unfinished:
                        stopped = f"stopped: {self.message}"
                        transitions.transition(child, S.FAILED, reason=stopped, error=stopped, wake_at=None)
                    walker.task_failed(run, self.message, self.secrets, attempt=self.attempt)
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

    task = flow.find_task(run.task_id)
    if task is None or task.common.get("timeout") in (None, ""):
        return None
    task_type = task_api.lookup(task.type)
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


def _arm_flowable_timeout(sender: Any, taskrun: TaskRun, old: str | None, new: str, **_: Any) -> None:
    if new != S.RUNNING or old not in (S.CREATED, S.RESTARTED) or taskrun.worker:
        return  # only a flowable starting (a worker's claim sets ``worker``)

    execution = taskrun.execution
    timeout = flowable_timeout(execution, flow_snapshots.flow_for(execution), taskrun)
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

    execution_id = TaskRun.objects.filter(pk=taskrun_id).values_list("execution_id", flat=True).first()
    if execution_id is None:
        return False
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        run = TaskRun.objects.filter(pk=taskrun_id).first()
        if run is None or run.state != S.RUNNING or run.worker:
            return False
        flow = flow_snapshots.flow_for(execution)
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
        if not transitions.transition(run, S.FAILED, error=message, wake_at=None):
            return False
        logs.log(execution, run, "ERROR", message)
        control.kill_descendants(execution, run, reason=message)
        # A Pause or a retry below it may have been all the execution waited for.
        for waiting in (S.PAUSED, S.RETRYING):
            if execution.state == waiting and not execution.task_runs.filter(state=waiting).exists():
                transitions.transition(execution, S.RUNNING, reason=f"task '{run.task_id}' timed out")
        walker.advance(execution.pk)
    return True


def expire_flowables() -> int:
    """Periodic safety net (the reconciler): flowables past their deadline whose timer message was lost."""

    now = timezone.now()
    expired = 0
    # Ended executions too: their afterExecution flowables still run (and time out).
    states = [*_LIVE, *TERMINAL]
    candidates = TaskRun.objects.filter(state=S.RUNNING, worker="", execution__state__in=states)
    for run in candidates.select_related("execution"):
        flow = flow_snapshots.flow_for(run.execution)
        if not _may_time_out(run.execution, run):
            continue
        timeout = flowable_timeout(run.execution, flow, run)
        if timeout is not None and running_since(run) + timeout <= now:
            expired += expire_flowable(str(run.pk))
    return expired


def connect_receivers() -> None:
    """Arm a flowable's ``timeout`` when it starts (``AppConfig.ready``)."""
    taskrun_state_changed.connect(
        _arm_flowable_timeout, dispatch_uid="orchestrator.executor.timeouts.flowable_timeout"
    )

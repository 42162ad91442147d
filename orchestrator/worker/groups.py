"""Worker groups on Celery: each group is a queue, a worker joins it by consuming that queue.

A worker joins the groups of ``PORTICO_WORKER_GROUPS`` (comma-separated keys) on top of its ``-Q``
queues, or any group whose queue (``<default queue>.wg.<key>``) it is told to consume; a worker started
with only group queues runs nothing else, like Kestra's worker started with a worker-group key. Whatever
it consumes, it announces its groups' presence (``heartbeat.join_groups``) while it lives.

``send`` is the executor's sender (``handoff.set_sender``): a run without a group goes to the default
queue; a run with one goes to its group's queue, after Kestra's fallback when no worker of the group is
alive (``ExecutorService.handleWorkerTask``): WAIT logs that it waits and leaves the message queued, so
the first worker to join runs it; FAIL fails the task; CANCEL cancels it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_init, worker_shutdown
from django.conf import settings
from django.db import transaction

from orchestrator.executor import walker
from orchestrator.flowmodel import worker_group
from orchestrator.flowmodel.worker_group import WorkerGroup
from orchestrator.state import logs, transitions
from orchestrator.state.models import LogLine, State, TaskRun
from orchestrator.worker import heartbeat, task_runs

logger = logging.getLogger(__name__)
_WAITING = "No workers are available for worker group '{key}', waiting for one to be available."
_FAILING = "No workers are available for worker group '{key}', failing the task."
_CANCELING = "No workers are available for worker group '{key}', canceling the task."


def configured() -> list[str]:
    """``PORTICO_WORKER_GROUPS``: the groups this process's workers join (invalid keys are refused)."""
    keys = [k.strip() for k in str(getattr(settings, "PORTICO_WORKER_GROUPS", "") or "").split(",")]
    keys = [k for k in keys if k]
    bad = [k for k in keys if not worker_group.KEY.fullmatch(k) or len(k) > worker_group.KEY_MAX]
    if bad:
        raise ValueError(f"PORTICO_WORKER_GROUPS: invalid worker group key(s): {', '.join(bad)}")
    return keys


def queue_for(group: WorkerGroup | None) -> str:
    default = task_runs.run_task.app.conf.task_default_queue
    return default if group is None else worker_group.queue_name(default, group.key)


def send(taskrun_id: str, group: WorkerGroup | None) -> None:
    """Through the broker to a worker of the run's group (``handoff.set_sender``)."""
    if group is not None and not heartbeat.group_alive(group.key):
        if group.fallback == "FAIL":
            _fail(taskrun_id, group)
            return
        if group.fallback == "CANCEL":
            _cancel(taskrun_id, group)
            return
        _note_waiting(taskrun_id, group)
    task_runs.run_task.apply_async((taskrun_id,), queue=queue_for(group))


def _note_waiting(taskrun_id: str, group: WorkerGroup) -> None:
    """One INFO line on the run (a redispatch by the reconciler does not repeat it)."""
    run = TaskRun.objects.select_related("execution").filter(pk=taskrun_id).first()
    if run is None or run.state not in (State.CREATED, State.QUEUED):
        return
    message = _WAITING.format(key=group.key)
    if not LogLine.objects.filter(taskrun=run, message=message).exists():
        logs.log(run.execution, run, "INFO", message)


def _fail(taskrun_id: str, group: WorkerGroup) -> None:
    """Kestra fails the run with a failed attempt: claimed, then failed without a retry (nothing ran)."""
    run = task_runs.claim(taskrun_id)
    if run is not None:
        walker.task_failed(run, _FAILING.format(key=group.key), retryable=False, attempt=run.attempts)


def _cancel(taskrun_id: str, group: WorkerGroup) -> None:
    message = _CANCELING.format(key=group.key)
    with transaction.atomic():
        run = (
            TaskRun.objects.select_for_update(of=("self",))
            .select_related("execution")
            .filter(pk=taskrun_id)
            .first()
        )
        if run is None or not transitions.transition(run, State.CANCELLED, reason=message, known=True):
            return
        logs.log(run.execution, run, "INFO", message)
    walker.advance(run.execution_id)


def _joined(sender: Any, **_: Any) -> None:
    """``worker_init``: add the configured groups' queues, then announce every group consumed."""
    app = sender.app
    default = app.conf.task_default_queue
    for key in configured():
        app.amqp.queues.select_add(worker_group.queue_name(default, key))
    consumed = app.amqp.queues.consume_from or {}
    keys = {key for name in consumed if (key := worker_group.key_of_queue(default, name))}
    if keys:
        heartbeat.join_groups(sender.hostname, keys)
        logger.info("worker %s joins worker group(s) %s", sender.hostname, ", ".join(sorted(keys)))


def _left(sender: Any, **_: Any) -> None:
    heartbeat.leave_groups(sender.hostname)


def connect_receivers() -> None:
    worker_init.connect(_joined, weak=False, dispatch_uid="portico-worker-groups-join")
    worker_shutdown.connect(_left, weak=False, dispatch_uid="portico-worker-groups-leave")

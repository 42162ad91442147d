"""Celery tasks: thin, take ids, idempotent and safe to redeliver (``acks_late`` is on).

Everything lives in the database; Celery only carries "run this task run now". A message for a run
that is already claimed or finished does nothing, because claiming is a compare-and-set on its state.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import current_task, shared_task
from django.db import transaction
from pydantic import BaseModel

from orchestrator.executor import control, failures, handoff, task_cache, timeouts, walker
from orchestrator.flowmodel import input_types, task_api, templating, worker_group
from orchestrator.state import flow_snapshots, logs, provider_objects, template_context, transitions
from orchestrator.state.models import State, TaskRun
from orchestrator.worker import heartbeat, reconciler, working_directory

logger = logging.getLogger(__name__)


class TaskRunContext:
    """The ``task_api.RunContext`` a plugin sees: log lines go to the DB, masked."""

    def __init__(self, taskrun: TaskRun, secrets: list[str]) -> None:
        self._taskrun = taskrun
        self._secrets = secrets
        self.execution_id = str(taskrun.execution_id)
        self.taskrun_id = str(taskrun.pk)
        self.task_id = taskrun.task_id
        self.attempt = taskrun.attempts
        # Set by the timeout watchdog (timeouts.Watchdog): the attempt is over, the plugin should stop.
        self.interrupted = threading.Event()
        self.interrupt_reason = ""
        self.warning: str | None = None  # ``warn``: the task ends WARNING
        self.working_dir: Path | None = None  # the attempt's directory, for types that ask for one
        self._log_file: logs.LogFile | None = None  # ``logToFile``: opened by the first line

    def for_child(self, child: TaskRun) -> TaskRunContext:
        """The context of a WorkingDirectory child this worker runs inline, with the same secrets."""
        return TaskRunContext(child, self._secrets)

    def warn(self, reason: str) -> None:
        self.warning = reason

    def interrupt(self, reason: str) -> None:
        self.interrupt_reason = reason
        self.interrupted.set()

    def _check_interrupted(self) -> None:
        if self.interrupted.is_set():
            raise failures.TaskInterrupted(self.interrupt_reason)

    def log(self, level: str, message: str) -> None:
        """One log line of the task, unless it is below the task's ``logLevel``.

        Kestra's RunContextLogger drops lines under the task's ``logLevel`` (TRACE when unset), so a
        ``level: TRACE`` Log under ``logLevel: INFO`` writes nothing.
        """
        self._check_interrupted()
        order = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
        if "_log_level" not in self.__dict__:  # looked up once per run context
            task = flow_snapshots.flow_for(self._taskrun.execution).find_task(self.task_id)
            self.__dict__["_log_level"] = str((task.common.get("logLevel") if task else None) or "TRACE")
            self.__dict__["_log_to_file"] = bool(task and task.common.get("logToFile") is True)
        threshold, wanted = self.__dict__["_log_level"].upper(), str(level).upper()
        if threshold in order and wanted in order and order.index(wanted) < order.index(threshold):
            return
        if self.__dict__["_log_to_file"]:  # Kestra's logToFile: the attempt's file, not the log table
            if self._log_file is None:
                self._log_file = logs.LogFile(self._secrets)
            self._log_file.write(level, message)
            return
        logs.log(self._taskrun.execution, self._taskrun, level, message, self._secrets)

    def close_log_file(self) -> None:
        """The attempt ended: its ``logToFile`` file goes to internal storage, its URI on the attempt."""
        log_file, self._log_file = self._log_file, None
        if log_file is not None:
            try:
                log_file.store(self._taskrun)
            except Exception:  # losing the file must not change how the task ended
                logger.exception("task run %s: cannot store its log file", self.taskrun_id)

    def resume_execution(self, execution_id: str, inputs: dict[str, Any]) -> bool:
        try:
            return control.resume(execution_id, inputs=inputs)
        except input_types.InputsInvalid as exc:
            raise task_api.StepError("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from exc
        except control.ControlError as exc:
            raise task_api.StepError(str(exc)) from exc

    def run_children(self, props: BaseModel) -> dict[str, Any]:
        return working_directory.run(props, self)

    def created(self, **facts: Any) -> None:
        provider_objects.announce(self._taskrun, **facts)

    def sleep(self, seconds: float) -> None:
        """Sleep, but give up promptly once the run is being killed (``TaskKilled``) or has timed out."""
        deadline = time.monotonic() + max(0.0, seconds)
        while (left := deadline - time.monotonic()) > 0:
            self.interrupted.wait(min(left, _KILL_POLL_SECONDS))
            self._check_interrupted()
            if control.is_being_killed(self.taskrun_id):
                raise control.TaskKilled(self.taskrun_id)


_KILL_POLL_SECONDS = 0.25


@shared_task(name="orchestrator.run_task")
def run_task(taskrun_id: str) -> None:
    """Claim one task run, execute it and hand back to the engine; then any run handed off to us."""
    for item in handoff.runs(taskrun_id, claim=_claim_fields(), group=_delivery_group()):
        if isinstance(item, TaskRun):
            run_claimed(item)  # claimed for us in the transaction that created it
        else:
            execute(item)


@shared_task(name="orchestrator.redispatch_stale")
def redispatch_stale(older_than_seconds: float = 60.0) -> int:
    """Periodic safety net (schedule it with beat): re-send task runs whose dispatch was lost."""
    return reconciler.redispatch_stale(older_than=timedelta(seconds=older_than_seconds))


def _delivery_group() -> str | None:
    """The worker group whose queue this delivery came from (None: the default queue)."""
    info = (current_task.request.delivery_info or {}) if current_task and current_task.request.id else {}
    queue = str(info.get("routing_key") or "")
    return worker_group.key_of_queue(run_task.app.conf.task_default_queue, queue)


def _claim_fields() -> dict[str, Any]:
    """What a claim records: the Celery task id lets a kill revoke (terminate) this delivery, and the
    worker name says who holds the run (the reconciler re-queues it once its heartbeat stops)."""
    delivery = current_task.request.id if current_task and current_task.request.id else ""
    hostname = current_task.request.hostname if current_task and current_task.request.id else None
    return {"worker_task_id": delivery or "", "worker": heartbeat.worker_name(hostname)}


def claim(taskrun_id: str) -> TaskRun | None:
    """CREATED/QUEUED → RUNNING as a compare-and-set; None when another delivery got there first."""
    fields = _claim_fields()
    with transaction.atomic():
        run = (
            TaskRun.objects.select_for_update(of=("self",))
            .select_related("execution")
            .defer("execution__flow_source")
            .filter(pk=taskrun_id)
            .first()
        )
        if run is None or run.state not in (State.CREATED, State.QUEUED):
            return None
        claimed = transitions.claim_for(run, fields)  # read just above, under the lock
    return run if claimed else None


def execute(taskrun_id: str) -> bool:
    """Run the task run ``taskrun_id`` once; False when it was not claimable (already claimed/finished)."""
    run = claim(taskrun_id)
    if run is None:
        logger.info("task run %s already claimed or finished; ignoring the message", taskrun_id)
        return False
    run_claimed(run)
    return True


def run_claimed(run: TaskRun) -> None:
    """Execute a run this worker holds (RUNNING, its attempt counted) and hand back to the engine."""
    execution = run.execution
    flow = flow_snapshots.flow_for(execution)
    secrets = logs.secret_values(execution, flow)
    attempt = run.attempts  # the fence: only this attempt's result may finish the run
    try:
        with heartbeat.beating(str(run.pk), run.attempts):
            outputs, warning = _run_plugin(run, flow, secrets)
    except heartbeat.LeaseLost:
        logger.warning("task run %s was re-queued while this worker ran it; dropping this result", run.pk)
    except control.TaskKilled:
        control.acknowledge_kill(run)
    except failures.TaskInterrupted as exc:  # the watchdog has already failed this attempt
        walker.task_failed(run, str(exc), secrets, attempt=attempt)
    except task_api.StepError as exc:
        # Permanent errors are not retried (retries.py explains the one difference from Kestra).
        walker.task_failed(run, exc.message, secrets, retryable=not exc.permanent, attempt=attempt)
    except templating.TemplateError as exc:
        walker.task_failed(run, f"cannot render properties: {exc}", secrets, attempt=attempt)
    except Exception as exc:  # a plugin bug must fail the task, not leave it RUNNING forever
        logger.exception("task %s of execution %s crashed", run.task_id, execution.pk)
        walker.task_failed(run, f"{type(exc).__name__}: {exc}", secrets, attempt=attempt)
    else:
        walker.task_succeeded(run, outputs, attempt=attempt, warning=warning)


_CONTEXT_FIELDS = ("id", "execution_id", "task_id", "parent_id", "value", "state", "outputs")


def _run_plugin(run: TaskRun, flow: Any, secrets: list[str]) -> tuple[dict[str, Any], str | None]:
    """Render, validate and run the task's plugin; its outputs and the warning it raised, if any."""
    task = flow.find_task(run.task_id)
    if task is None:
        raise task_api.StepError(f"task '{run.task_id}' is not in the flow")
    task_type = task_api.lookup(task.type)
    if task_type is None or task_type.run is None:
        raise task_api.StepError(f"task type '{task.type}' cannot run on a worker")
    # The other runs only when a template reads them, and then only the columns the context uses.
    runs = run.execution.task_runs.only(*_CONTEXT_FIELDS) if template_context.reads_runs(task) else None
    context = template_context.build(run.execution, flow, runs, taskrun=run, task=task)
    ctx = TaskRunContext(run, secrets)
    try:
        cache_entry = task_cache.key(run, task, context) if task_cache.enabled(task) else None
        if cache_entry is not None and (cached := task_cache.lookup(cache_entry)) is not None:
            ctx.log("INFO", task_cache.HIT.format(task=task.id))
            return cached, None
        outputs = _run_in_context(run, task, task_type, context, ctx, secrets)
        if cache_entry is not None:  # the attempt ends SUCCESS or WARNING: Kestra caches both
            task_cache.store(cache_entry, run, outputs, task_cache.ttl(task))
        return outputs, ctx.warning
    finally:
        ctx.close_log_file()


def _run_in_context(
    run: TaskRun, task: Any, task_type: Any, context: dict[str, Any], ctx: TaskRunContext, secrets: list[str]
) -> dict[str, Any]:
    with ExitStack() as stack:
        directory = None
        if task_type.working_dir:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-task-")))
            context = {**context, **task_api.working_dir_vars(directory)}
        props: BaseModel = task_type.validate_props(templating.render(task.props, context))
        ctx.working_dir = directory
        timeout = timeouts.task_timeout(task, context)
        watchdog = None
        if timeout is not None:
            watchdog = timeouts.Watchdog(run, run.attempts, timeout, ctx.interrupt, secrets).start()
        try:
            outputs = task_type.run(props, ctx) or {}
        finally:
            if watchdog is not None:
                watchdog.cancel()
    return dict(outputs)

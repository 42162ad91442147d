"""Celery tasks: thin, take ids, idempotent and safe to redeliver (``acks_late`` is on).

Everything lives in the database; Celery only carries "run this task run now". A message for a run
that is already claimed or finished does nothing, because claiming is a compare-and-set on its state.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db.models import F
from pydantic import BaseModel

from . import context as template_context
from . import engine, registry, templating
from .models import State, TaskRun

logger = logging.getLogger(__name__)


class TaskRunContext:
    """The ``registry.RunContext`` a plugin sees: log lines go to the DB, masked."""

    def __init__(self, taskrun: TaskRun, secrets: list[str]) -> None:
        self._taskrun = taskrun
        self._secrets = secrets
        self.execution_id = str(taskrun.execution_id)
        self.taskrun_id = str(taskrun.pk)
        self.task_id = taskrun.task_id
        self.attempt = taskrun.attempts

    def log(self, level: str, message: str) -> None:
        engine.log(self._taskrun.execution, self._taskrun, level, message, self._secrets)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@shared_task(name="orchestrator.run_task")
def run_task(taskrun_id: str) -> None:
    """Claim one task run, execute it and hand back to the engine."""
    execute(taskrun_id)


@shared_task(name="orchestrator.redispatch_stale")
def redispatch_stale(older_than_seconds: float = 60.0) -> int:
    """Periodic safety net (schedule it with beat): re-send task runs whose dispatch was lost."""
    return engine.redispatch_stale(older_than=timedelta(seconds=older_than_seconds))


def claim(taskrun_id: str) -> TaskRun | None:
    """CREATED/QUEUED → RUNNING as a compare-and-set; None when another delivery got there first."""
    run = TaskRun.objects.select_related("execution").filter(pk=taskrun_id).first()
    if run is None or run.state not in (State.CREATED, State.QUEUED):
        return None
    if not engine.transition(run, State.RUNNING, attempts=F("attempts") + 1):
        return None
    return run


def execute(taskrun_id: str) -> bool:
    """Run the task run ``taskrun_id`` once; False when it was not claimable (already claimed/finished)."""
    run = claim(taskrun_id)
    if run is None:
        logger.info("task run %s already claimed or finished; ignoring the message", taskrun_id)
        return False
    execution = run.execution
    flow = engine.flow_for(execution)
    secrets = engine.secret_values(execution, flow)
    try:
        outputs = _run_plugin(run, flow, secrets)
    except registry.StepError as exc:
        engine.task_failed(run, exc.message, secrets)
    except templating.TemplateError as exc:
        engine.task_failed(run, f"cannot render properties: {exc}", secrets)
    except Exception as exc:  # a plugin bug must fail the task, not leave it RUNNING forever
        logger.exception("task %s of execution %s crashed", run.task_id, execution.pk)
        engine.task_failed(run, f"{type(exc).__name__}: {exc}", secrets)
    else:
        engine.task_succeeded(run, outputs)
    return True


def _run_plugin(run: TaskRun, flow: Any, secrets: list[str]) -> dict[str, Any]:
    task = flow.find_task(run.task_id)
    if task is None:
        raise registry.StepError(f"task '{run.task_id}' is not in the flow")
    task_type = registry.lookup(task.type)
    if task_type is None or task_type.run is None:
        raise registry.StepError(f"task type '{task.type}' cannot run on a worker")
    runs = list(run.execution.task_runs.all())
    context = template_context.build(run.execution, flow, runs, taskrun=run, task=task)
    props: BaseModel = task_type.validate_props(templating.render(task.props, context))
    outputs = task_type.run(props, TaskRunContext(run, secrets)) or {}
    return dict(outputs)

"""The flow's ``sla``: when an execution breaks one, and what that does to it (Kestra's ``SLAService``).

Two kinds, as in Kestra (``io.kestra.core.models.flows.sla``):

- EXECUTION_ASSERTION is evaluated on every change of a live execution, before the walker moves it on
  (``walker.advance`` calls ``assertion_violation``). Its ``assert`` is rendered in the execution's
  context and is broken when the result is not truthy. A template that cannot be rendered (e.g. it reads
  the output of a task that has not run yet) is logged as "Ignoring SLA ..." and breaks nothing.
- MAX_DURATION is broken once the execution has lived longer than ``duration``, counted from its
  creation. It is armed once, when the execution is created (``arm``: a countdown message
  ``SLA_DEADLINE``, handled by ``sla_monitor``, with the reconciler's sweep as the safety net), and the
  walker checks it on every change too (``due_violation``). Kestra drops the monitor when the execution
  ends, so a restarted execution is not timed again.

Every broken SLA is logged (WARN "SLA '<id>' violated: <reason>"); only the first one found acts
(Kestra: "only the first violation will update the execution"). Its ``behavior``: FAIL ends the
execution FAILED (and logs an ERROR), CANCEL ends it CANCELLED, NONE changes nothing. Its ``labels``
are added to the execution whatever the behavior. An execution ended this way stops what still runs:
runs busy on a worker go KILLING (the cooperative kill; the reconciler ends a run whose worker stopped
beating), the others end KILLED. As in Kestra, subflow executions it started are left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from orchestrator.flowmodel import task_api, templating
from orchestrator.flowmodel.durations import format_duration
from orchestrator.flowmodel.spec import Flow, SlaSpec
from orchestrator.flowmodel.templating import is_truthy
from orchestrator.state import logs, template_context, transitions
from orchestrator.state.models import TERMINAL, Execution, LogLine, State, TaskRun

logger = logging.getLogger(__name__)

S = State
SLA_DEADLINE = "orchestrator.sla_deadline"  # the countdown message; ``sla_monitor`` handles it
_ENDS = {"FAIL": S.FAILED, "CANCEL": S.CANCELLED}


@dataclass(frozen=True)
class Violation:
    sla: SlaSpec
    reason: str


# --- EXECUTION_ASSERTION -------------------------------------------------------------------------------


def assertion_violation(execution: Execution, flow: Flow) -> Violation | None:
    """The first EXECUTION_ASSERTION of ``flow`` broken by ``execution`` (each broken one is logged)."""
    assertions = [item for item in flow.sla if item.type == "EXECUTION_ASSERTION"]
    if not assertions:
        return None
    context = template_context.build(execution, flow, execution.task_runs.all())
    found: list[Violation] = []
    for item in assertions:
        try:
            rendered = templating.render_string(item.assertion or "", context)
        except templating.TemplateError as exc:
            logs.log(execution, None, "ERROR", f"Ignoring SLA '{item.id}' because of the error: {exc}")
            continue
        if not is_truthy(rendered):
            found.append(Violation(item, f"assertion is false: {item.assertion}."))
    for violation in found:
        logs.log(execution, None, "WARN", f"SLA '{violation.sla.id}' violated: {violation.reason}")
    return found[0] if found else None


# --- MAX_DURATION --------------------------------------------------------------------------------------


def has_max_duration(flow: Flow) -> bool:
    return any(item.type == "MAX_DURATION" for item in flow.sla)


def deadline(execution: Execution, item: SlaSpec) -> datetime:
    """When ``execution`` breaks the MAX_DURATION ``item``: its creation plus the duration."""
    return execution.created + (item.duration or timedelta(0))


def is_timed(execution: Execution) -> bool:
    """False once the execution has ended and been restarted (Kestra dropped its monitor at the end)."""
    return not any(entry.get("state") == S.RESTARTED for entry in execution.history or [])


def arm(execution: Execution, flow: Flow) -> None:
    """Send one countdown message per MAX_DURATION of ``flow`` (after commit; none without such SLAs)."""
    for item in flow.sla:
        if item.type != "MAX_DURATION" or item.duration is None:
            continue
        args = (str(execution.pk), item.id)
        seconds = item.duration.total_seconds()
        transaction.on_commit(
            lambda args=args, seconds=seconds: current_app.send_task(
                SLA_DEADLINE, args=args, countdown=seconds
            ),
            robust=True,
        )


def deadline_violation(execution: Execution, flow: Flow, sla_id: str) -> Violation | None:
    """The MAX_DURATION ``sla_id`` once ``execution`` (live) has outlived it, logged; else None."""
    item = next((s for s in flow.sla if s.id == sla_id and s.type == "MAX_DURATION"), None)
    if item is None or execution.state in TERMINAL or not is_timed(execution):
        return None
    lived = timezone.now() - execution.created
    if item.duration is None or lived <= item.duration:
        return None
    reason = (
        f"execution duration of {format_duration(_millis(lived))} exceed the maximum duration of "
        f"{format_duration(item.duration)}."
    )
    violation = Violation(item, reason)
    logs.log(execution, None, "WARN", f"SLA '{item.id}' violated: {reason}")
    return violation


def due_violation(execution: Execution, flow: Flow) -> Violation | None:
    """The first MAX_DURATION of ``flow`` that ``execution`` has outlived and that has not acted yet.

    The walker asks on every change, so an execution whose worker was too busy to take the countdown
    message (a single-slot worker running a long task) still cannot end without its violation.
    """
    now = timezone.now()
    for item in flow.sla:
        if item.type == "MAX_DURATION" and deadline(execution, item) < now and not reported(execution, item):
            return deadline_violation(execution, flow, item.id)
    return None


def reported(execution: Execution, item: SlaSpec) -> bool:
    """True once a violation of ``item`` has been logged for ``execution`` (SLA ids are unique)."""
    return LogLine.objects.filter(
        execution=execution, taskrun=None, message__startswith=f"SLA '{item.id}' violated:"
    ).exists()


def _millis(value: timedelta) -> timedelta:
    return timedelta(milliseconds=int(value.total_seconds() * 1000))


# --- what a violation does -----------------------------------------------------------------------------


def apply(execution: Execution, flow: Flow, violation: Violation) -> bool:
    """Apply ``violation`` to ``execution`` (under its row lock): labels, then FAIL/CANCEL/NONE.

    True when the execution has ended because of it.
    """
    item = violation.sla
    if item.labels and any(execution.labels.get(k) != v for k, v in item.labels.items()):
        execution.labels = {**execution.labels, **item.labels}
        Execution.objects.filter(pk=execution.pk).update(labels=execution.labels)
    target = _ENDS.get(item.behavior)
    if target is None or execution.state in TERMINAL:
        return False
    if item.behavior == "FAIL":
        logs.log(
            execution, None, "ERROR", f"Execution failed due to SLA '{item.id}' violated: {violation.reason}"
        )
    reason = f"SLA '{item.id}' violated"
    if not transitions.transition(execution, target, reason=reason):
        return False
    _stop_unfinished(execution, flow, reason)
    return True


def _stop_unfinished(execution: Execution, flow: Flow, reason: str) -> None:
    """Stop the runs of an execution the SLA ended: KILLING while busy on a worker, else KILLED."""
    for run in execution.task_runs.exclude(state__in=[s.value for s in TERMINAL]):
        if run.state == S.RUNNING and run.worker and _on_worker(flow, run):
            transitions.transition(run, S.KILLING, reason=reason)
        elif run.state != S.KILLING:
            transitions.transition(run, S.KILLED, wake_at=None, reason=reason)


def _on_worker(flow: Flow, run: TaskRun) -> bool:
    task = flow.find_task(run.task_id)
    task_type = task_api.lookup(task.type) if task else None
    return task_type is not None and not task_type.flowable


def live_with_max_duration() -> Any:
    """Executions a MAX_DURATION may still break (the sweep's candidates; the flow source says which)."""
    live = [S.CREATED, S.QUEUED, S.RUNNING, S.PAUSED, S.RETRYING]
    return Execution.objects.filter(state__in=live, flow_source__contains="MAX_DURATION")

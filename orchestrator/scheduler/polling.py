"""Polling triggers (Kestra's ``PollingTriggerInterface``, e.g. ``io.kestra.plugin.core.http.Trigger``).

A polling trigger type declares ``interval`` in its properties (``parse_triggers.is_polling``) and its
``run(props, ctx)`` is an evaluation: it returns the new execution's ``trigger.*`` variables, or {}
when nothing should start. Its ``Trigger`` row (``sync_triggers``) keeps the state between polls:

* ``last_scheduled``: when the last evaluation was claimed; the next one is due ``interval`` later.
  Claiming is a compare-and-set on that column, so of any number of schedulers and duplicate beat
  messages one evaluates per interval (at most once), the others see the new value and stop.
* ``last_execution``: the execution the trigger started, while it runs. As in Kestra's scheduler the
  trigger is not evaluated again before that execution ends; then it is reset, and when it ended in
  one of ``stopAfter``'s states the trigger is switched off (``Trigger.set_enabled``, as the admin).

A failed evaluation (unreachable endpoint, template error) is logged and starts nothing; the trigger
polls again at the next interval (Kestra's ``failOnTriggerError`` is refused at load).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel

from orchestrator.executor import walker
from orchestrator.flowmodel import conditions, input_types, task_api, templating
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.parse_triggers import TRIGGER_COMMON_KEYS, is_polling, owned_keys
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.flowmodel.task_api import StepError
from orchestrator.scheduler.triggers import is_active
from orchestrator.state.models import Execution, Trigger

logger = logging.getLogger(__name__)

EVALUATE_TASK = "orchestrator.evaluate_polling_trigger"
_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING}


@dataclass
class PollContext:
    """What an evaluation may use: the trigger's template context and a log (the scheduler's)."""

    name: str
    template_context: dict[str, Any] = field(default_factory=dict)

    def log(self, level: str, message: str) -> None:
        logger.log(_LEVELS.get(level.upper(), logging.ERROR), "trigger %s: %s", self.name, message)


def polling_types() -> dict[str, task_api.TaskType]:
    """The registered polling trigger types by the short name ``Trigger.type`` stores."""
    return {t.short_name: t for t in task_api.all_types() if is_polling(t)}


def interval(row: Trigger, task_type: task_api.TaskType) -> timedelta:
    """The row's ``interval``, or its type's default (Kestra's PT60S for the HTTP trigger)."""
    value = row.props.get("interval")
    if value is None:
        return task_type.props_model.model_fields["interval"].default
    return parse_duration(value)


def _is_due(row: Trigger, task_type: task_api.TaskType, now: datetime) -> bool:
    if row.last_scheduled is None:
        return True
    try:
        return row.last_scheduled + interval(row, task_type) <= now
    except ValueError as exc:
        logger.warning("trigger %s: interval: %s; not polled", row, exc)
        return False


def due(now: datetime | None = None) -> list[int]:
    """Ids of the enabled polling triggers whose next evaluation time has come."""
    now = now or timezone.now()
    types = polling_types()
    rows = Trigger.objects.filter(type__in=list(types), enabled=True)
    return [row.pk for row in rows if is_active(row) and _is_due(row, types[row.type], now)]


def dispatch_due(now: datetime | None = None) -> int:
    """The beat job: one evaluation message per due trigger, so a slow endpoint delays no other."""
    found = due(now)
    for pk in found:
        current_app.send_task(EVALUATE_TASK, args=[pk])
    return len(found)


def _template_context(row: Trigger) -> dict[str, Any]:
    return {"flow": {"id": row.flow_id, "namespace": row.namespace, "revision": row.flow_revision}}


def _props(row: Trigger, task_type: task_api.TaskType, context: dict[str, Any]) -> BaseModel:
    """The type's own properties rendered (except those it renders itself) and validated."""
    own = owned_keys(task_type)
    raw = {
        k: v
        for k, v in row.props.items()
        if k not in ("id", "type") and (k not in TRIGGER_COMMON_KEYS or k in own)
    }
    late = getattr(task_type.props_model, "rendered_late", frozenset())
    rendered = templating.render({k: v for k, v in raw.items() if k not in late}, context)
    return task_type.validate_props({**rendered, **{k: v for k, v in raw.items() if k in late}})


def _reset_if_ended(row: Trigger) -> bool:
    """True when no execution the trigger started is still running (resetting it if one ended)."""
    if row.last_execution is None:
        return True
    execution = Execution.objects.filter(pk=row.last_execution).only("state").first()
    if execution is not None and not execution.is_terminal:
        return False  # Kestra evaluates a polling trigger again only once its execution has ended
    reset = Trigger.objects.filter(pk=row.pk, last_execution=row.last_execution).update(last_execution=None)
    if not reset:
        return False  # another scheduler reset it and goes on
    row.last_execution = None
    if execution is not None and execution.state in (row.props.get("stopAfter") or []):
        row.set_enabled(False)
        logger.info("trigger %s: stopped after execution %s ended %s", row, execution.pk, execution.state)
        return False
    return True


def evaluate(pk: int, *, now: datetime | None = None) -> Execution | None:
    """Evaluate one polling trigger if it is due and this call claims it; the execution it started."""
    row = Trigger.objects.filter(pk=pk).first()
    types = polling_types()
    if row is None or row.type not in types or not is_active(row) or not _reset_if_ended(row):
        return None
    task_type = types[row.type]
    now = now or timezone.now()
    if not _is_due(row, task_type, now):
        return None
    claimed = Trigger.objects.filter(pk=row.pk, enabled=True, last_scheduled=row.last_scheduled).update(
        last_scheduled=now
    )
    if not claimed:
        return None  # another scheduler (or a duplicate message) evaluates this interval
    context = _template_context(row)
    if not conditions.holds(row.props.get("conditions"), conditions.Subject(context=context)):
        return None
    poll = PollContext(name=str(row), template_context=context)
    assert task_type.run is not None
    try:
        variables = task_type.run(_props(row, task_type, context), poll)  # type: ignore[arg-type]
    except (StepError, templating.TemplateError) as exc:
        logger.warning("trigger %s: evaluation failed: %s", row, exc)
        return None
    except Exception:  # a plugin's own bug must not stop the other triggers
        logger.exception("trigger %s: evaluation failed", row)
        return None
    if not variables:
        return None
    return _start(row, task_type, variables, now)


def _start(
    row: Trigger, task_type: task_api.TaskType, variables: dict[str, Any], now: datetime
) -> Execution | None:
    """Start the row's flow (inputs at their defaults, as Kestra's polling triggers do)."""
    try:
        flow = parse_flow(row.flow_source, file=f"{row.namespace}.{row.flow_id}")
        inputs = input_types.resolve_inputs(flow, {})
        with transaction.atomic():
            trigger = {"id": row.trigger_id, "type": task_type.name, **variables}
            execution = walker.start_execution(flow, inputs, trigger=trigger)
            Trigger.objects.filter(pk=row.pk).update(last_fired=now, last_execution=execution.pk)
    except (FlowValidationError, input_types.InputsInvalid, walker.FlowDisabled) as exc:
        logger.warning("trigger %s: no execution started: %s", row, exc)
        return None
    logger.info("trigger %s: started execution %s", row, execution.pk)
    return execution

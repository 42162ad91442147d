"""Triggers: Schedule (django-celery-beat), Webhook and Flow (another flow's execution changed state).

``sync_triggers(flows)`` is the one place that turns the triggers declared in flows into ``Trigger``
rows and beat entries; call it whenever flows are (re)loaded. Each row keeps the flow it was synced
from, so firing needs no file access, and an operator's ``enabled`` switch (admin) survives re-syncs.
A trigger fires only while its row is enabled, the YAML does not say ``disabled: true`` and its
conditions can all be evaluated (fail closed).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery import current_app
from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import walker
from orchestrator.flowmodel import conditions, input_types, task_api, templating
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.labels import label_map
from orchestrator.flowmodel.spec import Flow, FlowValidationError, flag_set, load_flow, parse_flow
from orchestrator.plugins.core.trigger_types import cron_fields, parse_date
from orchestrator.scheduler import schedule_dates
from orchestrator.state import flow_snapshots, template_context
from orchestrator.state.models import TERMINAL, Execution, State, Trigger
from orchestrator.state.signals import execution_state_changed, trigger_enabled_changed

logger = logging.getLogger(__name__)

SCHEDULE, WEBHOOK, FLOW = "Schedule", "Webhook", "Flow"
SCHEDULE_TASK = "orchestrator.fire_schedule"
PERIODIC_PREFIX = "portico-trigger:"
# Kestra's default ``states`` of a Flow trigger: terminal states and PAUSED.
FLOW_DEFAULT_STATES = frozenset({*(s.value for s in TERMINAL), State.PAUSED.value})
RECOVER_ALL, RECOVER_LAST, RECOVER_NONE = "ALL", "LAST", "NONE"
RECOVER_MODES = frozenset({RECOVER_ALL, RECOVER_LAST, RECOVER_NONE})
# Beat delivers a tick within seconds; a date older than this when its message is handled was missed.
_ON_TIME = timedelta(minutes=1)
_CLAIM_ATTEMPTS = 3
CATCH_UP_SECONDS = 1.0  # between two batches of missed or backfilled dates


class TriggerNotFound(LookupError):
    """No enabled trigger matches (webhook: unknown flow or wrong key; deliberately indistinguishable)."""


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --- sync ------------------------------------------------------------------------------------------


def problems(props: dict[str, Any]) -> list[str]:
    """Why a trigger declaration cannot fire here (it is still synced, and shown, but never fires)."""
    found = conditions.validate(props.get("conditions"))
    if props.get("preconditions"):
        found.append("preconditions are not supported yet")
    if props.get("scheduleConditions"):
        found.append("scheduleConditions are not supported yet")
    return found


def sync_triggers(flows: Iterable[Flow], *, prune: bool = True) -> SyncReport:
    """Make ``Trigger`` rows and beat entries match the triggers of ``flows``.

    With ``prune`` (the default, for a full reload) rows of triggers no longer declared by any of
    ``flows`` are removed together with their beat entries.
    """
    report = SyncReport()
    seen: set[tuple[str, str, str]] = set()
    with transaction.atomic():
        for flow in flows:
            for spec in flow.triggers:
                task_type = task_api.lookup(spec.type)
                if task_type is None:
                    continue
                key = (flow.namespace, flow.id, spec.id)
                seen.add(key)
                name = f"{flow.namespace}.{flow.id}:{spec.id}"
                props = dict(spec.props)
                if flow.disabled:
                    props["disabled"] = True  # a disabled flow's triggers never fire
                report.errors.extend(f"{flow.file}: triggers.{spec.id}: {p}" for p in problems(props))
                values = {
                    "type": task_type.short_name,
                    "props": props,
                    "flow_revision": flow.revision,
                    "flow_source": flow.source,
                }
                row = Trigger.objects.filter(namespace=key[0], flow_id=key[1], trigger_id=key[2]).first()
                if row is None:
                    row = Trigger.objects.create(
                        namespace=key[0], flow_id=key[1], trigger_id=key[2], **values
                    )
                    report.created.append(name)
                elif any(getattr(row, k) != v for k, v in values.items()):
                    for k, v in values.items():
                        setattr(row, k, v)
                    row.save()
                    report.updated.append(name)
                _sync_backfill(row)
                _sync_beat(row)
        if prune:
            for row in Trigger.objects.all():
                if (row.namespace, row.flow_id, row.trigger_id) not in seen:
                    _delete_beat(row)
                    row.delete()
                    report.removed.append(str(row))
    return report


def sync_directory(directory: Any = None) -> SyncReport:
    """Load every valid flow file under ``directory`` (default ``settings.FLOWS_DIR``) and sync."""
    from pathlib import Path


    root = Path(directory if directory is not None else settings.FLOWS_DIR)
    flows, errors = [], []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml")) if root.is_dir() else []
    for path in files:
        try:
            flows.append(load_flow(path))
        except FlowValidationError as exc:
            errors.extend(str(e) for e in exc.errors)
    report = sync_triggers(flows)
    report.errors[:0] = errors
    return report


def _sync_backfill(row: Trigger, now: datetime | None = None) -> None:
    """Start the backfill a Schedule declares, once per declaration (Kestra starts one from its API or
    UI with the same start, end, labels and inputs); a declaration removed from the flow stops it.

    ``end`` defaults to now, and is never later than now: dates after it are the regular schedule's.
    A trigger without a last date starts now, as a new trigger does: earlier dates are the backfill's.
    """
    declared = row.props.get("backfill") if row.type == SCHEDULE else None
    if declared == (row.backfill or {}).get("declared"):
        return
    if not declared:
        row.backfill = None
    else:
        moment = (now or timezone.now()).astimezone(ZoneInfo(_schedule_zone(row)))
        end = min(parse_date(declared["end"]), moment) if declared.get("end") else moment
        row.backfill = {
            "declared": declared,
            "start": parse_date(declared["start"]).isoformat(),
            "end": end.isoformat(),
            "current": None,
            "done": False,
        }
        if row.last_scheduled is None:
            cron = schedule_dates.parse_cron(row.props["cron"])
            row.last_scheduled = schedule_dates.previous_tick(cron, moment)
    # ``updated`` moves too: a schedule firing at the same time re-reads the row (``_claim``).
    Trigger.objects.filter(pk=row.pk).update(
        backfill=row.backfill, last_scheduled=row.last_scheduled, updated=timezone.now()
    )
    if row.backfill:  # start it now, not at the next cron tick (beat_jobs.fire_schedule goes on)
        args = [row.namespace, row.flow_id, row.trigger_id]
        transaction.on_commit(lambda: current_app.send_task(SCHEDULE_TASK, args=args), robust=True)


def is_active(row: Trigger) -> bool:
    return row.enabled and not flag_set(row.props.get("disabled")) and not problems(row.props)


def set_enabled(row: Trigger, enabled: bool) -> None:
    """The operator's switch (admin): takes effect for beat at once and for every other trigger type."""
    row.set_enabled(enabled)


def _on_trigger_enabled_changed(sender: Any, trigger: Trigger, **_: Any) -> None:
    _sync_beat(trigger)


def _periodic_name(row: Trigger) -> str:
    return f"{PERIODIC_PREFIX}{row.namespace}.{row.flow_id}:{row.trigger_id}"


def _schedule_zone(row: Trigger) -> str:
    return row.props.get("timezone") or settings.TIME_ZONE


def _sync_beat(row: Trigger) -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if row.type != SCHEDULE:
        _delete_beat(row)
        return
    fields = cron_fields(row.props["cron"])
    schedule, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=_schedule_zone(row))
    PeriodicTask.objects.update_or_create(
        name=_periodic_name(row),
        defaults={
            "task": SCHEDULE_TASK,
            "crontab": schedule,
            "interval": None,
            "args": json.dumps([row.namespace, row.flow_id, row.trigger_id]),
            "enabled": is_active(row),
            "description": f"Schedule trigger {row}",
        },
    )


def _delete_beat(row: Trigger) -> None:
    from django_celery_beat.models import PeriodicTask

    for task in PeriodicTask.objects.filter(name=_periodic_name(row)):
        task.delete()  # one by one: django-celery-beat notices deletions through the model's signals


# --- firing ----------------------------------------------------------------------------------------


def _start(
    row: Trigger,
    raw_inputs: Any,
    variables: dict[str, Any],
    render_context: dict[str, Any],
    *,
    labels: dict[str, Any] | None = None,
) -> Execution:
    """Start the row's flow with ``inputs`` rendered in ``render_context``; record it on the row."""
    flow = parse_flow(row.flow_source, file=f"{row.namespace}.{row.flow_id}")
    rendered = templating.render(raw_inputs or {}, render_context)
    resolved = input_types.resolve_inputs(flow, rendered)
    trigger = {"id": row.trigger_id, "type": task_api.lookup(row.type).name, **variables}
    with transaction.atomic():
        execution = walker.start_execution(flow, resolved, labels=labels, trigger=trigger)
        Trigger.objects.filter(pk=row.pk).update(last_fired=timezone.now(), last_execution=execution.pk)
    return execution


def recover_mode(row: Trigger) -> str:
    """Kestra's ``recoverMissedSchedules``; unset: the installation's default (Kestra's plugin
    configuration, here ``settings.PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES``), else ALL."""
    mode = row.props.get("recoverMissedSchedules") or getattr(
        settings, "PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES", RECOVER_ALL
    )
    mode = str(mode).upper()
    return mode if mode in RECOVER_MODES else RECOVER_ALL


def schedule_batch() -> int:
    """How many schedule dates one call handles at most (the rest follow in the next calls)."""
    return max(1, int(getattr(settings, "PORTICO_SCHEDULE_BATCH", 10)))


@dataclass
class ScheduleFiring:
    """What one ``run_schedule`` call did: the executions it started, the dates it skipped (missed and
    not recovered, or later than ``lateMaximumDelay``) and whether dates are left for the next call."""

    executions: list[Execution] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    more: bool = False


def _claim(row: Trigger) -> bool:
    """Compare-and-set on ``updated``: of two deliveries at once only one goes on (on SQLite the update
    holds the write lock until commit; the other then finds a new value and reads the row again)."""
    return bool(Trigger.objects.filter(pk=row.pk, updated=row.updated).update(updated=timezone.now()))


def _backfill_dates(row: Trigger, cron: crontab, now: datetime, firing: ScheduleFiring) -> list[datetime]:
    """The next dates of the row's running backfill (one batch at most); marks it done at its end."""
    backfill = row.backfill
    if not backfill or backfill.get("done"):
        return []
    zone = now.tzinfo
    end = parse_date(backfill["end"]).astimezone(zone)
    current = backfill.get("current")
    if current:
        following = schedule_dates.next_tick(cron, parse_date(current).astimezone(zone))
    else:
        following = schedule_dates.first_tick_from(cron, parse_date(backfill["start"]).astimezone(zone))
    dates: list[datetime] = []
    while following is not None and following <= end and len(dates) < schedule_batch():
        dates.append(following)
        following = schedule_dates.next_tick(cron, following)
    if following is None or following > end:
        backfill["done"] = True
    else:
        firing.more = True
    return dates


def _first_kept(row: Trigger, cron: crontab, now: datetime, latest: datetime) -> datetime | None:
    """The first due date ``recoverMissedSchedules`` and ``lateMaximumDelay`` let run, or None.

    A date is missed when a later one is due too, or when it is more than ``_ON_TIME`` old (beat came
    back after a downtime): ALL runs every missed date, LAST only the latest due one, NONE none of them.
    A date older than ``lateMaximumDelay`` is skipped in every mode (Kestra's ``handleMaxDelay``).
    """
    last = row.last_scheduled.astimezone(now.tzinfo) if row.last_scheduled else None
    mode = recover_mode(row)
    if last is None or mode == RECOVER_LAST:
        first: datetime | None = latest
    elif mode == RECOVER_NONE:
        first = latest if now - latest <= _ON_TIME else None
    else:
        first = schedule_dates.next_tick(cron, last)
    delay = row.props.get("lateMaximumDelay")
    if first is not None and delay:
        oldest = now - parse_duration(delay)
        if first < oldest:
            first = schedule_dates.first_tick_from(cron, oldest)
    return first if first is not None and first <= latest else None


def _due_dates(row: Trigger, cron: crontab, now: datetime, firing: ScheduleFiring) -> list[datetime]:
    """The dates due since the last one handled (``Trigger.last_scheduled``) that run, one batch at
    most; the ones skipped are reported and ``last_scheduled`` moves past them without a walk."""
    latest = schedule_dates.previous_tick(cron, now)
    last = row.last_scheduled
    if latest is None or (last is not None and latest <= last):
        return []
    first = _first_kept(row, cron, now, latest)
    if first is None:
        firing.skipped.append(latest.isoformat())
        row.last_scheduled = latest
        return []
    before = schedule_dates.previous_tick(cron, first - timedelta(seconds=1))
    if last is not None and before is not None and before > last:
        firing.skipped.append(before.isoformat())  # the latest date skipped stands for all of them
    dates: list[datetime] = []
    moment: datetime | None = first
    while moment is not None and moment <= latest and len(dates) < schedule_batch():
        dates.append(moment)
        moment = schedule_dates.next_tick(cron, moment)
    firing.more = moment is not None and moment <= latest
    return dates


def run_schedule(
    namespace: str, flow_id: str, trigger_id: str, *, now: datetime | None = None
) -> ScheduleFiring:
    """Start the executions of a Schedule trigger's due dates, oldest first, one batch a call.

    A running backfill goes first (the regular schedule waits, as in Kestra); then the dates due since
    the last one handled, as ``recoverMissedSchedules`` and ``lateMaximumDelay`` say. Each date runs
    once: a second delivery for a date already handled is a no-op. ``more``: dates are left, and the
    beat job sends itself again, so a long catch-up is spread over calls instead of done at once.
    """
    firing = ScheduleFiring()
    for _ in range(_CLAIM_ATTEMPTS):
        with transaction.atomic():
            rows = Trigger.objects.select_for_update()
            row = rows.filter(namespace=namespace, flow_id=flow_id, trigger_id=trigger_id).first()
            if row is None or row.type != SCHEDULE or not is_active(row):
                logger.info("schedule %s.%s:%s is gone or disabled", namespace, flow_id, trigger_id)
                return firing
            if not _claim(row):
                continue  # another delivery or a sync changed the row meanwhile: read it again
            _run_claimed(row, (now or timezone.now()).astimezone(ZoneInfo(_schedule_zone(row))), firing)
            return firing
    logger.warning("schedule %s.%s:%s kept changing; not fired now", namespace, flow_id, trigger_id)
    return firing


def _run_claimed(row: Trigger, now: datetime, firing: ScheduleFiring) -> None:
    cron = schedule_dates.parse_cron(row.props["cron"])
    row.backfill = dict(row.backfill) if row.backfill else None
    for date in _backfill_dates(row, cron, now, firing):
        _fire_date(row, cron, date, firing, backfill=row.backfill)
        row.backfill["current"] = date.isoformat()  # type: ignore[index]
    if not firing.more:
        for date in _due_dates(row, cron, now, firing):
            _fire_date(row, cron, date, firing)
            row.last_scheduled = date
    Trigger.objects.filter(pk=row.pk).update(last_scheduled=row.last_scheduled, backfill=row.backfill)


def _fire_date(
    row: Trigger, cron: crontab, date: datetime, firing: ScheduleFiring, *, backfill: dict | None = None
) -> None:
    """One schedule date's execution: Kestra's trigger variables; a backfill's labels and inputs."""
    variables = schedule_dates.variables(cron, date)
    context = {"trigger": variables}
    declared = (backfill or {}).get("declared") or {}
    inputs = {**(row.props.get("inputs") or {}), **(declared.get("inputs") or {})}
    try:
        labels = templating.render(label_map(declared.get("labels")), context)
        firing.executions.append(_start(row, inputs, variables, context, labels=labels))
    except (templating.TemplateError, input_types.InputsInvalid, walker.FlowDisabled) as exc:
        # Kestra records a FAILED execution for such a date; here it is logged. Handled either way.
        logger.warning("schedule %s not fired for %s: %s", row, variables["date"], exc)
        firing.skipped.append(variables["date"])


def fire_schedule(
    namespace: str, flow_id: str, trigger_id: str, *, now: datetime | None = None
) -> Execution | None:
    """``run_schedule``'s latest execution, or None when none started (e.g. a duplicate delivery)."""
    executions = run_schedule(namespace, flow_id, trigger_id, now=now).executions
    return executions[-1] if executions else None


def fire_webhook(
    namespace: str, flow_id: str, key: str, *, body: Any, headers: dict[str, list[str]], parameters: dict
) -> Execution | None:
    """Start the flow's webhook trigger whose key is ``key``; None when its conditions do not hold.

    Raises ``TriggerNotFound`` alike for an unknown flow, a wrong key and a disabled trigger. Keys are
    compared in constant time, and at least once even when the flow has no webhook.
    """
    rows = list(Trigger.objects.filter(namespace=namespace, flow_id=flow_id, type=WEBHOOK))
    given = key.encode()
    matched = None
    for row in rows or [None]:
        expected = _webhook_key(row) if row is not None else None
        same = hmac.compare_digest((expected or "\x00unset").encode(), given)
        if same and expected is not None and matched is None:
            matched = row
    if matched is None or not is_active(matched):
        raise TriggerNotFound(f"{namespace}.{flow_id}")
    variables = {"body": body, "headers": headers, "parameters": parameters}
    context = {"trigger": variables}
    if not conditions.holds(matched.props.get("conditions"), conditions.Subject(context=context)):
        return None
    return _start(matched, matched.props.get("inputs"), variables, context)


@dataclass(frozen=True)
class WebhookReply:
    """How the webhook answers (Kestra's ``wait``/``returnOutputs``): at once, or once the execution ends."""

    wait: bool = False
    return_outputs: bool = False


def webhook_reply(execution: Execution) -> WebhookReply:
    """The ``wait``/``returnOutputs`` of the webhook trigger that started ``execution``."""
    trigger_id = (execution.trigger or {}).get("id")
    row = Trigger.objects.filter(
        namespace=execution.namespace, flow_id=execution.flow_id, trigger_id=trigger_id, type=WEBHOOK
    ).first()
    if row is None:
        return WebhookReply()
    wait = flag_set(row.props.get("wait"))
    return WebhookReply(wait=wait, return_outputs=wait and flag_set(row.props.get("returnOutputs")))


def webhook_wait_seconds() -> float:
    """How long a ``wait: true`` webhook call may hold its HTTP request (and a web worker) at most."""
    return float(getattr(settings, "PORTICO_WEBHOOK_WAIT_SECONDS", 30.0))


def await_end(execution_id: Any, *, timeout: float) -> Execution:
    """Poll until the execution is terminal or ``timeout`` seconds passed; its latest state either way.

    Each poll is one autocommit query: no transaction (nor row lock) is held while waiting, so the
    workers finishing the execution are never blocked by the caller.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    pause = 0.02
    while True:
        execution = Execution.objects.get(pk=execution_id)
        left = deadline - time.monotonic()
        if execution.is_terminal or left <= 0:
            return execution
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.5)


def _webhook_key(row: Trigger) -> str | None:
    try:
        rendered = templating.render(row.props.get("key"), {})
    except templating.TemplateError:
        return None  # e.g. a secret() this installation cannot resolve: the webhook cannot be called
    return rendered if isinstance(rendered, str) and rendered else None


def fire_flow_triggers(execution_id: Any, state: str) -> list[Execution]:
    """Start every listening flow whose Flow trigger matches ``execution_id`` having reached ``state``."""
    rows = [r for r in Trigger.objects.filter(type=FLOW, enabled=True) if is_active(r)]
    if not rows:
        return []
    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None:
        return []
    variables = {
        "executionId": str(execution.pk),
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "flowRevision": flow_snapshots.revision_number(execution),
        "state": state,
        "outputs": execution.outputs or {},
        "executionLabels": dict(execution.labels),
        "startDate": template_context.iso(execution.started or execution.created),
        "endDate": template_context.iso(execution.ended),
    }
    context: dict[str, Any] | None = None
    started = []
    for row in rows:
        if (row.namespace, row.flow_id) == (execution.namespace, execution.flow_id):
            continue  # a flow never triggers itself (no loops)
        if state not in set(row.props.get("states") or FLOW_DEFAULT_STATES):
            continue
        if context is None:
            source = flow_snapshots.flow_for(execution)
            context = template_context.build(execution, source, execution.task_runs.all())
            context["trigger"] = variables
        subject = conditions.Subject(execution.namespace, execution.flow_id, state, context)
        if not conditions.holds(row.props.get("conditions"), subject):
            continue
        try:
            started.append(_start(row, row.props.get("inputs"), variables, context))
        except (templating.TemplateError, input_types.InputsInvalid, walker.FlowDisabled) as exc:
            logger.warning("flow trigger %s not fired for execution %s: %s", row, execution.pk, exc)
    return started


def _on_execution_state_changed(
    sender: Any, execution: Execution, old: str | None, new: str, **_: Any
) -> None:
    if old is None or new == State.CREATED:
        return  # Kestra's Flow trigger reacts to transitions, never to creation
    execution_id = execution.pk
    transaction.on_commit(lambda: fire_flow_triggers(execution_id, new), robust=True)


def connect_receivers() -> None:
    """Flow triggers watch executions; beat entries follow the triggers' switch (``AppConfig.ready``)."""
    execution_state_changed.connect(
        _on_execution_state_changed, dispatch_uid="orchestrator.scheduler.triggers.flow"
    )
    trigger_enabled_changed.connect(
        _on_trigger_enabled_changed, sender=Trigger, dispatch_uid="orchestrator.scheduler.triggers.beat"
    )

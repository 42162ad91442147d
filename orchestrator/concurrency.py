"""Flow ``concurrency`` (Kestra): at most ``limit`` executions of a flow run at once.

``admit`` runs when an execution is created: under the flow's lock row (``FlowConcurrency``,
``select_for_update``) it counts the executions holding a slot and either lets the new one start or
applies ``behavior``: QUEUE (stay QUEUED until a slot frees), CANCEL (end CANCELLED) or FAIL (end
FAILED). When an execution that held a slot ends, ``release`` (a receiver of
``execution_state_changed``, so it runs inside the very transaction that ended it, whatever ended it:
the engine, a kill, a retry) starts the oldest QUEUED executions while slots are free.

Which executions hold a slot: RUNNING, RETRYING, KILLING, RESTARTED and PAUSED. Kestra counts PAUSED
ones, so a flow-level ``Pause`` (e.g. one waiting for an approval in ``onResume``) keeps its slot and a
limit-1 flow waits behind it. A portal request awaiting approval has no execution yet and holds none.

Lock order: an execution row, then the flow's lock row, then the queued execution started. Starting a
queued execution never needs another running execution's row, so this order cannot deadlock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from .models import TERMINAL, Execution, FlowConcurrency, State
from .signals import execution_state_changed
from .spec import Flow

logger = logging.getLogger(__name__)

S = State
QUEUE, CANCEL, FAIL = "QUEUE", "CANCEL", "FAIL"
HOLDING_SLOT = (S.RUNNING, S.RETRYING, S.KILLING, S.RESTARTED, S.PAUSED)


@dataclass(frozen=True)
class Concurrency:
    limit: int
    behavior: str = QUEUE


def of(flow: Flow) -> Concurrency | None:
    """The flow's ``concurrency`` block, or None (unlimited). An unusable block is ignored with a log
    line; the spec loader reports it at load time."""
    raw = (getattr(flow, "extra", None) or {}).get("concurrency")
    if not isinstance(raw, dict):
        return None
    limit = raw.get("limit")
    behavior = str(raw.get("behavior") or QUEUE).upper()
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or limit < 1
        or behavior not in (QUEUE, CANCEL, FAIL)
    ):
        logger.warning("ignoring invalid concurrency of flow %s.%s: %r", flow.namespace, flow.id, raw)
        return None
    return Concurrency(limit=limit, behavior=behavior)


def problems(raw: Any) -> list[tuple[str, str]]:
    """Validation of a ``concurrency`` block for the spec loader: [(field path, message)]."""
    if not isinstance(raw, dict):
        return [("concurrency", "must be a mapping with limit and behavior")]
    found = []
    for key in raw:
        if key not in ("limit", "behavior"):
            found.append((f"concurrency.{key}", "unknown property"))
    limit = raw.get("limit")
    if limit is None:
        found.append(("concurrency.limit", "required property missing"))
    elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        found.append(("concurrency.limit", "must be an integer ≥ 1"))
    behavior = raw.get("behavior")
    if behavior is not None and behavior not in (QUEUE, CANCEL, FAIL):
        found.append(("concurrency.behavior", "must be QUEUE, CANCEL or FAIL"))
    return found


def _lock(namespace: str, flow_id: str) -> None:
    row, _ = FlowConcurrency.objects.get_or_create(namespace=namespace, flow_id=flow_id)
    FlowConcurrency.objects.select_for_update().filter(pk=row.pk).first()


def _holding(namespace: str, flow_id: str, *, exclude: Any = None) -> int:
    running = Execution.objects.filter(namespace=namespace, flow_id=flow_id, state__in=HOLDING_SLOT)
    if exclude is not None:
        running = running.exclude(pk=exclude)
    return running.count()


def admit(execution: Execution, flow: Flow) -> bool:
    """True when ``execution`` may start now; otherwise it is QUEUED, CANCELLED or FAILED per the
    flow's ``behavior``. For a new (CREATED) execution, a replay, and a RESTARTED one (``control``):
    call inside the transaction that created or restarted it, under its row lock."""
    from . import engine  # the engine imports this module

    limit = of(flow)
    if limit is None:
        return True
    with transaction.atomic():
        _lock(flow.namespace, flow.id)
        running = _holding(flow.namespace, flow.id, exclude=execution.pk)
        if running < limit.limit:
            # Start it while the lock is held, so the next admission counts it.
            return engine.transition(execution, S.RUNNING)
        reason = f"concurrency limit {limit.limit} reached, {running} running"
        if limit.behavior == QUEUE:
            engine.transition(execution, S.QUEUED, reason=reason)
            engine.log(
                execution,
                None,
                "INFO",
                f"Flow is queued due to concurrency limit exceeded, {running} running(s)",
            )
        elif limit.behavior == CANCEL:
            engine.transition(execution, S.CANCELLED, reason=reason)
        else:
            engine.transition(execution, S.FAILED, reason=reason)
            engine.log(execution, None, "ERROR", "Flow is FAILED due to concurrency limit exceeded")
    return False


def release(namespace: str, flow_id: str, limit: Concurrency) -> list[Execution]:
    """Start the oldest QUEUED executions of the flow while slots are free; the ones started."""
    from . import engine

    started: list[Execution] = []
    with transaction.atomic():
        _lock(namespace, flow_id)
        free = limit.limit - _holding(namespace, flow_id)
        if free <= 0:
            return started
        queued = Execution.objects.filter(namespace=namespace, flow_id=flow_id, state=S.QUEUED).order_by(
            "created", "pk"
        )
        for execution in queued[:free]:
            if engine.transition(execution, S.RUNNING, reason="a concurrency slot freed"):
                _dispatch_reopened(execution)
                engine.advance(execution.pk)
                started.append(execution)
    return started


def _dispatch_reopened(execution: Execution) -> None:
    """A restart that waited in the queue reopened its failed runs as QUEUED: send them now."""
    from . import engine

    for run_id in execution.task_runs.filter(state=S.QUEUED).values_list("pk", flat=True):
        transaction.on_commit(lambda run_id=str(run_id): engine._dispatch(run_id), robust=True)


def _on_state_changed(sender: Any, execution: Execution, old: str | None, new: str, **_: Any) -> None:
    """An execution that held a slot ended: hand the slot to the oldest queued one."""
    if old is None or S(new) not in TERMINAL or S(old) in (S.QUEUED, S.CREATED):
        return
    from . import engine

    limit = of(engine.flow_for(execution))
    if limit is not None and limit.behavior == QUEUE:
        release(execution.namespace, execution.flow_id, limit)


execution_state_changed.connect(_on_state_changed, sender=Execution, dispatch_uid="orchestrator.concurrency")

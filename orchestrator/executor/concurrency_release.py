"""When an execution that held a concurrency slot ends, the oldest QUEUED executions start.

``release`` is a receiver of ``execution_state_changed``, so it runs inside the very transaction that
ended the execution, whatever ended it (the walker, a kill, a retry). Admission is ``concurrency.admit``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from orchestrator.executor import handoff, walker
from orchestrator.executor.concurrency import holding, lock
from orchestrator.flowmodel.concurrency_limits import QUEUE, Concurrency, of
from orchestrator.state import flow_snapshots, transitions
from orchestrator.state.models import TERMINAL, Execution, State
from orchestrator.state.signals import execution_state_changed

logger = logging.getLogger(__name__)

S = State


def release(namespace: str, flow_id: str, limit: Concurrency) -> list[Execution]:
    """Start the oldest QUEUED executions of the flow while slots are free; the ones started."""

    started: list[Execution] = []
    with transaction.atomic():
        lock(namespace, flow_id)
        free = limit.limit - holding(namespace, flow_id)
        if free <= 0:
            return started
        queued = Execution.objects.filter(namespace=namespace, flow_id=flow_id, state=S.QUEUED).order_by(
            "created", "pk"
        )
        for execution in queued[:free]:
            if transitions.transition(execution, S.RUNNING, reason="a concurrency slot freed"):
                _dispatch_reopened(execution)
                walker.advance(execution.pk)
                started.append(execution)
    return started


def _dispatch_reopened(execution: Execution) -> None:
    """A restart that waited in the queue reopened its failed runs as QUEUED: send them now."""

    for run_id in execution.task_runs.filter(state=S.QUEUED).values_list("pk", flat=True):
        transaction.on_commit(lambda run_id=str(run_id): handoff.dispatch(run_id), robust=True)


def _on_state_changed(sender: Any, execution: Execution, old: str | None, new: str, **_: Any) -> None:
    """An execution that held a slot ended: hand the slot to the oldest queued one."""
    if old is None or S(new) not in TERMINAL or S(old) in (S.QUEUED, S.CREATED):
        return

    limit = of(flow_snapshots.flow_for(execution))
    if limit is not None and limit.behavior == QUEUE:
        release(execution.namespace, execution.flow_id, limit)


def connect_receivers() -> None:
    """Release a slot whenever an execution that held one ends, whatever ended it (``AppConfig.ready``)."""
    execution_state_changed.connect(
        _on_state_changed, sender=Execution, dispatch_uid="orchestrator.executor.concurrency_release"
    )

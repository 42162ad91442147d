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
from typing import Any

from django.db import transaction

from orchestrator.flowmodel.concurrency_limits import CANCEL, QUEUE, of
from orchestrator.flowmodel.spec import Flow
from orchestrator.state import logs, transitions
from orchestrator.state.models import Execution, FlowConcurrency, State

logger = logging.getLogger(__name__)

S = State
HOLDING_SLOT = (S.RUNNING, S.RETRYING, S.KILLING, S.RESTARTED, S.PAUSED)




def lock(namespace: str, flow_id: str) -> None:
    row, _ = FlowConcurrency.objects.get_or_create(namespace=namespace, flow_id=flow_id)
    FlowConcurrency.objects.select_for_update().filter(pk=row.pk).first()


def holding(namespace: str, flow_id: str, *, exclude: Any = None) -> int:
    running = Execution.objects.filter(namespace=namespace, flow_id=flow_id, state__in=HOLDING_SLOT)
    if exclude is not None:
        running = running.exclude(pk=exclude)
    return running.count()


def admit(execution: Execution, flow: Flow) -> bool:
    """True when ``execution`` may start now; otherwise it is QUEUED, CANCELLED or FAILED per the
    flow's ``behavior``. For a new (CREATED) execution, a replay, and a RESTARTED one (``control``):
    call inside the transaction that created or restarted it, under its row lock."""

    limit = of(flow)
    if limit is None:
        return True
    with transaction.atomic():
        lock(flow.namespace, flow.id)
        running = holding(flow.namespace, flow.id, exclude=execution.pk)
        if running < limit.limit:
            # Start it while the lock is held, so the next admission counts it.
            return transitions.transition(execution, S.RUNNING)
        reason = f"concurrency limit {limit.limit} reached, {running} running"
        if limit.behavior == QUEUE:
            transitions.transition(execution, S.QUEUED, reason=reason)
            logs.log(
                execution,
                None,
                "INFO",
                f"Flow is queued due to concurrency limit exceeded, {running} running(s)",
            )
        elif limit.behavior == CANCEL:
            transitions.transition(execution, S.CANCELLED, reason=reason)
        else:
            transitions.transition(execution, S.FAILED, reason=reason)
            logs.log(execution, None, "ERROR", "Flow is FAILED due to concurrency limit exceeded")
    return False

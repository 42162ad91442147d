"""MAX_DURATION's clock: the countdown message ``sla.SLA_DEADLINE`` and the reconciler's sweep.

An execution of a flow with a MAX_DURATION SLA gets one countdown message per such SLA when it is created
(``sla.arm``). When it arrives, ``expire`` checks the SLA under the execution's row lock and applies it
(``sla.apply``); the walker then runs what an ended execution still runs (``afterExecution``,
listeners). A message that arrives early (a broker clock, a countdown rounded down) is sent again for
the time left; a lost one is caught by ``expire_due``, which the reconciler runs every sweep, so a
violation is never lost with a message. Both are idempotent: an ended execution is left alone.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import sla, walker
from orchestrator.state import flow_snapshots
from orchestrator.state.models import TERMINAL, Execution

logger = logging.getLogger(__name__)


@shared_task(name=sla.SLA_DEADLINE)
def expire(execution_id: str, sla_id: str) -> bool:
    """The MAX_DURATION ``sla_id`` of ``execution_id`` may have passed: apply it if so (idempotent)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is None or execution.state in TERMINAL or not sla.is_timed(execution):
            return False
        flow = flow_snapshots.flow_for(execution)
        item = next((s for s in flow.sla if s.id == sla_id and s.type == "MAX_DURATION"), None)
        if item is None:
            return False
        left = (sla.deadline(execution, item) - timezone.now()).total_seconds()
        if left >= 0:  # early: wait for the rest
            transaction.on_commit(
                lambda: expire.apply_async((execution_id, sla_id), countdown=left), robust=True
            )
            return False
        if sla.reported(execution, item):
            return False  # a NONE violation acts once (Kestra deletes the monitor it processed)
        violation = sla.deadline_violation(execution, flow, sla_id)
        if violation is None:
            return False
        ended = sla.apply(execution, flow, violation)
        if ended:
            walker.advance(execution.pk)  # what runs after the end: afterExecution, listeners
    return True


def expire_due() -> int:
    """The reconciler's sweep: MAX_DURATION SLAs past their deadline whose message was lost."""
    now = timezone.now()
    applied = 0
    for execution in sla.live_with_max_duration().defer("flow_source"):
        if not sla.is_timed(execution):
            continue
        flow = flow_snapshots.flow_for(execution)
        for item in flow.sla:
            due = item.type == "MAX_DURATION" and sla.deadline(execution, item) < now
            if due and not sla.reported(execution, item):
                if expire(str(execution.pk), item.id):
                    applied += 1
                    break  # the first one acts; the execution may have ended
    return applied

"""CREATE_NEW_EXECUTION: the new execution that replaces a RETRIED one, started when its delay is due.

``retries`` decides that an execution is retried this way and sends ``RETRY_EXECUTION``; starting the
new execution is the walker's job, so it happens here, above it.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import walker
from orchestrator.executor.retries import EARLY_TOLERANCE, RETRY_EXECUTION, send_new_execution
from orchestrator.state import flow_snapshots
from orchestrator.state.models import Execution, State

S = State


@shared_task(name=RETRY_EXECUTION)
def start_retry_execution(execution_id: str) -> str | None:
    """Start the new execution of a RETRIED one (idempotent: at most one retry per execution)."""

    with transaction.atomic():
        old = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if old is None or old.state != S.RETRIED:
            return None
        existing = Execution.objects.filter(original=old).values_list("pk", flat=True).first()
        if existing is not None:
            return str(existing)
        due = old.task_runs.filter(state=S.RETRIED, wake_at__isnull=False).order_by("wake_at").first()
        now = timezone.now()
        if due is not None and due.wake_at > now + EARLY_TOLERANCE:
            wait = (due.wake_at - now).total_seconds()
            transaction.on_commit(lambda: send_new_execution(execution_id, wait), robust=True)
            return None
        flow = flow_snapshots.flow_for(old)
        new = walker.start_execution(flow, dict(old.inputs), labels=dict(old.labels), trigger=old.trigger)
        Execution.objects.filter(pk=new.pk).update(original=old)
        new.original = old
        old.task_runs.filter(state=S.RETRIED).update(wake_at=None)
    return str(new.pk)

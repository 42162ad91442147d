"""Celery entry points of the scheduler: Schedule triggers and storage retention (beat sends them).

Thin on purpose: they take plain values and call one function; idempotent under redelivery.
"""

from __future__ import annotations

from celery import shared_task

from orchestrator.scheduler import storage_purge, triggers
from orchestrator.state import secret_retention


@shared_task(name="orchestrator.fire_schedule")
def fire_schedule(namespace: str, flow_id: str, trigger_id: str) -> str | None:
    """Beat sends this on each cron tick of a Schedule trigger; the execution id, or None if skipped."""
    execution = triggers.fire_schedule(namespace, flow_id, trigger_id)
    return str(execution.pk) if execution is not None else None


@shared_task(name="orchestrator.purge_storage")
def purge_storage() -> dict[str, int]:
    """Beat sends this daily: delete stored files the retention lets go (``storage_purge``), and the
    secrets of executions whose restart window has passed (``secret_retention.drop_expired``)."""
    result = storage_purge.purge()
    secrets = secret_retention.drop_expired()
    return {"executions": result.executions, "uploads": result.uploads, "secrets_dropped": secrets}

"""Celery entry points of the scheduler: Schedule triggers and storage retention (beat sends them).

Thin on purpose: they take plain values and call one function; idempotent under redelivery.
"""

from __future__ import annotations

from celery import shared_task

from orchestrator.scheduler import polling, storage_purge, triggers
from orchestrator.state import secret_retention


@shared_task(name=triggers.SCHEDULE_TASK)
def fire_schedule(namespace: str, flow_id: str, trigger_id: str) -> str | None:
    """Beat sends this on each cron tick of a Schedule trigger (and once more after a downtime); the
    latest execution id, or None. While missed or backfilled dates are left, it sends itself again a
    second later: one batch (``PORTICO_SCHEDULE_BATCH``) per call, like Kestra's one date per loop."""
    firing = triggers.run_schedule(namespace, flow_id, trigger_id)
    if firing.more:
        fire_schedule.apply_async((namespace, flow_id, trigger_id), countdown=triggers.CATCH_UP_SECONDS)
    return str(firing.executions[-1].pk) if firing.executions else None


@shared_task(name="orchestrator.poll_triggers")
def poll_triggers() -> int:
    """Beat sends this every few seconds: one evaluation per due polling trigger (``polling``)."""
    return polling.dispatch_due()


@shared_task(name=polling.EVALUATE_TASK)
def evaluate_polling_trigger(pk: int) -> str | None:
    """Evaluate one polling trigger if this delivery claims its interval; the execution id, if any."""
    execution = polling.evaluate(pk)
    return str(execution.pk) if execution is not None else None


@shared_task(name="orchestrator.purge_storage")
def purge_storage() -> dict[str, int]:
    """Beat sends this daily: delete stored files the retention lets go (``storage_purge``), and the
    secrets of executions whose restart window has passed (``secret_retention.drop_expired``)."""
    result = storage_purge.purge()
    secrets = secret_retention.drop_expired()
    return {"executions": result.executions, "uploads": result.uploads, "secrets_dropped": secrets}

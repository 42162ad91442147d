"""Celery tasks: take ids, call one service."""

from celery import shared_task

from . import drift, notifications, planning, services


@shared_task(name="portal.resources.expire", acks_late=True)
def expire_resources_task() -> dict[str, list[int]]:
    """Beat job: warn owners before expiry, destroy what has expired (both idempotent)."""
    return {"warned": services.warn_expiring(), "destroy_requests": services.destroy_expired()}


@shared_task(name=notifications.SEND_EXPIRY_WARNING, acks_late=True)
def send_expiry_warning_task(resource_id: int) -> int:
    return notifications.send_expiry_warning(resource_id)


@shared_task(name=planning.PLAN_REQUEST, acks_late=True)
def plan_request_task(request_id: int) -> None:
    planning.run_plan(request_id)


@shared_task(name=notifications.SEND_ATTENTION_NOTICE, acks_late=True)
def send_attention_notice_task(resource_id: int) -> int:
    return notifications.send_attention_notice(resource_id)


@shared_task(name="portal.resources.sweep_drift", acks_late=True)
def sweep_drift_task() -> dict[str, list]:
    """Beat job: compare the inventory with the providers (idempotent: a finding is told once)."""
    return drift.sweep().as_dict()

"""Celery tasks: take ids (or nothing), call one service."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from . import deadlines

SWEEP_DEADLINES = "portal.approvals.sweep_deadlines"


@shared_task(name=SWEEP_DEADLINES)
def sweep_deadlines_task() -> dict[str, list[int]]:
    """Celery beat: expire, escalate and remind undecided requests whose time has come."""
    return asdict(deadlines.sweep())


@shared_task(name=deadlines.SEND_LINK_EMAILS, acks_late=True)
def send_link_emails_task(event: str, request_id: int, user_ids: list[int]) -> int:
    return deadlines.send_link_emails(event, request_id, user_ids)

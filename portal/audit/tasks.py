"""Celery tasks of the audit log."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from . import archive


@shared_task(name="portal.audit.archive", acks_late=True)
def archive_task() -> list[dict[str, Any]]:
    """Beat job: move rows older than PORTICO_AUDIT_RETENTION_DAYS to signed archive files."""
    return archive.archive_expired()

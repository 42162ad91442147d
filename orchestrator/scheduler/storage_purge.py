"""Retention of the internal storage: the files of old executions and of forgotten uploads go away.

Run daily by beat (``orchestrator.purge_storage``). With ``settings.PORTICO_STORAGE_RETENTION_DAYS``
days of retention (0 keeps everything):

* the folder of an execution that *ended* longer ago than that is deleted, unless an execution that is
  kept (not ended, or ended recently) names one of its files in its inputs or trigger: a retry created
  as a new execution, a replay or a ForEachItem subflow reads files of the execution it came from;
* an upload folder (``<flow>/uploads/<uuid>/``, FILE inputs of a portal request) whose files are all
  older than that is deleted unless a kept execution names it, or a receiver of ``upload_in_use`` (the
  portal: a request still open) says it is in use.

A running, paused or retrying execution is never "ended", so its files are never touched.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.dispatch import Signal
from django.utils import timezone

from orchestrator.flowmodel import storage
from orchestrator.state.models import TERMINAL, Execution

logger = logging.getLogger(__name__)

# Sent with ``uri`` (the upload folder's ``kestra:///...`` URI); a receiver returns True to keep it.
upload_in_use = Signal()


@dataclass(frozen=True)
class PurgeResult:
    executions: int = 0
    uploads: int = 0


def retention() -> timedelta | None:
    """The configured retention, or None when files are kept forever."""
    days = float(getattr(settings, "PORTICO_STORAGE_RETENTION_DAYS", 0) or 0)
    if days < 0:
        raise ValueError(f"PORTICO_STORAGE_RETENTION_DAYS must be 0 (keep forever) or more, not {days:g}")
    return timedelta(days=days) if days else None


def _expired(cutoff: datetime) -> Q:
    return Q(state__in=[s.value for s in TERMINAL], ended__lt=cutoff)


def _named_by_kept_execution(uri: str, cutoff: datetime) -> bool:
    """Whether an execution that is kept mentions ``uri`` (or a file below it) in its inputs or trigger."""
    needle = uri.rstrip("/") + "/"
    return (
        Execution.objects.exclude(_expired(cutoff))
        .annotate(inputs_text=Cast("inputs", TextField()), trigger_text=Cast("trigger", TextField()))
        .filter(Q(inputs_text__contains=needle) | Q(trigger_text__contains=needle))
        .exists()
    )


def _delete(prefix: str) -> bool:
    """Remove the folder of ``prefix`` below the storage root (refusing anything outside it)."""
    local = storage.local_path(storage.uri_of(prefix))
    if not local.is_dir():
        return False
    shutil.rmtree(local)
    return True


def _newest_change(folder: Path) -> datetime:
    stamps = [folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))]
    return datetime.fromtimestamp(max(stamps), tz=timezone.get_current_timezone())


def _upload_folders() -> list[tuple[str, Path]]:
    """``(prefix, path)`` of every ``<flow>/uploads/<uuid>`` folder in the storage."""
    base = storage.root()
    if not base.is_dir():
        return []
    found = []
    for folder in base.rglob("uploads/*"):
        try:
            uuid.UUID(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and not folder.is_symlink():
            found.append(("/" + folder.relative_to(base).as_posix(), folder))
    return found


def purge(*, now: datetime | None = None) -> PurgeResult:
    """Delete what the retention lets go (see the module docstring); what was deleted, counted."""
    keep = retention()
    if keep is None:
        return PurgeResult()
    cutoff = (now or timezone.now()) - keep
    executions = 0
    expired = Execution.objects.filter(_expired(cutoff)).values_list("pk", "namespace", "flow_id")
    for pk, namespace, flow_id in expired.iterator():
        prefix = storage.execution_prefix(namespace, flow_id, pk)
        if _named_by_kept_execution(storage.uri_of(prefix), cutoff):
            continue
        executions += _delete(prefix)
    uploads = 0
    for prefix, folder in _upload_folders():
        if _newest_change(folder) >= cutoff:
            continue
        uri = storage.uri_of(prefix)
        if _named_by_kept_execution(uri, cutoff):
            continue
        if any(in_use is True for _, in_use in upload_in_use.send(sender=None, uri=uri)):
            continue
        uploads += _delete(prefix)
    if executions or uploads:
        logger.info("storage retention: deleted %d execution folders, %d upload folders", executions, uploads)
    return PurgeResult(executions=executions, uploads=uploads)

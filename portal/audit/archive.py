"""Retention that archives rather than deletes: old rows move to compressed JSON Lines files.

Choice: archived rows leave the table. Keeping them and only marking them archived would need an
UPDATE, which the append-only rule forbids, and would never shrink the table, which is what a retention
is for. So the archiver is the one controlled path that deletes: on PostgreSQL the append-only trigger
lets a DELETE through only in a transaction that set ``portico.audit_archiver`` (``_delete_rows``); the
ORM refuses every delete as before. Nothing is lost for verification: each file holds the rows with
their links, and its manifest (first/last id, count, the hash before the first row, the chain head
after the last, the file's sha256) is signed with the audit key. ``verification.verify_chain_report`` walks
the archives and then the table as one chain: the first remaining row's ``prev_hash`` must be the last
manifest's head, so a row removed from the table outside the archiver, or a file altered or missing, is
reported. The archive run itself is recorded as ``audit.archived``. The trigger's door keeps application
code honest; it is no defence against someone with database access (they could set the variable too):
that defence is the keyed chain, which such a deletion breaks.

Files are written and fsynced before the rows are deleted; a run stopped in between leaves rows both
archived and in the table, which ``audit verify`` reports and the next run finishes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import chain
from .keys import audit_key
from .models import AuditChainHead, AuditEvent
from .services import record

BATCH_ROWS = 50_000  # rows per archive file
ARCHIVER_SETTING = "portico.audit_archiver"
MANIFEST_SUFFIX = ".manifest.json"


def archive_dir() -> Path:
    return Path(settings.PORTICO_AUDIT_ARCHIVE_DIR)


def manifests() -> list[Path]:
    """The manifests in chain order (file names carry zero-padded first ids)."""
    directory = archive_dir()
    return sorted(directory.glob(f"audit-*{MANIFEST_SUFFIX}")) if directory.is_dir() else []


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(path: Path, key: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        manifest = json.loads(path.read_text())
        signature = manifest.pop("hmac")
    except (OSError, ValueError, KeyError, AttributeError):
        return None, f"archive manifest {path.name} is unreadable"
    if not isinstance(signature, str) or chain.sign(manifest, key) != signature:
        return None, f"archive manifest {path.name} is not signed with the audit key (altered?)"
    return manifest, ""


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def walk_archives(walk: chain.ChainWalk) -> bool:
    """Feed every archived row to ``walk`` in order, checking each file against its manifest."""
    report = walk.report
    for path in manifests():
        manifest, problem = _read_manifest(path, walk.key)
        if manifest is None:
            report.fail(walk.last_id, problem)
            return False
        data = path.with_name(str(manifest.get("file", "")))
        if data.parent != path.parent or not data.is_file():
            report.fail(manifest.get("first_id"), f"archive file {manifest.get('file')} is missing")
            return False
        if _file_sha256(data) != manifest.get("sha256"):
            report.fail(manifest.get("first_id"), f"archive file {data.name} differs from its manifest")
            return False
        count = 0
        try:
            for row in _rows(data):
                if not walk.check(row):
                    report.reason = f"{report.reason} (archived in {data.name})"
                    return False
                count += 1
        except (OSError, ValueError, EOFError, TypeError, AttributeError) as exc:
            report.fail(walk.last_id, f"archive file {data.name} is unreadable: {exc}")
            return False
        expected = (manifest.get("count"), manifest.get("last_id"), manifest.get("head_hash"))
        if (count, walk.last_id, walk.prev) != expected:
            report.fail(walk.last_id, f"archive file {data.name} does not end where its manifest says")
            return False
        report.archived_rows += count
        report.archives.append(data.name)
    return True


def _last_archived_id() -> int | None:
    paths = manifests()
    if not paths:
        return None
    manifest, _ = _read_manifest(paths[-1], audit_key())
    return manifest.get("last_id") if manifest else None


def _write_atomically(path: Path, write: Any) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _delete_rows(first_id: int, last_id: int) -> int:
    """The archiver's delete: past the ORM's refusal and, on PostgreSQL, through the trigger's one door."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, 'on', true)", [ARCHIVER_SETTING])
        cursor.execute("DELETE FROM audit_auditevent WHERE id BETWEEN %s AND %s", [first_id, last_id])
        deleted = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, '', true)", [ARCHIVER_SETTING])
    return deleted


def _archive_batch(ids: list[int], key: bytes) -> dict[str, Any]:
    first_id, last_id = ids[0], ids[-1]
    stem = f"audit-{first_id:012d}-{last_id:012d}"
    directory = archive_dir()
    data = directory / f"{stem}.jsonl.gz"
    state: dict[str, Any] = {"count": 0, "first_prev": None, "head": None}

    def write_rows(handle: Any) -> None:
        with gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as zipped:
            rows = AuditEvent.objects.filter(id__gte=first_id, id__lte=last_id).order_by("id")
            for event in rows.iterator(chunk_size=2000):
                if state["first_prev"] is None:
                    state["first_prev"] = event.prev_hash
                line = json.dumps(chain.row_record(event), sort_keys=True, ensure_ascii=False)
                zipped.write(line.encode() + b"\n")
                state["count"] += 1
                state["head"] = event.hash

    _write_atomically(data, write_rows)
    manifest = {
        "format": 1,
        "file": data.name,
        "first_id": first_id,
        "last_id": last_id,
        "count": state["count"],
        "first_prev_hash": state["first_prev"],
        "head_hash": state["head"],
        "created": timezone.now().isoformat(),
        "sha256": _file_sha256(data),
    }
    signed = {**manifest, "hmac": chain.sign(manifest, key)}
    manifest_path = directory / f"{stem}{MANIFEST_SUFFIX}"
    _write_atomically(manifest_path, lambda handle: handle.write(json.dumps(signed, indent=2).encode()))
    deleted = _delete_rows(first_id, last_id)
    if deleted != state["count"]:
        raise RuntimeError(f"archived {state['count']} audit rows but deleted {deleted}")
    record(
        "audit.archived",
        details={k: manifest[k] for k in ("file", "first_id", "last_id", "count", "head_hash")},
    )
    return manifest


def archive_expired(days: float | None = None, batch: int = BATCH_ROWS) -> list[dict[str, Any]]:
    """Archive the rows older than ``days`` (default ``PORTICO_AUDIT_RETENTION_DAYS``; 0 keeps all).

    Only a prefix of the chain moves: the oldest rows up to the first one still within the retention.
    """
    days = settings.PORTICO_AUDIT_RETENTION_DAYS if days is None else days
    done: list[dict[str, Any]] = []
    archive_dir().mkdir(parents=True, exist_ok=True)
    key = audit_key()
    with transaction.atomic():
        AuditChainHead.objects.select_for_update().filter(pk=1).first()  # one archiver at a time
        last_archived = _last_archived_id()
        if last_archived is not None and AuditEvent.objects.filter(id__lte=last_archived).exists():
            _delete_rows(0, last_archived)  # an interrupted run: its files are complete, finish it
    if days <= 0:
        return done
    cutoff = timezone.now() - timedelta(days=days)
    while True:
        with transaction.atomic():
            AuditChainHead.objects.select_for_update().filter(pk=1).first()
            rows = AuditEvent.objects.order_by("id")
            boundary = rows.filter(created__gte=cutoff).values_list("id", flat=True).first()
            if boundary is not None:
                rows = rows.filter(id__lt=boundary)
            ids = list(rows.values_list("id", flat=True)[:batch])
            if not ids:
                return done
            done.append(_archive_batch(ids, key))

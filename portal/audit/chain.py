"""The audit chain's arithmetic: what a row's link hashes and how a run of rows is verified.

No queries here: ``services`` feeds rows from the table, ``archive`` rows from archive files, and one
walk (``ChainWalk``) checks them as a single chain, archive first.

Two schemes. Rows written before the chain was keyed carry ``sha256``: sha256(previous hash + canonical
JSON), which anyone with database access can recompute. Every row since carries ``hmac-sha256``: the same
message under HMAC with ``keys.audit_key()``. Plain rows may only form the chain's beginning, and a
non-empty chain must contain a keyed row (the migration appends the ``audit.chain_keyed`` marker to a
log that had plain rows), so rewriting rows as plain SHA-256 is caught too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
PLAIN = "sha256"
KEYED = "hmac-sha256"
SCHEMES = (PLAIN, KEYED)
MARKER_VERB = "audit.chain_keyed"

# The fields a link covers, as ``canonical_json`` names them.
_HASHED = (
    "created",
    "actor_id",
    "actor_repr",
    "verb",
    "target_type",
    "target_id",
    "flow_namespace",
    "flow_id",
    "cost_center_id",
    "details",
)


def _created_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def payload_of(row: Any) -> dict[str, Any]:
    """The hashed fields of an ``AuditEvent`` (or a historical model, or an archived row's mapping)."""
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
    payload = {name: get(name) for name in _HASHED}
    payload["created"] = _created_text(payload["created"])
    return payload


def canonical_json(row: Any) -> str:
    return json.dumps(payload_of(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plain_hash(prev_hash: str, row: Any) -> str:
    return hashlib.sha256((prev_hash + canonical_json(row)).encode()).hexdigest()


def keyed_hash(prev_hash: str, row: Any, key: bytes) -> str:
    return hmac.new(key, (prev_hash + canonical_json(row)).encode(), hashlib.sha256).hexdigest()


def link_hash(scheme: str, prev_hash: str, row: Any, key: bytes) -> str:
    return keyed_hash(prev_hash, row, key) if scheme == KEYED else plain_hash(prev_hash, row)


def sign(document: Mapping[str, Any], key: bytes) -> str:
    """HMAC of a JSON document (an archive manifest without its own ``hmac``)."""
    text = json.dumps(dict(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def row_record(event: Any) -> dict[str, Any]:
    """Everything needed to re-verify ``event``'s link offline (with the key): archive and JSONL export."""
    record = {"id": event.pk, **payload_of(event)}
    record.update(scheme=event.scheme, prev_hash=event.prev_hash, hash=event.hash)
    return record


@dataclass
class ChainReport:
    """The outcome of a verification: ``broken_at`` is the first row that fails, ``reason`` says how."""

    ok: bool = True
    broken_at: int | None = None
    reason: str = ""
    rows: int = 0
    archived_rows: int = 0
    archives: list[str] = field(default_factory=list)

    def fail(self, row_id: int | None, reason: str) -> ChainReport:
        self.ok, self.broken_at, self.reason = False, row_id, reason
        return self


class ChainWalk:
    """Check rows one at a time, in id order: a constant-memory walk over archive files and the table."""

    def __init__(self, key: bytes, report: ChainReport | None = None) -> None:
        self.key = key
        self.report = report or ChainReport()
        self.prev = GENESIS_HASH
        self.last_id: int | None = None
        self.keyed_seen = False

    def check(self, row: Any) -> bool:
        """Check one row (a model or an archived mapping); False, with the report filled, when it fails."""
        get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
        row_id, scheme = get("id"), get("scheme")
        if self.last_id is not None and row_id <= self.last_id:
            self.report.fail(row_id, f"row {row_id} comes again after row {self.last_id}")
            return False
        if get("prev_hash") != self.prev:
            after = f"row {self.last_id}" if self.last_id is not None else "the start of the chain"
            self.report.fail(
                row_id,
                f"prev_hash {get('prev_hash')[:16]}… is not the hash of {after} ({self.prev[:16]}…): "
                "rows between them were removed, inserted or reordered",
            )
            return False
        if scheme not in SCHEMES:
            self.report.fail(row_id, f"unknown chain scheme {scheme!r}")
            return False
        if scheme == PLAIN and self.keyed_seen:
            self.report.fail(
                row_id, "a plain SHA-256 row after the keyed chain began: written by someone without the key"
            )
            return False
        expected = link_hash(scheme, self.prev, row, self.key)
        if not hmac.compare_digest(expected, get("hash")):
            reason = "its content differs from what was chained (a field was changed after it was written)"
            if scheme == KEYED and plain_hash(self.prev, row) == get("hash"):
                reason = (
                    "its hash is a plain SHA-256 of the content, not the keyed HMAC: "
                    "recomputed by someone without the key"
                )
            self.report.fail(row_id, reason)
            return False
        self.keyed_seen = self.keyed_seen or scheme == KEYED
        self.prev, self.last_id = get("hash"), row_id
        return True

    def finish(self, head_hash: str | None) -> ChainReport:
        """The end of the chain: a keyed row must exist, and the head row must name the last hash."""
        if self.last_id is not None and not self.keyed_seen:
            return self.report.fail(
                self.last_id,
                "no keyed row: plain SHA-256 rows alone can be recomputed by any database writer",
            )
        if head_hash is not None and head_hash != self.prev:
            return self.report.fail(
                self.last_id, "the chain head names a later hash: rows after this one were removed"
            )
        return self.report

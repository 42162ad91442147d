"""``flow.revised``: each new revision of a catalog flow, with a unified diff against the previous one.

Recorded once per revision (the row's target is the ``FlowRevision``), from the catalog sync that saw
the new source. The diff is capped (``MAX_DIFF_CHARS``), and sources too large to compare cheaply are
not diffed at all (``difflib`` is quadratic at worst): the row then says so.
"""

from __future__ import annotations

import difflib
from typing import Any

from orchestrator.state.models import FlowRevision

from .models import AuditEvent
from .services import record

VERB = "flow.revised"
MAX_DIFF_CHARS = 64 * 1024
MAX_DIFFED_SOURCE_CHARS = 512 * 1024


def revision_diff(previous: str, current: str, name: str, number: int) -> tuple[str, bool]:
    """(unified diff, whether it was cut); ``previous`` is empty for a flow's first revision."""
    before = f"{name} revision {number - 1}" if number > 1 else "/dev/null"
    diff = "".join(
        difflib.unified_diff(
            previous.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=before,
            tofile=f"{name} revision {number}",
        )
    )
    return (diff[:MAX_DIFF_CHARS], True) if len(diff) > MAX_DIFF_CHARS else (diff, False)


def record_flow_revision(flow: Any, number: int) -> AuditEvent | None:
    """Record revision ``number`` of ``flow`` (a spec Flow) unless it is recorded already."""
    revisions = FlowRevision.objects.filter(namespace=flow.namespace, flow_id=flow.id)
    revision = revisions.filter(number=number).first()
    if revision is None:
        return None
    recorded = AuditEvent.objects.filter(
        target_type=FlowRevision._meta.label_lower, target_id=str(revision.pk), verb=VERB
    )
    if recorded.exists():
        return None
    previous = revisions.filter(number=number - 1).values_list("source", flat=True).first() or ""
    details: dict[str, Any] = {"revision": number, "source_hash": revision.source_hash}
    if max(len(previous), len(revision.source)) > MAX_DIFFED_SOURCE_CHARS:
        details.update(diff="", diff_truncated=True, diff_skipped="source too large to compare")
    else:
        diff, cut = revision_diff(previous, revision.source, f"{flow.namespace}.{flow.id}", number)
        details.update(diff=diff, diff_truncated=cut)
    return record(VERB, target=revision, flow=(flow.namespace, flow.id), details=details)

"""Verifying the audit chain: the archives first (``archive``), then the table, as one chain.

Apart from ``services`` (which writes the chain) because the archiver writes through ``services.record``
while verification reads the archives: kept here, neither imports the other in a circle.
"""

from __future__ import annotations

from . import archive, chain
from .keys import audit_key
from .models import AuditChainHead, AuditEvent


def verify_chain() -> tuple[bool, int | None]:
    """(True, None), or (False, id of the first broken event); ``verify_chain_report`` says why."""
    report = verify_chain_report()
    return report.ok, report.broken_at


def verify_chain_report() -> chain.ChainReport:
    """Recompute every link in order, archived rows first (``archive``), then the table's rows."""
    walk = chain.ChainWalk(audit_key())
    if not archive.walk_archives(walk):
        return walk.report
    archived_last = walk.last_id
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if archived_last is not None and event.pk <= archived_last:
            return walk.report.fail(
                event.pk, "row is both archived and still in the table: run `audit archive` to finish"
            )
        if not walk.check(event):
            return walk.report
        walk.report.rows += 1
    head = AuditChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    return walk.finish(head)

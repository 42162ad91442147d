"""The audit log page and its CSV and JSON Lines exports (same filters, ``filters.AuditFilter``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal.accounts.decorators import audit_reader_required
from portal.lists.paging import paginate

from . import selectors
from .filters import AuditFilter
from .models import AuditEvent
from .verification import verify_chain_report

PAGE_SIZE = 50


@audit_reader_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    filterset = AuditFilter(request.GET, AuditEvent.objects.all(), user=request.user)
    listing = paginate(request.GET, filterset, default_size=PAGE_SIZE, drop=("verify",))
    # Verifying rereads the whole log: only on demand.
    report = verify_chain_report() if request.GET.get("verify") == "1" else None
    return render(
        request,
        "audit/list.html",
        {
            "list": listing,
            "chain_ok": report.ok if report else None,
            "broken_at": report.broken_at if report else None,
            "broken_reason": report.reason if report else "",
        },
    )


_FORMATS = {
    "csv": (selectors.export_csv_rows, "text/csv; charset=utf-8"),
    "jsonl": (selectors.export_jsonl_rows, "application/jsonl; charset=utf-8"),
}


def _export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    """Streamed: rows are read in chunks (``QuerySet.iterator``) and written in pieces, whatever the size."""
    events = AuditFilter(request.GET, AuditEvent.objects.all(), user=request.user).qs
    rows, content_type = _FORMATS[fmt]
    response = StreamingHttpResponse(rows(events), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="portico-audit-{stamp}.{fmt}"'
    return response


@audit_reader_required
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "csv")


@audit_reader_required
@require_GET
def audit_export_jsonl(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "jsonl")

"""The audit log page and its CSV export (same filters)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal.accounts.decorators import audit_reader_required

from . import selectors
from .services import verify_chain


@audit_reader_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    events = selectors.filter_events(request.GET)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("verify", None)
    # Verifying rereads the whole log: only on demand.
    chain_ok, broken_at = verify_chain() if request.GET.get("verify") == "1" else (None, None)
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "filters": request.GET,
            "query": query.urlencode(),
            "choices": selectors.filter_choices(),
            "chain_ok": chain_ok,
            "broken_at": broken_at,
        },
    )


@audit_reader_required
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    events = selectors.filter_events(request.GET)
    rows = selectors.export_csv_rows(events)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="portico-audit-{stamp}.csv"'
    return response

"""The audit log: filtered pages and the CSV export (``portal.audit.selectors``, one filter for both)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from portal.accounts.roles import can_view_audit
from portal.audit import selectors

from .. import present
from ..auth import require, scoped
from ..errors import ERRORS, ApiError, ErrorOut
from ..paging import PageQuery, paginate
from ..schemas import AuditEventOut, Page

router = Router(tags=["audit"])
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # a date that is no real day is ignored, as on the page


class AuditFilters(Schema):
    actor: int | None = Field(None, ge=1, le=2**62, description="user id")
    cost_center: int | None = Field(None, ge=1, le=2**62, description="cost center id")
    flow: str | None = Field(None, max_length=401, description="namespace.flow_id")
    verb: str | None = Field(None, max_length=64)
    since: str | None = Field(None, pattern=ISO_DATE, description="YYYY-MM-DD, inclusive")
    until: str | None = Field(None, pattern=ISO_DATE, description="YYYY-MM-DD, inclusive")


def _events(request: HttpRequest, filters: AuditFilters) -> QuerySet:
    user = require(request, "read")
    if not can_view_audit(user):
        raise ApiError(403, "only approvers and administrators read the audit log")
    params = {k: str(v) for k, v in filters.dict().items() if v is not None}
    return scoped(request, selectors.filter_events(params), "flow_namespace")


@router.get("/audit", response={200: Page[AuditEventOut], ERRORS: ErrorOut})
def list_events(request: HttpRequest, paging: PageQuery, filters: Query[AuditFilters]):
    """Newest first. A token limited to some namespaces sees only events of their flows."""
    return paginate(_events(request, filters), paging, present.audit_event)


@router.get(
    "/audit/export",
    response={ERRORS: ErrorOut},
    openapi_extra={
        "responses": {
            200: {
                "description": "CSV, one event a row",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export(request: HttpRequest, filters: Query[AuditFilters]):
    events = _events(request, filters)
    response = StreamingHttpResponse(
        selectors.export_csv_rows(events), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="portico-audit-{stamp}.csv"'
    return response

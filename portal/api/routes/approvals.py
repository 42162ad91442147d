"""The approval queue and decisions — ``portal.approvals``' services (self-approval, scope, budget)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from portal.approvals import selectors
from portal.approvals.services import do_approve_request, do_reject_request

from .. import present
from ..auth import caller, require, scoped
from ..errors import ERRORS, ErrorOut
from ..paging import PageQuery, paginate
from ..schemas import CommentIn, Page, RequestOut, RowId
from .requests import get_request

router = Router(tags=["approvals"])


@router.get("/approvals/pending", response={200: Page[RequestOut], ERRORS: ErrorOut})
def pending(request: HttpRequest, paging: PageQuery):
    """Requests the caller may decide, oldest first (empty for someone who approves nothing)."""
    user = require(request, "read")
    qs = scoped(request, selectors.pending_requests(user), "catalog_flow__namespace")
    return paginate(qs, paging, present.request)


@router.post("/approvals/{request_id}/approve", response={200: RequestOut, ERRORS: ErrorOut})
def approve(request: HttpRequest, request_id: RowId, payload: CommentIn):
    obj = get_request(request, request_id, "approve")
    do_approve_request(obj.pk, acting_user=caller(request).user, comment=payload.comment)
    return present.request(get_request(request, request_id, "approve"))


@router.post("/approvals/{request_id}/reject", response={200: RequestOut, ERRORS: ErrorOut})
def reject(request: HttpRequest, request_id: RowId, payload: CommentIn):
    obj = get_request(request, request_id, "approve")
    do_reject_request(obj.pk, acting_user=caller(request).user, comment=payload.comment)
    return present.request(get_request(request, request_id, "approve"))

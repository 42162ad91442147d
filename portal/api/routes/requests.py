"""Requests: submit one (inputs and cost center), list, get, cancel — ``portal.requests``' services."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from portal.accounts.models import CostCenter
from portal.requests import selectors
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.self_service import do_cancel_request
from portal.requests.services import submit_request

from .. import present
from ..auth import caller, require, scoped
from ..errors import ERRORS, ApiError, ErrorOut
from ..paging import PageQuery, paginate
from ..schemas import Page, RequestIn, RequestOut, RowId
from .flows import get_flow

router = Router(tags=["requests"])


class RequestFilters(Schema):
    state: RequestState | None = None
    flow: str | None = Field(None, max_length=401, description="namespace.flow_id")
    mine: bool = Field(False, description="only the caller's own requests")


def get_request(request: HttpRequest, pk: int, verb: str) -> ResourceRequest:
    """A request the caller may see, in the token's namespaces; 404 otherwise."""
    user = require(request, verb)
    obj = selectors.get_visible_request(user, pk)
    require(request, verb, obj.catalog_flow.namespace)
    return obj


def _cost_center(user, code: str | None) -> CostCenter:  # noqa: ANN001 - any auth user
    if code is None:
        if user.default_cost_center is None:
            raise ApiError(422, "name a cost center", {"cost_center": "you have no default cost center"})
        return user.default_cost_center
    found = CostCenter.objects.filter(code=code).first()
    if found is None:
        raise ApiError(422, "unknown cost center", {"cost_center": f"no cost center {code[:32]!r}"})
    return found


@router.get("/requests", response={200: Page[RequestOut], ERRORS: ErrorOut})
def list_requests(request: HttpRequest, paging: PageQuery, filters: Query[RequestFilters]):
    user = require(request, "read")
    qs = scoped(request, selectors.visible_requests(user), "catalog_flow__namespace")
    if filters.mine:
        qs = qs.filter(requester=user)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.flow:
        namespace, _, flow_id = filters.flow.rpartition(".")
        qs = qs.filter(catalog_flow__namespace=namespace, catalog_flow__flow_id=flow_id)
    return paginate(qs, paging, present.request)


@router.post("/requests", response={201: RequestOut, ERRORS: ErrorOut})
def create_request(request: HttpRequest, payload: RequestIn):
    """Submit a request: the same checks as the form (role, cost center, inputs, the flow's checks)."""
    namespace, _, flow_id = payload.flow.rpartition(".")  # the schema's pattern ensures both parts
    catalog_flow = get_flow(request, namespace, flow_id, verb="request")
    user = require(request, "request", namespace)
    created = submit_request(
        requester=user,
        catalog_flow=catalog_flow,
        data=payload.inputs,
        cost_center=_cost_center(user, payload.cost_center),
    )
    return Status(201, present.request(selectors.get_visible_request(user, created.pk)))


@router.get("/requests/{request_id}", response={200: RequestOut, ERRORS: ErrorOut})
def get_request_detail(request: HttpRequest, request_id: RowId):
    return present.request(get_request(request, request_id, "read"))


@router.post("/requests/{request_id}/cancel", response={200: RequestOut, ERRORS: ErrorOut})
def cancel_request(request: HttpRequest, request_id: RowId):
    """Withdraw one's own request while it awaits approval (409 once decided)."""
    obj = get_request(request, request_id, "request")
    do_cancel_request(obj.pk, acting_user=caller(request).user)
    return present.request(get_request(request, request_id, "request"))

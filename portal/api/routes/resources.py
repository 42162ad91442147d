"""Resources: list, get, and day-2 actions (``portal.resources.services.do_request_action``)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from portal.requests.selectors import get_visible_request
from portal.resources import selectors
from portal.resources.models import ResourceState
from portal.resources.services import do_request_action

from .. import present
from ..auth import caller, require, scoped
from ..errors import ERRORS, ErrorOut
from ..paging import PageQuery, paginate
from ..schemas import ActionIn, Page, RequestOut, ResourceOut, RowId

router = Router(tags=["resources"])


class ResourceFilters(Schema):
    state: ResourceState | None = None
    kind: str | None = Field(None, max_length=64)
    mine: bool = Field(False, description="only the caller's own resources")


@router.get("/resources", response={200: Page[ResourceOut], ERRORS: ErrorOut})
def list_resources(request: HttpRequest, paging: PageQuery, filters: Query[ResourceFilters]):
    user = require(request, "read")
    qs = scoped(request, selectors.visible_resources(user), "namespace").order_by("-created", "-id")
    if filters.mine:
        qs = qs.filter(owner=user)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return paginate(qs, paging, present.resource)


@router.get("/resources/{resource_id}", response={200: ResourceOut, ERRORS: ErrorOut})
def get_resource(request: HttpRequest, resource_id: RowId):
    user = require(request, "read")
    resource = selectors.get_visible_resource(user, resource_id)
    require(request, "read", resource.namespace)
    return present.resource(resource)


@router.post("/resources/{resource_id}/actions/{action}", response={201: RequestOut, ERRORS: ErrorOut})
def request_action(request: HttpRequest, resource_id: RowId, action: str, payload: ActionIn):
    """Ask for a day-2 action (destroy, extend, poweroff, poweron): a request like any other."""
    user = require(request, "request")
    resource = selectors.get_visible_resource(user, resource_id)
    require(request, "request", resource.namespace)
    created = do_request_action(
        resource.pk, action[:16], acting_user=caller(request).user, data=payload.inputs
    )
    return Status(201, present.request(get_visible_request(user, created.pk)))

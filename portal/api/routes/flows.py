"""Flows one may request: list, get, validate inputs against one, validate a flow's source."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from orchestrator.flowmodel.flow_errors import FlowError
from orchestrator.flowmodel.input_types import InputsInvalid, resolve_inputs
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from portal.catalog.models import CatalogFlow
from portal.catalog.selectors import requestable_flows

from .. import present
from ..auth import require, scoped
from ..errors import ERRORS, ErrorOut
from ..paging import PageQuery, paginate
from ..schemas import (
    FlowDetailOut,
    FlowOut,
    FlowSourceIn,
    FlowValidationOut,
    InputsIn,
    InputsValidationOut,
    Page,
)

router = Router(tags=["flows"])


class FlowFilters(Schema):
    namespace: str | None = Field(None, max_length=200, description="this namespace and those below it")


def get_flow(request: HttpRequest, namespace: str, flow_id: str, verb: str = "read") -> CatalogFlow:
    """A requestable flow (day-2 flows are asked for from their resource), in the token's namespaces."""
    user = require(request, verb, namespace)
    # The user's own namespace roles narrow it further, as on the catalog page (404 outside them).
    found = requestable_flows(user).filter(namespace=namespace, flow_id=flow_id).first()
    if found is None:
        raise CatalogFlow.DoesNotExist(f"no flow {namespace}.{flow_id}")
    return found


@router.get("/flows", response={200: Page[FlowOut], ERRORS: ErrorOut})
def list_flows(request: HttpRequest, paging: PageQuery, filters: Query[FlowFilters]):
    user = require(request, "read")
    flows = scoped(request, requestable_flows(user), "namespace")
    if filters.namespace:
        base = filters.namespace
        flows = flows.filter(Q(namespace=base) | Q(namespace__startswith=base + "."))
    return paginate(flows, paging, present.catalog_flow)


@router.post("/flows/validate", response={200: FlowValidationOut, ERRORS: ErrorOut})
def validate_source(request: HttpRequest, payload: FlowSourceIn):
    """Validate a flow's YAML as the catalog would load it: every problem with its line and field."""
    require(request, "read")

    def problem(error: FlowError) -> dict:
        return {
            "line": error.line,
            "path": error.path,
            "message": error.message,
            "not_supported": error.not_supported,
        }

    try:
        flow = parse_flow(payload.source, "<api>")
    except FlowValidationError as exc:
        return {
            "valid": False,
            "namespace": None,
            "id": None,
            "errors": [problem(e) for e in exc.errors],
            "warnings": [],
        }
    warnings = [problem(w) for w in getattr(flow, "warnings", [])]
    return {"valid": True, "namespace": flow.namespace, "id": flow.id, "errors": [], "warnings": warnings}


@router.get("/flows/{namespace}/{flow_id}", response={200: FlowDetailOut, ERRORS: ErrorOut})
def get_flow_detail(request: HttpRequest, namespace: str, flow_id: str):
    return present.catalog_flow(get_flow(request, namespace, flow_id), source=True)


@router.post("/flows/{namespace}/{flow_id}/validate", response={200: InputsValidationOut, ERRORS: ErrorOut})
def validate_inputs(request: HttpRequest, namespace: str, flow_id: str, payload: InputsIn):
    """Check input values as a submission would (``resolve_inputs``), without submitting anything."""
    flow = get_flow(request, namespace, flow_id).parse()
    try:
        resolve_inputs(flow, payload.inputs)
    except InputsInvalid as exc:
        return {"valid": False, "fields": {k: str(v) for k, v in exc.errors.items()}}
    return {"valid": True, "fields": {}}

"""Which requests someone may see, and what the request page shows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from orchestrator.flowmodel.masking import MASK
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from portal.accounts import visibility
from portal.executions.selectors import execution_view, log_lines

from .models import ResourceRequest
from .services import SERVER_FILLED_INPUTS, is_day_two


def _requests() -> QuerySet[ResourceRequest]:
    return ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center", "execution")


def visible_requests(user: Any) -> QuerySet[ResourceRequest]:
    """Requests ``user`` may see (``accounts.visibility``: overseers all, everyone else their own)."""
    return visibility.visible(_requests(), user, owner="requester")


def my_requests(user: Any) -> QuerySet[ResourceRequest]:
    return visible_requests(user).filter(requester=user)


def openable_ids(user: Any, requests: Iterable[ResourceRequest]) -> set[int]:
    """Which of ``requests`` ``user`` may open (the same rule as ``visible_requests``)."""
    return {
        r.pk
        for r in requests
        if visibility.may_see(user, r.requester_id, r.cost_center_id, r.catalog_flow.namespace)
    }


def get_visible_request(user: Any, pk: int) -> ResourceRequest:
    """404 (not 403) for someone else's request: its existence is not theirs to know."""
    return visibility.get_visible_or_404(_requests(), user, owner="requester", pk=pk, what="request")


def display_inputs(request: ResourceRequest) -> dict[str, Any]:
    """Inputs as people read them: by display name (``InputSpec.label``), in declaration order, every
    SECRET masked (also once ``secret_inputs`` is cleared). A day-2 request leaves out the identifiers
    Portico filled in (``resource_id``, ``server_id``...): its page shows the resource itself."""
    values: dict[str, Any] = dict(request.inputs)
    values.update(dict.fromkeys(request.secret_inputs, MASK))
    try:
        flow = parse_flow(request.flow_source, request.catalog_flow.file)
    except FlowValidationError:  # a snapshot that no longer parses still has displayable inputs
        return values
    day_two = is_day_two(flow)
    shown: dict[str, Any] = {}
    for spec in flow.inputs:
        if day_two and spec.id in SERVER_FILLED_INPUTS:
            continue
        value = MASK if spec.type == "SECRET" else values.get(spec.id)
        label = spec.label if spec.label not in shown else f"{spec.label} ({spec.id})"
        shown[label] = value
    return shown


def execution_detail(request: ResourceRequest) -> dict[str, Any]:
    """The execution's task tree, timeline, flow outputs and latest log lines, if it has started.

    (The execution page, ``portal.executions``, adds task outputs, actions and a log filter.)
    """
    execution = request.execution
    if execution is None:
        return {"execution": None, "rows": [], "logs": [], "outputs": {}, "terminal": request.is_terminal}
    view = execution_view(execution)  # refreshes the execution; tree, timeline and outputs masked
    return {
        "execution": execution,
        "rows": view["rows"],
        "timeline": view["timeline"],
        "outputs": view["outputs"],
        "logs": log_lines(execution),
        "terminal": request.is_terminal and execution.is_terminal,
    }

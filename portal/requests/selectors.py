"""Who may see which requests, and what the detail page shows."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from orchestrator.inputs import mask_inputs
from orchestrator.masking import MASK
from orchestrator.models import LogLine, TaskRun
from orchestrator.spec import FlowValidationError, parse_flow
from portal.accounts.roles import is_approver

from .models import RequestState, ResourceRequest

MAX_LOG_LINES = 500


def visible_requests(user: Any) -> QuerySet[ResourceRequest]:
    """Approvers see every request; everyone else only their own."""
    qs = ResourceRequest.objects.select_related("requester", "catalog_flow", "cost_center", "execution")
    return qs if is_approver(user) else qs.filter(requester=user)


def my_requests(user: Any) -> QuerySet[ResourceRequest]:
    return visible_requests(user).filter(requester=user)


def get_visible_request(user: Any, pk: int) -> ResourceRequest:
    """404 (not 403) for someone else's request: its existence is not theirs to know."""
    try:
        return visible_requests(user).get(pk=pk)
    except ResourceRequest.DoesNotExist:
        raise Http404("no such request") from None


def pending_approvals() -> QuerySet[ResourceRequest]:
    return (
        ResourceRequest.objects.filter(state=RequestState.PENDING_APPROVAL)
        .select_related("requester", "catalog_flow", "cost_center")
        .order_by("created", "id")
    )


def display_inputs(request: ResourceRequest) -> dict[str, Any]:
    """Inputs in declaration order, every SECRET shown masked (also once ``secret_inputs`` is cleared)."""
    values: dict[str, Any] = dict(request.inputs)
    values.update(dict.fromkeys(request.secret_inputs, MASK))
    try:
        flow = parse_flow(request.flow_source, request.catalog_flow.file)
    except FlowValidationError:  # a snapshot that no longer parses still has displayable inputs
        return values
    ordered = {spec.id: MASK if spec.type == "SECRET" else values.get(spec.id) for spec in flow.inputs}
    return mask_inputs(flow, ordered)


def execution_detail(request: ResourceRequest) -> dict[str, Any]:
    """Task runs (state, attempts, duration) and log lines of the request's execution, if any."""
    execution = request.execution
    if execution is None:
        return {"execution": None, "task_runs": [], "logs": [], "terminal": request.is_terminal}
    execution.refresh_from_db()
    task_runs = list(TaskRun.objects.filter(execution=execution).order_by("created"))
    logs = list(
        LogLine.objects.filter(execution=execution).select_related("taskrun").order_by("-id")[:MAX_LOG_LINES]
    )
    logs.reverse()
    return {
        "execution": execution,
        "task_runs": task_runs,
        "logs": logs,
        "terminal": request.is_terminal and execution.is_terminal,
    }

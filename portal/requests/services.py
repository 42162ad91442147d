"""Submitting requests, and keeping a request in step with its execution."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator.inputs import mask_inputs, resolve_inputs, secret_ids
from orchestrator.models import State
from portal.audit import services as audit
from portal.notifications.services import notify_on_commit

from .models import RequestState, ResourceRequest

# Execution state -> request state; states not listed (CREATED, QUEUED, PAUSED, ...) change nothing.
EXECUTION_TO_REQUEST = {
    State.RUNNING: RequestState.RUNNING,
    State.SUCCESS: RequestState.SUCCEEDED,
    State.WARNING: RequestState.SUCCEEDED,
    State.FAILED: RequestState.FAILED,
    State.KILLED: RequestState.CANCELLED,
    State.CANCELLED: RequestState.CANCELLED,
}
REQUEST_LABEL = "portico.request"


class RequestNotAllowed(Exception):
    """The request cannot be made (flow withdrawn, cost center inactive)."""


def do_submit_request(
    *, requester: Any, catalog_flow: Any, data: dict[str, Any], cost_center: Any
) -> ResourceRequest:
    """Record a request for ``catalog_flow`` with raw input ``data``; raises ``InputsInvalid`` on bad values.

    The flow source is snapshotted, so what an approver reviews is what runs. A flow labelled
    ``portico.approval: none`` is auto-approved and starts at once.
    """
    if not catalog_flow.active:
        raise RequestNotAllowed(f"flow {catalog_flow} is not in the catalog any more")
    if not cost_center.active:
        raise RequestNotAllowed(f"cost center {cost_center.code} is not active")
    flow = catalog_flow.parse()
    resolved = resolve_inputs(flow, data)
    secrets = secret_ids(flow)
    with transaction.atomic():
        request = ResourceRequest.objects.create(
            requester=requester,
            catalog_flow=catalog_flow,
            flow_revision=catalog_flow.revision,
            flow_source=catalog_flow.source,
            inputs={k: v for k, v in resolved.items() if k not in secrets},
            secret_inputs={k: v for k, v in resolved.items() if k in secrets},
            cost_center=cost_center,
        )
        audit.record(
            "requested",
            actor=requester,
            target=request,
            cost_center=cost_center,
            flow=catalog_flow,
            details={"inputs": mask_inputs(flow, resolved), "flow_revision": catalog_flow.revision},
        )
        if flow.needs_approval:
            notify_on_commit("requested", request.pk)
        else:
            from portal.approvals.services import do_auto_approve

            do_auto_approve(request, flow)
    request.refresh_from_db()
    return request


submit_request = do_submit_request


def sync_request_with_execution(execution: Any, new_state: str) -> ResourceRequest | None:
    """Mirror an execution state change onto its request (runs inside the engine's transaction)."""
    request_id = (execution.labels or {}).get(REQUEST_LABEL)
    target = EXECUTION_TO_REQUEST.get(new_state)
    if not request_id or target is None:
        return None
    request = ResourceRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is None or request.is_terminal or request.state == target:
        return request
    request.state = target
    request.execution_id = execution.pk
    fields = ["state", "execution", "updated"]
    details = {"execution": str(execution.pk), "state": str(new_state)}
    if target == RequestState.RUNNING:
        verb = "execution.started"
    else:
        verb = "execution.finished"
        request.finished_at = timezone.now()
        request.secret_inputs = {}  # the execution is over: nothing needs the secret any more
        fields += ["finished_at", "secret_inputs"]
    request.save(update_fields=fields)
    audit.record(
        verb, target=request, cost_center=request.cost_center, flow=request.catalog_flow, details=details
    )
    if request.is_terminal:
        notify_on_commit("finished", request.pk)
    return request

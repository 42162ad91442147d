"""Submitting requests, and keeping a request in step with its execution."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator.flowmodel import storage
from orchestrator.flowmodel.input_types import mask_inputs, resolve_inputs, secret_ids
from orchestrator.state.models import State
from portal.audit import services as audit

from .models import RequestState, ResourceRequest
from .signals import request_finished, request_submitted

# Execution state -> request state; states not listed (CREATED, QUEUED, KILLING, ...) change nothing.
EXECUTION_TO_REQUEST = {
    State.RUNNING: RequestState.RUNNING,
    State.PAUSED: RequestState.PAUSED,
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
    *,
    requester: Any,
    catalog_flow: Any,
    data: dict[str, Any],
    cost_center: Any,
    system_approval: str | None = None,
) -> ResourceRequest:
    """Record a request for ``catalog_flow`` with raw input ``data``; raises ``InputsInvalid`` on bad values.

    The flow source is snapshotted, so what an approver reviews is what runs. What happens next is the
    approval policy's, applied in this transaction by ``portal.approvals`` on ``request_submitted``:
    approvers are asked, or the request is approved and started at once (a flow labelled
    ``portico.approval: none``, or a request Portico itself makes: ``system_approval`` gives the reason,
    e.g. an expired resource).
    """
    if not catalog_flow.active:
        raise RequestNotAllowed(f"flow {catalog_flow} is not in the catalog any more")
    if not cost_center.active:
        raise RequestNotAllowed(f"cost center {cost_center.code} is not active")
    flow = catalog_flow.parse()
    resolved = resolve_inputs(flow, data, files_prefix=storage.upload_prefix(flow.namespace, flow.id))
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
        request_submitted.send(
            sender=ResourceRequest, request=request, flow=flow, system_approval=system_approval
        )
    request.refresh_from_db()
    return request


submit_request = do_submit_request


def _reopens(request: ResourceRequest, execution: Any, new_state: str) -> bool:
    """A finished request runs again when an operator restarts its execution or replays it.

    Restart reuses the execution (it passes through RESTARTED); a replay is a new execution whose
    ``original`` is the request's current one. Either way the request follows it until it ends again.
    """
    if request.state == RequestState.REJECTED or request.execution_id is None:
        return False
    if new_state == State.RESTARTED:
        return request.execution_id == execution.pk
    return new_state == State.RUNNING and getattr(execution, "original_id", None) == request.execution_id


def sync_request_with_execution(execution: Any, new_state: str) -> ResourceRequest | None:
    """Mirror an execution state change onto its request (runs inside the engine's transaction)."""
    request_id = (execution.labels or {}).get(REQUEST_LABEL)
    if not request_id:
        return None
    request = ResourceRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is not None and request.is_terminal and _reopens(request, execution, new_state):
        return _reopen(request, execution, new_state)
    target = EXECUTION_TO_REQUEST.get(new_state)
    if request is None or target is None or request.is_terminal or request.state == target:
        return request
    if request.execution_id not in (None, execution.pk):
        return request  # another execution carrying the label (e.g. a replay of a running one)
    previous = request.state
    request.state = target
    request.execution_id = execution.pk
    fields = ["state", "execution", "updated"]
    details = {"execution": str(execution.pk), "state": str(new_state)}
    if target == RequestState.PAUSED:
        verb = "execution.paused"
    elif target == RequestState.RUNNING:
        verb = "execution.resumed" if previous == RequestState.PAUSED else "execution.started"
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
        request_finished.send(sender=ResourceRequest, request=request)
    return request


def _reopen(request: ResourceRequest, execution: Any, new_state: str) -> ResourceRequest:
    original = request.execution_id
    request.state = RequestState.RUNNING
    request.execution_id = execution.pk
    request.finished_at = None
    request.save(update_fields=["state", "execution", "finished_at", "updated"])
    audit.record(
        "execution.reopened",
        target=request,
        cost_center=request.cost_center,
        flow=request.catalog_flow,
        details={"execution": str(execution.pk), "state": str(new_state), "original": str(original)},
    )
    return request

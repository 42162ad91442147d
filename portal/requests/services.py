"""Submitting requests, and keeping a request in step with its execution."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orchestrator import storage
from orchestrator.inputs import mask_inputs, resolve_inputs, secret_ids
from orchestrator.models import State
from portal.audit import services as audit
from portal.notifications.services import notify_on_commit

from .models import RequestState, ResourceRequest

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

    The flow source is snapshotted, so what an approver reviews is what runs. A flow labelled
    ``portico.approval: none`` is auto-approved and starts at once; so is a request Portico itself makes
    (``system_approval`` gives the reason, e.g. an expired resource), and then no approver is asked.
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
        if flow.needs_approval and system_approval is None:
            notify_on_commit("requested", request.pk)
        else:
            from portal.approvals.services import do_auto_approve

            if system_approval is None:
                do_auto_approve(request, flow)
            else:
                do_auto_approve(request, flow, reason=system_approval)
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
        notify_on_commit("finished", request.pk)
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

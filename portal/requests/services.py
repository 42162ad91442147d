"""Submitting requests, and keeping a request in step with its execution."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import flow_checks
from orchestrator.flowmodel import storage
from orchestrator.flowmodel.input_types import InputsInvalid, mask_inputs, resolve_inputs, secret_ids
from orchestrator.flowmodel.secrets_at_rest import seal_inputs
from orchestrator.flowmodel.spec import Flow
from orchestrator.state.models import State
from portal.accounts.roles import is_requester, may_charge
from portal.accounts.rules import can_request_in
from portal.audit import services as audit
from portal.catalog.models import RESOURCE_ACTION_LABEL

from . import links
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
# Informational only (servers are labelled with it): the link is ``RequestExecution``, never a label.
REQUEST_LABEL = "portico.request"
# A day-2 flow acts on an existing resource: requested only from that resource's page.
# Inputs naming an existing thing: filled from the database by the caller (the resource), never from
# form data, and never shown on a form.
SERVER_FILLED_INPUTS = frozenset({"resource_id", "server_id", "state_key"})


class RequestNotAllowed(Exception):
    """The request cannot be made (flow withdrawn, cost center inactive)."""


class RequestForbidden(PermissionDenied):
    """The requester may not make this request (no requester role, a cost center not theirs)."""


def is_day_two(flow: Flow) -> bool:
    """A day-2 flow (``portico.resource-action``) acts on a resource: only its resource page asks."""
    return bool(flow.labels.get(RESOURCE_ACTION_LABEL))


def form_input_ids(flow: Flow) -> list[str]:
    """The inputs a person may fill in (everything but the identifiers Portico fills in itself)."""
    return [spec.id for spec in flow.inputs if spec.id not in SERVER_FILLED_INPUTS]


def check_may_request(requester: Any, cost_center: Any | None = None, namespace: str | None = None) -> None:
    """The requester role (in ``namespace`` when given, else in some namespace) and, given a cost center,
    membership of it; raises ``RequestForbidden``."""
    if not is_requester(requester):
        raise RequestForbidden(f"{requester} does not have the requester role")
    if namespace is not None and not can_request_in(requester, namespace):
        raise RequestForbidden(f"{requester} may not request flows of namespace {namespace}")
    if cost_center is not None and not may_charge(requester, cost_center):
        raise RequestForbidden(f"{requester} may not charge cost center {cost_center.code}")


def do_submit_request(
    *,
    requester: Any,
    catalog_flow: Any,
    data: dict[str, Any],
    cost_center: Any,
    system_approval: str | None = None,
    server_inputs: dict[str, Any] | None = None,
    resubmitted_from: ResourceRequest | None = None,
) -> ResourceRequest:
    """Record a request for ``catalog_flow`` with raw input ``data``; raises ``InputsInvalid`` on bad values,
    ``RequestForbidden`` without the requester role or on a cost center not theirs, ``RequestNotAllowed``
    for a withdrawn flow, an inactive cost center, or a day-2 flow asked for without its resource.

    ``server_inputs``: identifiers the caller read from the database (``resources`` passes the
    resource's); only they may set ``SERVER_FILLED_INPUTS``, and a day-2 flow needs them.

    The flow source is snapshotted, so what an approver reviews is what runs. What happens next is the
    approval policy's, applied in this transaction by ``portal.approvals`` on ``request_submitted``:
    approvers are asked, or the request is approved and started at once (a flow labelled
    ``portico.approval: none``, or a request Portico itself makes: ``system_approval`` gives the reason,
    e.g. an expired resource).

    ``resubmitted_from``: the request this one edits and resubmits (``self_service`` checks it may).
    """
    if system_approval is None:  # Portico's own requests (an expired resource's destroy) act for the owner
        # A day-2 request (``server_inputs``) is charged to its resource's cost center, whoever may act on
        # the resource (checked by ``resources``) asks: the owner can always destroy what they own.
        check_may_request(requester, cost_center if server_inputs is None else None, catalog_flow.namespace)
    if not catalog_flow.active:
        raise RequestNotAllowed(f"flow {catalog_flow} is not in the catalog any more")
    if not cost_center.active:
        raise RequestNotAllowed(f"cost center {cost_center.code} is not active")
    flow = catalog_flow.parse()
    if is_day_two(flow) and server_inputs is None:
        raise RequestNotAllowed(f"{catalog_flow} acts on a resource: ask for it from the resource's page")
    if smuggled := sorted(SERVER_FILLED_INPUTS & set(data)):
        raise InputsInvalid(
            {key: "is set by Portico from the resource, not from the form" for key in smuggled}
        )
    data = {**data, **(server_inputs or {})}
    resolved = resolve_inputs(flow, data, files_prefix=storage.upload_prefix(flow.namespace, flow.id))
    try:  # the flow's checks, on the form: a BLOCK_EXECUTION one stops the request here, with its message
        flow_checks.verdict(flow, resolved)
    except flow_checks.ChecksBlocked as exc:
        raise RequestNotAllowed(str(exc)) from exc
    secrets = secret_ids(flow)
    with transaction.atomic():
        request = ResourceRequest.objects.create(
            requester=requester,
            catalog_flow=catalog_flow,
            flow_revision=catalog_flow.revision,
            flow_source=catalog_flow.source,
            flow_commit=catalog_flow.commit,
            inputs={k: v for k, v in resolved.items() if k not in secrets},
            secret_inputs=seal_inputs({k: v for k, v in resolved.items() if k in secrets}, secrets),
            cost_center=cost_center,
            resubmitted_from=resubmitted_from,
        )
        details: dict[str, Any] = {
            "inputs": mask_inputs(flow, resolved),
            "flow_revision": catalog_flow.revision,
        }
        if catalog_flow.commit:
            details["flow_commit"] = catalog_flow.commit
        if resubmitted_from is not None:
            details["resubmitted_from"] = resubmitted_from.pk
        audit.record(
            "request.submitted",
            actor=requester,
            target=request,
            cost_center=cost_center,
            flow=catalog_flow,
            details=details,
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
    """Mirror an execution state change onto its request (runs inside the engine's transaction).

    The request is found through ``RequestExecution`` (``links``), never through labels. A replay or
    a new-execution retry of the request's execution is linked here and followed from then on.
    """
    request = links.request_of(execution, for_update=True)
    if request is None:
        return None
    if execution.parent_id is None and request.execution_id not in (None, execution.pk):
        if not links.descends_from(execution, request.execution_id):
            return request  # an older execution of the request, or a subflow's: the request follows one
        links.link(request, execution)
        if not request.is_terminal:  # a retry's new execution replaces the RETRIED one
            ResourceRequest.objects.filter(pk=request.pk).update(execution=execution.pk)
            request.execution_id = execution.pk
    elif execution.parent_id is not None and request.execution_id != execution.pk:
        return request  # a subflow's execution: its root's state is the request's
    if request.is_terminal and _reopens(request, execution, new_state):
        return _reopen(request, execution, new_state)
    target = EXECUTION_TO_REQUEST.get(new_state)
    if target is None or request.is_terminal or request.state == target:
        return request
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

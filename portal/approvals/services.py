"""Approving and rejecting requests: one locked transaction per decision, at most one decision each.

The approval policy lives here too: a submitted request (``requests.signals.request_submitted``) waits
for an approver unless its flow needs none or Portico approves it itself; and over its cost center's
budget it needs two distinct approvers (``resources.budget`` keeps the count).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import walker
from orchestrator.flowmodel.input_types import mask_inputs
from orchestrator.flowmodel.spec import Flow, parse_flow
from portal.accounts.roles import is_approver, may_decide_on
from portal.audit import services as audit
from portal.notifications.services import notify_on_commit
from portal.requests import links
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import REQUEST_LABEL
from portal.resources import budget

from .models import Decision, Outcome


class DecisionError(Exception):
    """The request cannot be decided (already decided, or withdrawn)."""


class SelfApprovalError(PermissionDenied):
    """Nobody decides on their own request."""


class OutOfScopeError(PermissionDenied):
    """An approver scoped to cost centers decides only requests charged to them."""


def _launch(request: ResourceRequest, flow: Flow) -> None:
    """Start the execution inside the caller's transaction; the engine dispatches it on commit.

    The request ↔ execution link is a row (``links``) written before the execution starts; the labels
    only describe the run (servers are labelled with them).
    """
    with transaction.atomic():  # the link's foreign key is checked at commit, once the execution exists
        execution = _start(request, flow)
    # The engine's signals may already have moved the request (e.g. to RUNNING): write only the link.
    ResourceRequest.objects.filter(pk=request.pk).update(execution=execution)
    request.refresh_from_db()


def _start(request: ResourceRequest, flow: Flow) -> Any:
    """The execution, or DecisionError when the flow cannot start now (disabled since, or its
    ``checks`` block what passed at submit: they may read time or KV); the request stays pending."""
    try:
        return walker.start_execution(
            flow,
            {**request.inputs, **request.secret_inputs},
            execution_id=links.new_execution_id(request),
            labels={
                REQUEST_LABEL: str(request.pk),
                "portico.requester": request.requester.get_username(),
                "portico.cost_center": request.cost_center.code,
            },
            trigger={"type": "portico.request", "request": request.pk},
        )
    except (walker.FlowDisabled, walker.ChecksBlocked) as exc:
        raise DecisionError(f"the flow cannot start now: {exc}") from exc


def _decide(request_id: int, *, acting_user: Any, comment: str, outcome: Outcome) -> ResourceRequest:
    if not is_approver(acting_user):
        raise PermissionDenied(f"{acting_user} may not approve or reject requests")
    with transaction.atomic():
        request = (
            ResourceRequest.objects.select_for_update()
            .select_related("requester", "catalog_flow", "cost_center")
            .get(pk=request_id)
        )
        if request.requester_id == acting_user.pk:
            raise SelfApprovalError("you cannot decide on your own request")
        if not may_decide_on(acting_user, request.cost_center_id):
            raise OutOfScopeError(
                f"{acting_user} does not approve for cost center {request.cost_center.code}"
            )
        if request.state != RequestState.PENDING_APPROVAL:
            state = request.get_state_display().lower()
            raise DecisionError(f"request #{request.pk} is {state}, not pending approval")
        if outcome == Outcome.APPROVED:
            counted = budget.count_approval(request, acting_user, comment)
            if counted is budget.Approval.SAME_APPROVER:
                raise SelfApprovalError("over budget: a second, different approver must approve")
            if counted is budget.Approval.FIRST_OF_TWO:
                return request  # recorded; the request stays pending for a second approver
        Decision.objects.create(request=request, approver=acting_user, outcome=outcome, comment=comment)
        request.state = RequestState.APPROVED if outcome == Outcome.APPROVED else RequestState.REJECTED
        request.decided_at = timezone.now()
        if outcome == Outcome.REJECTED:
            request.secret_inputs = {}  # never runs: drop the secrets now
        request.save(update_fields=["state", "decided_at", "secret_inputs", "updated"])
        flow = parse_flow(request.flow_source, request.catalog_flow.file)
        audit.record(
            "approved" if outcome == Outcome.APPROVED else "rejected",
            actor=acting_user,
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details={
                "comment": comment,
                "inputs": mask_inputs(flow, {**request.inputs, **request.secret_inputs}),
            },
        )
        if outcome == Outcome.APPROVED:
            _launch(request, flow)
        notify_on_commit("decided", request.pk)
    return request


def do_approve_request(request_id: int, *, acting_user: Any, comment: str = "") -> ResourceRequest:
    """Approve and start the execution; raises PermissionDenied, SelfApprovalError or DecisionError."""
    return _decide(request_id, acting_user=acting_user, comment=comment, outcome=Outcome.APPROVED)


def do_reject_request(request_id: int, *, acting_user: Any, comment: str = "") -> ResourceRequest:
    return _decide(request_id, acting_user=acting_user, comment=comment, outcome=Outcome.REJECTED)


approve = do_approve_request
reject = do_reject_request


def do_route_submitted(request: ResourceRequest, flow: Flow, *, system_approval: str | None = None) -> None:
    """A new request waits for the approvers (who are told on commit) unless its flow needs no approval
    or Portico approves it itself (``system_approval`` says why); then it is approved and started now."""
    if flow.needs_approval and system_approval is None:
        notify_on_commit("requested", request.pk)
    elif system_approval is None:
        do_auto_approve(request, flow)
    else:
        do_auto_approve(request, flow, reason=system_approval)


def do_auto_approve(
    request: ResourceRequest, flow: Flow, *, reason: str = "flow label portico.approval is none"
) -> None:
    """For flows labelled ``portico.approval: none`` (or a system decision, e.g. an expired resource's
    destroy): record why nobody approved, then start."""
    Decision.objects.create(request=request, approver=None, outcome=Outcome.AUTO_APPROVED)
    request.state = RequestState.APPROVED
    request.decided_at = timezone.now()
    request.save(update_fields=["state", "decided_at", "updated"])
    audit.record(
        "auto-approved",
        target=request,
        cost_center=request.cost_center,
        flow=request.catalog_flow,
        details={"reason": reason},
    )
    _launch(request, flow)

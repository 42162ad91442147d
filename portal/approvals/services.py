"""Approving and rejecting requests: one locked transaction per decision, at most one decision each.

Routing lives here too: a submitted request (``requests.signals.request_submitted``) waits for its
approvers unless its flow needs none or Portico approves it itself. How many, and who, is its approval
policy (``policies``: groups, quorum, a second approver over budget or above a cost threshold), frozen
at submit; each vote is an ``Approval`` row, the last one needed makes the ``Decision``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from orchestrator.executor import walker
from orchestrator.flowmodel.input_types import mask_inputs
from orchestrator.flowmodel.spec import Flow, parse_flow
from portal.accounts.roles import is_approver
from portal.audit import services as audit
from portal.notifications.services import approvers_of, notify_on_commit
from portal.requests import links
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import REQUEST_LABEL
from portal.resources.models import RequestEstimate

from . import deadlines, policies
from .models import Approval, Decision, Outcome

MAX_COMMENT = 4000  # characters kept of a decision's comment from an email link's page


class DecisionError(Exception):
    """The request cannot be decided (already decided, or withdrawn)."""


class SelfApprovalError(PermissionDenied):
    """Nobody decides on their own request."""


class OutOfScopeError(PermissionDenied):
    """An approver scoped to cost centers (or outside the policy's groups) cannot decide this request."""


class CommentRequiredError(DecisionError):
    """The policy wants a reason for a reject: nothing was recorded."""


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


_REFUSALS: dict[str, type[PermissionDenied]] = {"self": SelfApprovalError, "scope": OutOfScopeError}


def _voter(request: ResourceRequest, policy: Any, acting_user: Any) -> policies.Voter:
    """Whose vote this is (``policies.voter``), or the refusal the callers already know: the role
    (PermissionDenied), self-approval, scope and groups (OutOfScopeError), not pending (DecisionError),
    a vote already counted (SelfApprovalError)."""
    try:
        return policies.voter(acting_user, request, policy)
    except policies.NotEligible as exc:
        refusal = OutOfScopeError if exc.kind == "group" else _REFUSALS.get(exc.kind, PermissionDenied)
        raise refusal(str(exc)) from None
    except policies.AlreadyVoted as exc:
        _check_pending(request)
        raise SelfApprovalError(str(exc)) from None


def _check_pending(request: ResourceRequest) -> None:
    if request.state != RequestState.PENDING_APPROVAL:
        state = request.get_state_display().lower()
        raise DecisionError(f"request #{request.pk} is {state}, not pending approval")


def _decide(
    request_id: int, *, acting_user: Any, comment: str, outcome: Outcome, via: str = "web"
) -> ResourceRequest:
    if not getattr(acting_user, "is_authenticated", False) or (
        not is_approver(acting_user) and not policies.active_delegators(acting_user)
    ):
        raise PermissionDenied(f"{acting_user} may not approve or reject requests")
    with transaction.atomic():
        # The request's row lock serialises every vote on it: racing approvers count one at a time.
        request = (
            ResourceRequest.objects.select_for_update()
            .select_related("requester", "catalog_flow", "cost_center")
            .get(pk=request_id)
        )
        policy = policies.of(request)
        voter = _voter(request, policy, acting_user)
        _check_pending(request)
        if outcome == Outcome.REJECTED and policy.require_reject_comment and not comment.strip():
            raise CommentRequiredError("the approval policy requires a comment to reject")
        Approval.objects.create(
            request=request,
            approver=voter.approver,
            on_behalf_of=voter.on_behalf_of,
            counted_for=voter.counted_for,
            outcome=outcome,
            comment=comment,
            via=via,
        )
        if outcome == Outcome.APPROVED:
            count = Approval.objects.filter(request=request, outcome=Outcome.APPROVED).count()
            if count < policy.required:
                _record_partial(request, policy, voter, comment, count)
                return request  # recorded; the request stays pending for the next distinct approver
        Decision.objects.create(request=request, approver=acting_user, outcome=outcome, comment=comment)
        request.state = RequestState.APPROVED if outcome == Outcome.APPROVED else RequestState.REJECTED
        request.decided_at = timezone.now()
        if outcome == Outcome.REJECTED:
            request.secret_inputs = {}  # never runs: drop the secrets now
        request.save(update_fields=["state", "decided_at", "secret_inputs", "updated"])
        flow = parse_flow(request.flow_source, request.catalog_flow.file)
        details: dict[str, Any] = {
            "comment": comment,
            "inputs": mask_inputs(flow, {**request.inputs, **request.secret_inputs}),
            "policy": policy.source or "default",
            "approvers": _approver_names(request),
        }
        if via != "web":
            details["via"] = via
        if voter.on_behalf_of is not None:
            details["on_behalf_of"] = voter.on_behalf_of.get_username()
        audit.record(
            "request.approved" if outcome == Outcome.APPROVED else "request.rejected",
            actor=acting_user,
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details=details,
        )
        if outcome == Outcome.APPROVED:
            _launch(request, flow)
        notify_on_commit("decided", request.pk)
    return request


def _approver_names(request: ResourceRequest) -> list[str]:
    return [
        a.approver.get_username() for a in Approval.objects.filter(request=request).select_related("approver")
    ]


def _record_partial(
    request: ResourceRequest, policy: Any, voter: policies.Voter, comment: str, count: int
) -> None:
    """Audit an approval that is not yet enough; the first one over budget is also shown on the
    request's estimate (``resources``' cost panel names the first approver)."""
    if count == 1:
        RequestEstimate.objects.filter(request=request, first_approver__isnull=True).update(
            first_approver=voter.approver
        )
    details: dict[str, Any] = {
        "reason": policy.second_approval or f"quorum of {policy.quorum}",
        "comment": comment,
        "approvals": count,
        "required": policy.required,
    }
    if voter.on_behalf_of is not None:
        details["on_behalf_of"] = voter.on_behalf_of.get_username()
    audit.record(
        "request.first_approval" if count == 1 else "request.approval_counted",
        actor=voter.approver,
        target=request,
        cost_center=request.cost_center,
        flow=request.catalog_flow,
        details=details,
    )


def progress(request: ResourceRequest) -> str:
    """What a still-pending request waits for, after an approval: for the queue's message."""
    policy = policies.of(request)
    count = Approval.objects.filter(request=request, outcome=Outcome.APPROVED).count()
    if policy.second_approval and policy.required == 2:
        return f"has its first approval; {policy.second_approval}, it needs a second approver"
    return f"has {count} of {policy.required} approvals; it needs another, different approver"


def do_approve_request(
    request_id: int, *, acting_user: Any, comment: str = "", via: str = "web"
) -> ResourceRequest:
    """Count one approval; the last one the policy needs approves and starts the execution (a request
    still pending comes back PENDING_APPROVAL). Raises PermissionDenied, SelfApprovalError or
    DecisionError."""
    return _decide(request_id, acting_user=acting_user, comment=comment, outcome=Outcome.APPROVED, via=via)


def do_reject_request(
    request_id: int, *, acting_user: Any, comment: str = "", via: str = "web"
) -> ResourceRequest:
    """Any one eligible approver's reject rejects; CommentRequiredError when the policy wants a comment."""
    return _decide(request_id, acting_user=acting_user, comment=comment, outcome=Outcome.REJECTED, via=via)


approve = do_approve_request
reject = do_reject_request


def do_route_submitted(request: ResourceRequest, flow: Flow, *, system_approval: str | None = None) -> None:
    """A new request waits for the approvers (who are told on commit) unless its flow needs no approval
    or Portico approves it itself (``system_approval`` says why); then it is approved and started now."""
    if flow.needs_approval and system_approval is None:
        policy = policies.freeze(request)
        notify_on_commit("requested", request.pk)
        if settings.PORTICO_APPROVAL_EMAIL_LINKS:  # each approver's own links, beside the notice
            users = policies.eligible_users(request, policy, approvers_of(request))
            deadlines.links_on_commit("approval_links", request.pk, [user.pk for user in users])
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
        "request.auto_approved",
        target=request,
        cost_center=request.cost_center,
        flow=request.catalog_flow,
        details={"reason": reason},
    )
    _launch(request, flow)

"""Reading what awaits a decision: the queue and its size."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from portal.accounts.roles import approval_scope
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.selectors import display_inputs


def pending_requests(user: Any = None) -> QuerySet[ResourceRequest]:
    """Requests awaiting a decision, oldest first: the order approvers should work through them.

    With ``user``: only those ``user`` may decide (their own left out; a scoped approver's cost centers).
    """
    qs = (
        ResourceRequest.objects.filter(state=RequestState.PENDING_APPROVAL)
        .select_related("requester", "catalog_flow", "cost_center")
        .order_by("created", "id")
    )
    if user is None:
        return qs
    scope = approval_scope(user)
    qs = qs.exclude(requester=user)
    return qs if scope is None else qs.filter(cost_center__in=scope)


def pending_count(user: Any = None) -> int:
    """How many requests await a decision (the navigation's badge)."""
    return pending_requests(user).count()


def queue(user: Any = None) -> list[tuple[ResourceRequest, dict[str, Any]]]:
    """The approval queue: each pending request with its inputs as shown to approvers (secrets masked)."""
    return [(request, display_inputs(request)) for request in pending_requests(user)]

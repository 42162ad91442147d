"""Reading what awaits a decision: the queue and its size."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from portal.requests.models import RequestState, ResourceRequest
from portal.requests.selectors import display_inputs


def pending_requests() -> QuerySet[ResourceRequest]:
    """Requests awaiting a decision, oldest first: the order approvers should work through them."""
    return (
        ResourceRequest.objects.filter(state=RequestState.PENDING_APPROVAL)
        .select_related("requester", "catalog_flow", "cost_center")
        .order_by("created", "id")
    )


def pending_count() -> int:
    """How many requests await a decision (the navigation's badge)."""
    return pending_requests().count()


def queue() -> list[tuple[ResourceRequest, dict[str, Any]]]:
    """The approval queue: each pending request with its inputs as shown to approvers (secrets masked)."""
    return [(request, display_inputs(request)) for request in pending_requests()]

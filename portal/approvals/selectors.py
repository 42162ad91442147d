"""Reading what awaits a decision: the queue and its size."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from portal.accounts.roles import decidable_q
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.selectors import display_inputs

from .models import RequestPolicy


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
    mine = qs.exclude(requester=user).filter(decidable_q(user))  # accounts.roles.may_decide_on, as a filter
    return mine if user.is_superuser else mine.filter(_in_policy_groups(user))


def _in_policy_groups(user: Any) -> Q:
    """Requests whose frozen approval policy (``policies.may_decide_alone``) lets ``user``'s groups
    decide: unrestricted ones, those naming one of their groups, and escalated ones to their group."""
    groups = user.groups.all()
    allowed = RequestPolicy.objects.filter(
        Q(restricted=False)
        | Q(approver_groups__in=groups)
        | Q(escalated_at__isnull=False, escalate_to__in=groups)
    ).values("request_id")
    return Q(approval_policy__isnull=True) | Q(pk__in=allowed)


def pending_count(user: Any = None) -> int:
    """How many requests await a decision (the navigation's badge)."""
    return pending_requests(user).count()


def queue(user: Any = None) -> list[tuple[ResourceRequest, dict[str, Any]]]:
    """The approval queue: each pending request with its inputs as shown to approvers (secrets masked)."""
    return [(request, display_inputs(request)) for request in pending_requests(user)]

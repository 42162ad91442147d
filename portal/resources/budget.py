"""Budgets: a request that would take its cost center past the monthly budget needs two approvers.

The first approval is recorded (and audited) but leaves the request pending; a second, different
approver's approval then goes through the ordinary decision. Called from the approval service inside
its locked transaction, so two approvers racing cannot both count as "first".
"""

from __future__ import annotations

from typing import Any

from portal.audit import services as audit

from .models import RequestEstimate


def hold_for_second_approver(request: Any, acting_user: Any, comment: str = "") -> bool:
    """True when this approval is the first of two (the request stays pending)."""
    from portal.approvals.services import SelfApprovalError

    estimate = RequestEstimate.objects.select_for_update().filter(request=request).first()
    if estimate is None or not estimate.over_budget:
        return False
    if estimate.first_approver_id is None:
        estimate.first_approver = acting_user
        estimate.save(update_fields=["first_approver"])
        audit.record(
            "approved.first_of_two",
            actor=acting_user,
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details={"reason": "over the cost center's monthly budget", "comment": comment},
        )
        return True
    if estimate.first_approver_id == acting_user.pk:
        raise SelfApprovalError("over budget: a second, different approver must approve")
    return False

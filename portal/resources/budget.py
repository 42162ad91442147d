"""Budgets: a request that would take its cost center past the monthly budget needs two approvers.

The first approval is recorded (and audited) but leaves the request pending; a second, different
approver's approval then goes through the ordinary decision. Called from the approval service inside
its locked transaction, so two approvers racing cannot both count as "first". This module only keeps
the count on the request's estimate; refusing the first approver's second try is the approval
service's call (it owns self-approval), so ``resources`` never imports ``approvals``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from portal.audit import services as audit

from .models import RequestEstimate


class Approval(Enum):
    """What one approval counts for on a request's budget."""

    ENOUGH = "enough"  # within budget, or the second approval from someone else: decide as usual
    FIRST_OF_TWO = "first_of_two"  # over budget: recorded as the first approval, the request stays pending
    SAME_APPROVER = "same_approver"  # over budget, and the first approver again: it does not count


def count_approval(request: Any, acting_user: Any, comment: str = "") -> Approval:
    """Count ``acting_user``'s approval of ``request`` (locks its estimate; audits a first of two)."""
    estimate = RequestEstimate.objects.select_for_update().filter(request=request).first()
    if estimate is None or not estimate.over_budget:
        return Approval.ENOUGH
    if estimate.first_approver_id is None:
        estimate.first_approver = acting_user
        estimate.save(update_fields=["first_approver"])
        audit.record(
            "request.first_approval",
            actor=acting_user,
            target=request,
            cost_center=request.cost_center,
            flow=request.catalog_flow,
            details={"reason": "over the cost center's monthly budget", "comment": comment},
        )
        return Approval.FIRST_OF_TWO
    if estimate.first_approver_id == acting_user.pk:
        return Approval.SAME_APPROVER
    return Approval.ENOUGH

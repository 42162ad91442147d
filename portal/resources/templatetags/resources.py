"""Cost and plan snippets other apps' pages include (request form, approval queue)."""

from __future__ import annotations

from typing import Any

from django import template

from .. import selectors, services
from ..models import ResourceAction

register = template.Library()


@register.inclusion_tag("resources/_estimate_slot.html")
def price_estimate(catalog_flow: Any) -> dict[str, Any]:
    """A live price box for flows that create a priced resource (nothing for other flows)."""
    kind = (catalog_flow.labels or {}).get(services.RESOURCE_LABEL)
    return {"catalog_flow": catalog_flow, "priced": kind is not None}


@register.inclusion_tag("resources/_request_cost.html")
def request_cost(request_obj: Any) -> dict[str, Any]:
    """What an approver weighs: estimated cost, Terraform plan, the cost center's month so far."""
    estimate = getattr(request_obj, "estimate", None)
    cost_center = request_obj.cost_center
    # A list page (the approval queue) computes it once per cost center for all its rows.
    month = getattr(request_obj, "month_to_date", None)
    return {
        "estimate": estimate,
        "month_to_date": selectors.month_to_date(cost_center) if month is None else month,
        "budget": getattr(cost_center, "monthly_budget", None),
        "cost_center": cost_center,
    }


@register.inclusion_tag("resources/_action_target.html")
def action_target(request_obj: Any) -> dict[str, Any]:
    """For a day-2 request: the resource it acts on (name, owner, IP, cost, link), from its record."""
    link = ResourceAction.objects.select_related("resource__owner").filter(request=request_obj).first()
    return {"link": link, "resource": link.resource if link is not None else None}

"""Reading resources: who sees what, month-to-date spend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from portal.accounts.roles import is_approver

from . import pricing
from .models import Resource


def my_resources(user: Any) -> QuerySet[Resource]:
    return Resource.objects.filter(owner=user).select_related("cost_center", "request")


def visible_resources(user: Any) -> QuerySet[Resource]:
    """Approvers and staff see every resource; others their own."""
    qs = Resource.objects.select_related("cost_center", "owner", "request")
    if is_approver(user) or user.is_staff:
        return qs
    return qs.filter(owner=user)


def month_to_date(cost_center: Any) -> Decimal:
    """What ``cost_center`` has accrued this month across its resources (live or destroyed this month)."""
    start = pricing.month_start()
    resources = Resource.objects.filter(cost_center=cost_center).filter(
        Q(destroyed_at__isnull=True) | Q(destroyed_at__gte=start)
    )
    return pricing.accrued(resources)

"""Reading resources: who sees what, month-to-date spend."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from portal.accounts import visibility
from portal.audit.models import AuditEvent
from portal.requests.models import ResourceRequest

from . import pricing
from .models import LIVE_STATES, Resource


def my_resources(user: Any) -> QuerySet[Resource]:
    return Resource.objects.filter(owner=user).select_related("cost_center", "request")


def visible_resources(user: Any) -> QuerySet[Resource]:
    """Resources ``user`` may see (``accounts.visibility``: overseers all, everyone else their own)."""
    qs = Resource.objects.select_related("cost_center", "owner", "request")
    return visibility.visible(qs, user, owner="owner", cost_center="cost_center")


def get_visible_resource(user: Any, pk: int) -> Resource:
    """404 (not 403) for a resource the user may not see: its existence is not theirs to know."""
    qs = Resource.objects.select_related("cost_center", "owner", "request__catalog_flow")
    return visibility.get_visible_or_404(qs, user, owner="owner", pk=pk, what="resource")


def resource_requests(resource: Resource) -> list[ResourceRequest]:
    """The request that created ``resource``, then every day-2 request naming it, newest first.

    Day-2 requests are tied to the resource by ``ResourceAction`` (written by ``services``, never from
    form data).
    """
    day_two = (
        ResourceRequest.objects.filter(resource_action__resource=resource)
        .exclude(pk=resource.request_id)
        .select_related("catalog_flow", "requester", "execution")
        .order_by("-created", "-id")
    )
    creating = ResourceRequest.objects.select_related("catalog_flow", "requester", "execution").get(
        pk=resource.request_id
    )
    return [*day_two, creating]


def resource_events(resource: Resource) -> QuerySet[AuditEvent]:
    """Audit events whose target is ``resource``, oldest first (the story of the resource)."""
    return (
        AuditEvent.objects.filter(target_type=Resource._meta.label_lower, target_id=str(resource.pk))
        .select_related("actor")
        .order_by("id")
    )


def month_to_date(cost_center: Any) -> Decimal:
    """What ``cost_center`` has accrued this month across its resources (live or destroyed this month)."""
    return month_to_date_by_cost_center([cost_center.pk])[cost_center.pk]


def month_to_date_by_cost_center(cost_center_ids: Iterable[int]) -> dict[int, Decimal]:
    """``month_to_date`` of several cost centers in one query (a page of the approval queue).

    Only what ``pricing.accrued`` reads is fetched, as plain rows; a free resource accrues nothing.
    """
    ids = set(cost_center_ids)
    start = pricing.month_start()
    rows = (
        Resource.objects.filter(cost_center_id__in=ids, hourly_cost__gt=0)
        .filter(Q(destroyed_at__isnull=True) | Q(destroyed_at__gte=start))
        .order_by()
        .values_list("cost_center_id", "created", "destroyed_at", "hourly_cost", "monthly_cost", named=True)
    )
    by_center: dict[int, list[Any]] = {pk: [] for pk in ids}
    for row in rows:
        by_center[row.cost_center_id].append(row)
    return {pk: pricing.accrued(resources) for pk, resources in by_center.items()}


def live_resource_named(kind: str, name: str) -> Resource | None:
    """A live resource of ``kind`` already called ``name`` (server names are unique among live ones)."""
    return Resource.objects.filter(kind=kind, name=name, state__in=LIVE_STATES).first()

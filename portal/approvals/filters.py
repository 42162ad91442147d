"""Filters of the approval queue: cost center, flow, and how long a request has waited."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from portal.accounts.models import CostCenter
from portal.catalog.models import CatalogFlow
from portal.lists.filters import IdFilter, ListFilterSet, SearchFilter

# ``age`` values: waiting at least this long.
AGES = {
    "1h": ("over an hour", timedelta(hours=1)),
    "1d": ("over a day", timedelta(days=1)),
    "3d": ("over 3 days", timedelta(days=3)),
    "7d": ("over a week", timedelta(days=7)),
}


class QueueFilter(ListFilterSet):
    q = SearchFilter(
        fields=("catalog_flow__flow_id", "catalog_flow__namespace", "requester__username"), by_id=True
    )
    cost_center = IdFilter(field_name="cost_center_id", label="Cost center")
    flow = IdFilter(field_name="catalog_flow_id", label="Flow")
    age = django_filters.ChoiceFilter(
        label="Waiting",
        choices=[(key, text) for key, (text, _) in AGES.items()],
        empty_label="Any time",
        method="filter_age",
    )

    def setup(self) -> None:
        # Choices from the queue itself: only the cost centers and flows someone waits on here.
        pending = self.queryset.order_by()
        centers = CostCenter.objects.filter(pk__in=pending.values("cost_center_id")).order_by("code")
        self.set_choices("cost_center", [(c.pk, f"{c.code} · {c.name}") for c in centers])
        flows = CatalogFlow.objects.filter(pk__in=pending.values("catalog_flow_id"))
        self.set_choices("flow", [(f.pk, str(f)) for f in flows.order_by("namespace", "flow_id")])

    def filter_age(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(created__lte=timezone.now() - AGES[value][1])

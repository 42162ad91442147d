"""Filters of the requests list ("My requests", and everyone's for overseers)."""

from __future__ import annotations

import django_filters
from django.db.models.fields.json import KeyTextTransform

from portal.catalog.models import CatalogFlow
from portal.lists.filters import IdFilter, ListFilterSet, SearchFilter, SinceFilter, UntilFilter

from .models import RequestState


class RequestFilter(ListFilterSet):
    q = SearchFilter(
        fields=("catalog_flow__flow_id", "catalog_flow__namespace", "requester__username"),
        expressions={"flow_title": KeyTextTransform("portico.title", "catalog_flow__labels")},
        by_id=True,
        help_text="Request number, flow or requester",
    )
    state = django_filters.ChoiceFilter(label="State", choices=RequestState.choices, empty_label="Any")
    flow = IdFilter(field_name="catalog_flow_id", label="Flow")
    since = SinceFilter("created", label="Submitted from")
    until = UntilFilter("created", label="Submitted to")

    def setup(self) -> None:
        # Only the flows the list holds: a select of the whole catalog would tell nothing and weigh much.
        flows = CatalogFlow.objects.filter(pk__in=self.queryset.order_by().values("catalog_flow_id"))
        self.set_choices("flow", [(f.pk, str(f)) for f in flows.order_by("namespace", "flow_id")])
